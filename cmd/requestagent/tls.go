package main

import (
	"github.com/urfave/cli/v2"

	"github.com/requestagent/requestagent/agent"
)

// The IIOP-over-TLS flags (docs/deploying.md, "TLS"; agent.TLSConfig).

// tlsFlags are the serving flags of TLS and client identities.
func tlsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tls-listen", EnvVars: env("tls-listen"),
			Usage: "TCP address to serve IIOP over TLS on (TLS 1.2+); references then carry TAG_SSL_SEC_TRANS with its port (default: no TLS)"},
		&cli.BoolFlag{Name: "tls-only", EnvVars: env("tls-only"),
			Usage: "serve TLS alone: no plain --listen port, and references carry port 0 beside the TLS one, as omniORB's with only giop:ssl"},
		&cli.PathFlag{Name: "tls-cert", EnvVars: env("tls-cert"), Usage: "the agent's certificate chain (PEM) for --tls-listen; reread on SIGHUP"},
		&cli.PathFlag{Name: "tls-key", EnvVars: env("tls-key"), Usage: "the key (PEM) of --tls-cert; reread on SIGHUP"},
		&cli.PathFlag{Name: "tls-ca", EnvVars: env("tls-ca"), Usage: "CA bundle (PEM) client certificates are verified against; reread on SIGHUP"},
		&cli.StringFlag{Name: "tls-client-auth", Value: string(agent.ClientAuthNone), EnvVars: env("tls-client-auth"),
			Usage: "client certificates: none, request (verified when given) or require (mutual TLS: refused without one that verifies)"},
		&cli.BoolFlag{Name: "bind-identity", EnvVars: env("bind-identity"),
			Usage: "bind proxies and requests to the TLS identity that created them: another identity, or none, holding their keys gets NO_PERMISSION"},
		&cli.PathFlag{Name: "tls-outbound-ca", EnvVars: env("tls-outbound-ca"),
			Usage: "trust store (PEM) for targets and recipients reached over TLS (default: the system's); reread on SIGHUP"},
		&cli.PathFlag{Name: "tls-outbound-cert", EnvVars: env("tls-outbound-cert"),
			Usage: "the certificate (PEM) the agent presents to targets and recipients that ask for one; reread on SIGHUP"},
		&cli.PathFlag{Name: "tls-outbound-key", EnvVars: env("tls-outbound-key"), Usage: "the key (PEM) of --tls-outbound-cert"},
	}
}

// tlsConfig reads the TLS flags.
func tlsConfig(c *cli.Context) agent.TLSConfig {
	return agent.TLSConfig{Listen: c.String("tls-listen"), Only: c.Bool("tls-only"),
		CertFile: c.Path("tls-cert"), KeyFile: c.Path("tls-key"), CAFile: c.Path("tls-ca"),
		ClientAuth: agent.ClientAuth(c.String("tls-client-auth")), BindIdentity: c.Bool("bind-identity"),
		OutboundCAFile: c.Path("tls-outbound-ca"), OutboundCertFile: c.Path("tls-outbound-cert"),
		OutboundKeyFile: c.Path("tls-outbound-key")}
}

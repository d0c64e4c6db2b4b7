package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/requestagent/requestagent/admin"
	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/recipient"
	"github.com/requestagent/requestagent/storage"
)

// The flags (docs/configuration.md). Every flag has a kebab-case name and
// an environment variable REQUESTAGENT_<NAME>; the six that VisiBroker
// names as request agent properties also answer to VisiBroker's name
// (--maxThreads, --maxQueueSize, --blockingTimeout, --WaitReply,
// --ReplyDropping, --RequestManualTrash), which properties files and -D
// arguments use too. Flags may stand before or after a command.

// visiBrokerNames are the flags VisiBroker has property names for: its
// queue settings, and the flags of the default properties it has
// (propertyFlags).
var visiBrokerNames = func() map[string]string {
	names := map[string]string{"max-threads": "maxThreads", "max-queue-size": "maxQueueSize",
		"blocking-timeout": "blockingTimeout"}
	for _, def := range defaultProperties() {
		if def.VisiBroker {
			names[kebab(def.Name)] = def.Name
		}
	}
	return names
}()

// defaultProperties are the properties of nmproto's table that the agent
// has a default of, which a flag sets: those a proxy or request keeps.
func defaultProperties() []nmproto.PropertyDef {
	var defs []nmproto.PropertyDef
	for _, def := range nmproto.PropertyTable() {
		if !def.OnCreation {
			defs = append(defs, def)
		}
	}
	return defs
}

// propertyFlags are the flags of the agent's default properties, made
// from nmproto's table so that a property added there has its flag: the
// kebab-case name (--wait-reply), the property's own name as an alias
// (--WaitReply, and so in properties files and -D arguments), and its
// table line as usage.
func propertyFlags() []cli.Flag {
	var flags []cli.Flag
	for _, def := range defaultProperties() {
		name := kebab(def.Name)
		usage := "default " + def.Name + " of new " + scopeNoun(def.Scope) + ": " + def.Doc
		if def.VisiBroker {
			usage = vbName(def.Name, usage)
		}
		switch def.Kind {
		case giop.TkBoolean:
			flags = append(flags, &cli.BoolFlag{Name: name, Aliases: []string{def.Name}, Value: def.Default.(bool),
				EnvVars: env(name), Usage: usage})
		case giop.TkOctet:
			flags = append(flags, &cli.UintFlag{Name: name, Aliases: []string{def.Name}, Value: uint(def.Default.(byte)),
				EnvVars: env(name), Usage: usage})
		default:
			panic("requestagent: no flag for a property of kind " + def.Kind.String())
		}
	}
	return flags
}

// scopeNoun says what a property of scope s is the default of.
func scopeNoun(s nmproto.Scope) string {
	switch s {
	case nmproto.ScopeProxy:
		return "proxies"
	case nmproto.ScopeRequest:
		return "requests"
	}
	return "proxies and requests"
}

// defaultsFromFlags reads the agent's default properties from their
// flags, each checked as create_request_proxy checks it.
func defaultsFromFlags(c *cli.Context) (agent.Properties, error) {
	var defaults agent.Properties
	for _, def := range defaultProperties() {
		name := kebab(def.Name)
		var v any
		switch def.Kind {
		case giop.TkBoolean:
			v = c.Bool(name)
		case giop.TkOctet:
			u := c.Uint(name)
			if u > 0xFF {
				return agent.Properties{}, badFlag(name, fmt.Sprintf("%d: must be an octet (0x00 to 0xff)", u))
			}
			v = byte(u)
		}
		var err error
		if defaults, err = defaults.Apply([]agent.Property{{Name: def.Name, Value: def.Any(v)}}, nmproto.ScopeBoth); err != nil {
			return agent.Properties{}, badFlag(name, err)
		}
	}
	return defaults, nil
}

// vbName marks a flag's usage with the VisiBroker property name it takes.
func vbName(name, usage string) string {
	return usage + " [VisiBroker: " + name + "]"
}

// env is a flag's environment variable.
func env(name string) []string {
	return []string{"REQUESTAGENT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

// Flags shared by the serving agent and the commands that talk to it.
var (
	listenFlag = &cli.StringFlag{Name: "listen", Value: fmt.Sprintf(":%d", agent.DefaultPort), EnvVars: env("listen"),
		Usage: "TCP address to serve GIOP on (default: every interface)"}
	hostFlag = &cli.StringFlag{Name: "host", EnvVars: env("host"),
		Usage: "addresses to publish in references, host[:port],... (default: the listening address, or the host's first non-loopback address, as omniORB publishes); keep them stable"}
	dataDirFlag = &cli.StringFlag{Name: "data-dir", Value: defaultDataDir(), EnvVars: env("data-dir"),
		Usage: "where requests and replies are stored (default: $STATE_DIRECTORY under systemd, /var/lib/requestagent as root, else ~/.local/share/requestagent)"}
	adminFlag = &cli.StringFlag{Name: "admin", Value: admin.DefaultListen, EnvVars: env("admin"),
		Usage: "the admin listener's address (metrics, health, admin API); loopback unless --admin-public"}
	tokenFlag = &cli.StringFlag{Name: "admin-token-file", EnvVars: env("admin-token-file"),
		Usage: "the bearer token the admin API's /v1 and /debug need (default: admin.token in --data-dir, made at first start)"}
	jsonFlag  = &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts instead of a table"}
	limitFlag = &cli.IntFlag{Name: "limit", Value: agent.DefaultPageSize, Usage: "list at most this many (then say how many there are)"}
)

// adminFlags are the flags of the commands that talk to a running agent.
func adminFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{adminFlag, dataDirFlag, tokenFlag}, extra...)
}

// serveFlags are the flags of the agent itself.
func serveFlags() []cli.Flag {
	flags := []cli.Flag{
		listenFlag,
		hostFlag,
		dataDirFlag,
		&cli.BoolFlag{Name: "durable", Value: true, EnvVars: env("durable"),
			Usage: "flush each group commit to disk before acknowledging; --durable=false turns it off, risking the last moments on power failure"},
		&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: env("log-level"), Usage: "trace, debug, info, warn or error"},
		&cli.DurationFlag{Name: "shutdown-grace", Value: 10 * time.Second, EnvVars: env("shutdown-grace"),
			Usage: "how long SIGTERM waits for requests in progress (a second signal ends it; the store still closes)"},
		&cli.StringSliceFlag{Name: "idl", EnvVars: env("idl"),
			Usage: "IDL files or directories of target interfaces (suppressed premature returns, transcoding, decoding); repeatable"},
		&cli.StringSliceFlag{Name: "idl-include", Aliases: []string{"I"}, EnvVars: env("idl-include"),
			Usage: "directories searched for #include in IDL files"},
		&cli.PathFlag{Name: "properties", EnvVars: env("properties"),
			Usage: "a Java .properties file of agent properties: vbroker.requestagent.maxThreads=4, or any flag's name; other vbroker.* keys are ignored; flags, environment and -Dname=value arguments win over it"},
		&cli.StringFlag{Name: "repository-id-prefix", EnvVars: env("repository-id-prefix"),
			Usage: "the #pragma prefix of the NativeMessaging IDL your applications were compiled with; _is_a answers with and without it"},
		&cli.StringFlag{Name: "invalid-property-scope", Value: "module", EnvVars: env("invalid-property-scope"),
			Usage: "where that IDL declares InvalidProperty: module (NativeMessaging::InvalidProperty) or RequestAgentEx"},

		&cli.IntFlag{Name: "max-threads", Aliases: []string{"maxThreads"}, Value: agent.DefaultMaxThreads, EnvVars: env("max-threads"),
			Usage: vbName("maxThreads", "delegations running at once, in all; 0 = unlimited")},
		&cli.IntFlag{Name: "max-queue-size", Aliases: []string{"maxQueueSize"}, Value: agent.DefaultMaxQueueSize, EnvVars: env("max-queue-size"),
			Usage: vbName("maxQueueSize", "requests waiting for a delegation thread, in all; 0 = unlimited")},
		&cli.StringFlag{Name: "blocking-timeout", Aliases: []string{"blockingTimeout"}, Value: "0", EnvVars: env("blocking-timeout"),
			Usage: vbName("blockingTimeout", "how long a new request may wait for queue room before IMP_LIMIT: milliseconds (VisiBroker's unit) or a duration such as 2s; 0 = no wait")},
		&cli.IntFlag{Name: "max-threads-per-target", Value: agent.DefaultMaxThreadsPerTarget, EnvVars: env("max-threads-per-target"),
			Usage: "delegations running at once to one target address (never above max-threads); 0 = unlimited"},
		&cli.IntFlag{Name: "max-queue-per-target", Value: agent.DefaultMaxQueuePerTarget, EnvVars: env("max-queue-per-target"),
			Usage: "requests waiting for a thread to one target address (never above max-queue-size); 0 = unlimited"},
	}
	flags = append(flags, propertyFlags()...)
	flags = append(flags, []cli.Flag{
		&cli.IntFlag{Name: "max-message-size", Value: giop.DefaultMaxMessageSize, EnvVars: env("max-message-size"),
			Usage: "largest GIOP message accepted, bytes (omniORB's default is 2 MiB too)"},
		&cli.IntFlag{Name: "max-connections", Value: giop.DefaultMaxConnections, EnvVars: env("max-connections"),
			Usage: "inbound GIOP connections open at most; more are closed at once"},
		&cli.DurationFlag{Name: "connect-retry-budget", Value: agent.DefaultConnectRetryBudget, EnvVars: env("connect-retry-budget"),
			Usage: "how long an unreachable target is retried before TRANSIENT"},
		&cli.DurationFlag{Name: "delegation-timeout", Value: agent.DefaultDelegationTimeout, EnvVars: env("delegation-timeout"),
			Usage: "how long a sent request may wait for its target before the result is TIMEOUT (completed MAYBE)"},
		&cli.DurationFlag{Name: "recipient-retry-budget", Value: recipient.DefaultRetryBudget, EnvVars: env("recipient-retry-budget"),
			Usage: "how long a failing callback is retried before the reply is left for polling"},
		&cli.IntFlag{Name: "callbacks-per-recipient", Value: recipient.DefaultPerRecipient, EnvVars: env("callbacks-per-recipient"),
			Usage: "reply_available calls to one recipient at once (they start in reply order; 1 is strictly serial)"},
		&cli.IntFlag{Name: "max-callbacks", Value: recipient.DefaultMaxInFlight, EnvVars: env("max-callbacks"),
			Usage: "reply_available calls running at once, in all"},
		&cli.Int64Flag{Name: "max-store-bytes", Value: agent.DefaultMaxStoreBytes, EnvVars: env("max-store-bytes"),
			Usage: "over this store size new requests and proxies get IMP_LIMIT (nothing stored is dropped); 0 = no limit"},
		&cli.Int64Flag{Name: "memory-limit", EnvVars: env("memory-limit"),
			Usage: "Go's soft memory limit in bytes (0 = --max-index-bytes + the GIOP budgets for bytes read and queued + 512 MiB; -1 = none; GOMEMLIMIT overrides)"},
		&cli.Int64Flag{Name: "store-reserve", Value: storage.DefaultDiskReserve, EnvVars: env("store-reserve"),
			Usage: "free bytes on the data directory's filesystem, above the floor, that only work already accepted may use: below it new requests and proxies get IMP_LIMIT (0 = the default)"},
		&cli.Int64Flag{Name: "store-floor", EnvVars: env("store-floor"),
			Usage: "free bytes below which nothing is written (0 = three memtables plus 8 MiB, grown by the largest compaction; -1 = no disk checks)"},
		&cli.BoolFlag{Name: "force-recover", EnvVars: env("force-recover"),
			Usage: "open a damaged store anyway, cutting what cannot be read and logging each loss (after a refusal naming the damage; see docs/deploying.md)"},
		&cli.BoolFlag{Name: "skip-table-check", EnvVars: env("skip-table-check"),
			Usage: "do not verify every table's checksums at start (faster start on a large store; damage in a table then reads wrong)"},
		&cli.Int64Flag{Name: "max-index-bytes", Value: agent.DefaultMaxIndexBytes, EnvVars: env("max-index-bytes"),
			Usage: "memory all live requests may hold (records, tags, cookies; never bodies); beyond it new requests get IMP_LIMIT; 0 = no limit"},
		&cli.IntFlag{Name: "max-reference-bytes", Value: agent.DefaultMaxReferenceBytes, EnvVars: env("max-reference-bytes"),
			Usage: "largest target or recipient reference a proxy or request may name"},
		&cli.IntFlag{Name: "max-cookie-bytes", Value: agent.DefaultMaxCookieBytes, EnvVars: env("max-cookie-bytes"),
			Usage: "largest cookie a request may carry (at most 65536)"},
		&cli.IntFlag{Name: "max-tag-bytes", Value: agent.DefaultMaxTagBytes, EnvVars: env("max-tag-bytes"),
			Usage: "largest request tag (at most 1024)"},
		&cli.IntFlag{Name: "max-waiting", Value: agent.DefaultMaxWaiting, EnvVars: env("max-waiting"),
			Usage: "polls and pulls that may block waiting at once, in all; more get IMP_LIMIT"},
		&cli.DurationFlag{Name: "reply-retention", EnvVars: env("reply-retention"),
			Usage: "how long an unread reply is kept; 0 = for ever"},
		&cli.StringSliceFlag{Name: "allow-target", EnvVars: env("allow-target"),
			Usage: "addresses the agent may call for its clients (targets, recipients, forwards): IP or CIDR, optionally :port or :lo-hi, IPv6 in brackets with a port ([2001:db8::/32]:443); repeatable or comma-separated; with none, every address not denied (docs/deploying.md)"},
		&cli.StringSliceFlag{Name: "deny-target", EnvVars: env("deny-target"),
			Usage: "addresses the agent never calls, in the syntax of --allow-target; deny wins over allow. The agent's own addresses are always refused"},
		&cli.DurationFlag{Name: "created-retention", Value: agent.DefaultCreatedRetention, EnvVars: env("created-retention"),
			Usage: "how long a create_request request may stay uninvoked; 0 = for ever"},

		adminFlag,
		tokenFlag,
		&cli.BoolFlag{Name: "admin-public", EnvVars: env("admin-public"),
			Usage: "let --admin listen beyond loopback, for a remote Prometheus: /metrics, /healthz and /readyz answer anyone, /v1 and /debug still need the token"},
		&cli.BoolFlag{Name: "pprof", EnvVars: env("pprof"), Usage: "serve /debug/pprof on the admin listener (with the token)"},
		&cli.PathFlag{Name: "ior-file", EnvVars: env("ior-file"), Usage: "write the agent's IOR to this file at start"},
		&cli.StringFlag{Name: "naming", EnvVars: env("naming"),
			Usage: "register the agent in this CORBA naming service (corbaloc or IOR of a NamingContext, e.g. corbaloc::host:2809/NameService)"},
		&cli.StringFlag{Name: "naming-name", Value: "RequestAgent", EnvVars: env("naming-name"),
			Usage: "the name to register under (a/b.kind syntax; missing contexts are made)"},
	}...)
	flags = append(flags, clusterFlags()...)
	return append(flags, tlsFlags()...)
}

// flagString is a string flag's value wherever it was written: on the
// command or before it (requestagent --admin X requests), the innermost
// one that was set, else the default.
func flagString(c *cli.Context, name string) string {
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && hasFlag(ctx, name) && ctx.IsSet(name) {
			return ctx.String(name)
		}
	}
	return c.String(name)
}

func hasFlag(c *cli.Context, name string) bool {
	var flags []cli.Flag
	if c.Command != nil && c.Command.Name != "" {
		flags = c.Command.Flags
	} else if c.App != nil {
		flags = c.App.Flags
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// findFlag returns the serving flag a property names: a flag name or
// alias (VisiBroker's maxThreads, ...), or the kebab-case form of a
// camelCase name (maxMessageSize is max-message-size).
func findFlag(c *cli.Context, name string) (cli.Flag, string) {
	for _, try := range []string{name, kebab(name)} {
		for _, f := range c.App.Flags {
			for _, n := range f.Names() {
				if n == try {
					return f, f.Names()[0]
				}
			}
		}
	}
	return nil, ""
}

// kebab turns camelCase into kebab-case.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// parseMillis reads VisiBroker's milliseconds, or a Go duration.
func parseMillis(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%d: must not be negative", n)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q: milliseconds or a duration such as 2s", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: must not be negative", s)
	}
	return d, nil
}

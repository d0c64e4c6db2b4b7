package main

import (
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/configerr"
	"github.com/requestagent/requestagent/storage"
)

// agentConfig turns the flags, their environment variables, -D arguments
// and the properties file into the agent's configuration, validated once;
// each bad value is a one-line error naming its setting (exit code 2).
func agentConfig(c *cli.Context, log zerolog.Logger) (agent.Config, error) {
	if defs, _ := c.App.Metadata[definesKey].(map[string]string); len(defs) > 0 {
		if err := applyProperties(c, defs, "-D", log); err != nil {
			return agent.Config{}, err
		}
	}
	if path := c.Path("properties"); path != "" {
		props, err := readPropertiesFile(path)
		if err != nil {
			return agent.Config{}, badFlag("properties", err)
		}
		if err := applyProperties(c, props, path, log); err != nil {
			return agent.Config{}, err
		}
	}
	ifaces, err := loadIDL(c.StringSlice("idl"), c.StringSlice("idl-include"), log)
	if err != nil {
		return agent.Config{}, cli.Exit(err.Error(), 2)
	}
	defaults, err := defaultsFromFlags(c)
	if err != nil {
		return agent.Config{}, err
	}
	// VisiBroker's queue properties: 0 is unlimited, which Config spells
	// as a negative bound (its zero takes the default).
	bounds := map[string]int{}
	for _, name := range []string{"max-threads", "max-queue-size", "max-threads-per-target", "max-queue-per-target"} {
		v := c.Int(name)
		if v < 0 {
			return agent.Config{}, badFlag(name, fmt.Sprintf("%d: must not be negative (0 is unlimited)", v))
		}
		if v == 0 {
			v = -1
		}
		bounds[name] = v
	}
	for _, name := range []string{"max-reference-bytes", "max-cookie-bytes", "max-tag-bytes", "max-waiting",
		"callbacks-per-recipient", "max-callbacks", "max-connections"} {
		if c.Int(name) <= 0 {
			return agent.Config{}, badFlag(name, fmt.Sprintf("%d: must be positive", c.Int(name)))
		}
	}
	// 0 is "no limit" for these, a negative bound in Config.
	noLimit := func(name string) (int64, error) {
		v := c.Int64(name)
		if v < 0 {
			return 0, badFlag(name, fmt.Sprintf("%d: must not be negative (0 is no limit)", v))
		}
		if v == 0 {
			v = -1
		}
		return v, nil
	}
	maxStore, err := noLimit("max-store-bytes")
	if err != nil {
		return agent.Config{}, err
	}
	maxIndex, err := noLimit("max-index-bytes")
	if err != nil {
		return agent.Config{}, err
	}
	if v := c.Int64("memory-limit"); v < -1 {
		return agent.Config{}, badFlag("memory-limit", fmt.Sprintf("%d: bytes, 0 for the default or -1 for none", v))
	}
	if v := c.Int64("store-reserve"); v < 0 {
		return agent.Config{}, badFlag("store-reserve", fmt.Sprintf("%d: must not be negative (--store-floor -1 turns the disk checks off)", v))
	}
	for _, name := range []string{"created-retention", "reply-retention", "connect-retry-budget", "delegation-timeout",
		"recipient-retry-budget", "shutdown-grace"} {
		if c.Duration(name) < 0 {
			return agent.Config{}, badFlag(name, fmt.Sprintf("%v: must not be negative", c.Duration(name)))
		}
	}
	createdRetention := c.Duration("created-retention")
	if createdRetention == 0 {
		createdRetention = -1
	}
	blocking, err := parseMillis(c.String("blocking-timeout"))
	if err != nil {
		return agent.Config{}, badFlag("blocking-timeout", err)
	}
	gcfg := giop.DefaultConfig()
	gcfg.MaxMessageSize = c.Int("max-message-size")
	gcfg.MaxConnections = c.Int("max-connections")
	// agent.Config.Validate checks it with the rest, below.
	cfg := agent.Config{
		Listen: c.String("listen"),
		Host:   c.String("host"),
		Store: storage.Config{Dir: c.String("data-dir"), Durable: c.Bool("durable"),
			DiskReserve: c.Int64("store-reserve"), DiskFloor: c.Int64("store-floor"),
			ForceRecover: c.Bool("force-recover"), SkipTableCheck: c.Bool("skip-table-check")},
		GIOP:                  gcfg,
		IDL:                   ifaces,
		MaxThreads:            bounds["max-threads"],
		MaxQueueSize:          bounds["max-queue-size"],
		MaxThreadsPerTarget:   bounds["max-threads-per-target"],
		MaxQueuePerTarget:     bounds["max-queue-per-target"],
		BlockingTimeout:       blocking,
		ConnectRetryBudget:    c.Duration("connect-retry-budget"),
		DelegationTimeout:     c.Duration("delegation-timeout"),
		RecipientRetryBudget:  c.Duration("recipient-retry-budget"),
		CallbacksPerRecipient: c.Int("callbacks-per-recipient"),
		MaxCallbacks:          c.Int("max-callbacks"),
		MaxStoreBytes:         maxStore,
		MaxIndexBytes:         maxIndex,
		MaxReferenceBytes:     c.Int("max-reference-bytes"),
		MaxCookieBytes:        c.Int("max-cookie-bytes"),
		MaxTagBytes:           c.Int("max-tag-bytes"),
		MaxWaiting:            c.Int("max-waiting"),
		ReplyRetention:        c.Duration("reply-retention"),
		CreatedRetention:      createdRetention,
		RepositoryIDPrefix:    c.String("repository-id-prefix"),
		InvalidPropertyScope:  c.String("invalid-property-scope"),
		TargetPolicy:          agent.TargetPolicy{Allow: c.StringSlice("allow-target"), Deny: c.StringSlice("deny-target")},
		TLS:                   tlsConfig(c),
		Defaults:              defaults,
		Logger:                log,
	}
	if err := cfg.Validate(); err != nil {
		return cfg, configError(err)
	}
	return cfg, nil
}

// configFlags names the flag that sets each Config field whose check can
// fail, for errors that speak the operator's language.
var configFlags = map[string]string{
	"Listen": "listen", "BlockingTimeout": "blocking-timeout", "MaxReferenceBytes": "max-reference-bytes",
	"MaxCookieBytes": "max-cookie-bytes", "MaxTagBytes": "max-tag-bytes", "MaxWaiting": "max-waiting",
	"ReplyRetention": "reply-retention", "RecipientRetryBudget": "recipient-retry-budget",
	"CallbacksPerRecipient": "callbacks-per-recipient", "MaxCallbacks": "max-callbacks",
	"DelegationTimeout": "delegation-timeout", "ConnectRetryBudget": "connect-retry-budget",
	"RepositoryIDPrefix":   "repository-id-prefix",
	"InvalidPropertyScope": "invalid-property-scope", "MaxMessageSize": "max-message-size",
	"MaxConnections": "max-connections", "Host": "host",
}

// configError turns a Config's validation error into one line naming the
// flag (exit 2); a field no flag sets keeps its own name.
func configError(err error) error {
	var f *configerr.Field
	if errors.As(err, &f) {
		if flag, ok := configFlags[f.Name]; ok {
			return badFlag(flag, f.Value+": "+f.Why)
		}
	}
	return cli.Exit(err.Error(), 2)
}

// Command requestagent runs the Native Messaging request agent, and talks
// to a running one (admin subcommands).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/requestagent/requestagent/admin"
	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/loadgen"
	"github.com/requestagent/requestagent/recipient"
	"github.com/requestagent/requestagent/storage"
)

func main() {
	// VisiBroker operators type -? for usage.
	for i, a := range os.Args {
		if a == "-?" {
			os.Args[i] = "--help"
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one stops at once.
		<-ctx.Done()
		stop()
	}()
	args, defines, err := takeDefines(os.Args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "requestagent:", err)
		os.Exit(2)
	}
	app := newApp()
	app.Metadata = map[string]any{definesKey: defines}
	if err := app.RunContext(ctx, args); err != nil {
		fmt.Fprintln(os.Stderr, "requestagent:", err)
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}

// badFlag is the one-line error of an invalid configuration: exit code 2,
// nothing started.
func badFlag(flag string, err any) error { return cli.Exit(fmt.Sprintf("--%s: %v", flag, err), 2) }

func newApp() *cli.App {
	adminFlag := &cli.StringFlag{Name: "admin", Value: admin.DefaultListen, EnvVars: []string{"REQUESTAGENT_ADMIN"},
		Usage: "the admin listener's loopback address (metrics, health, admin API)"}
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts instead of a table"}
	dataDirFlag := &cli.StringFlag{Name: "data-dir", Value: defaultDataDir(), EnvVars: []string{"REQUESTAGENT_DATA_DIR"},
		Usage: "where requests and replies are stored"}
	tokenFlag := &cli.StringFlag{Name: "admin-token-file", EnvVars: []string{"REQUESTAGENT_ADMIN_TOKEN_FILE"},
		Usage: "the bearer token the admin API's /v1 and /debug need (default: admin.token in --data-dir, made at first start)"}
	adminFlags := []cli.Flag{adminFlag, dataDirFlag, tokenFlag}
	limitFlag := &cli.IntFlag{Name: "limit", Value: agent.DefaultPageSize, Usage: "list at most this many (then say how many are left to see)"}
	listenFlag := &cli.StringFlag{Name: "listen", Value: fmt.Sprintf(":%d", agent.DefaultPort), EnvVars: []string{"REQUESTAGENT_LISTEN"},
		Usage: "TCP address to serve GIOP on"}
	hostFlag := &cli.StringFlag{Name: "host", EnvVars: []string{"REQUESTAGENT_HOST"},
		Usage: "host name to advertise in IORs (default: the listening address, or localhost); keep it stable"}
	return &cli.App{
		Name:    "requestagent",
		Usage:   "Native Messaging request agent for CORBA two-phase invocations",
		Version: version(),
		Flags: []cli.Flag{
			listenFlag,
			hostFlag,
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"REQUESTAGENT_LOG_LEVEL"},
				Usage: "trace, debug, info, warn or error"},
			&cli.DurationFlag{Name: "shutdown-grace", Value: 10 * time.Second, EnvVars: []string{"REQUESTAGENT_SHUTDOWN_GRACE"},
				Usage: "how long SIGTERM waits for requests in progress (a second signal stops at once)"},
			dataDirFlag,
			tokenFlag,
			&cli.BoolFlag{Name: "durable", Value: true, EnvVars: []string{"REQUESTAGENT_DURABLE"},
				Usage: "flush each group commit to disk before acknowledging (false risks the last moments on power failure)"},
			&cli.StringSliceFlag{Name: "idl", EnvVars: []string{"REQUESTAGENT_IDL"},
				Usage: "IDL files or directories of target interfaces (suppressed mode, transcoding, decoding); repeatable"},
			&cli.StringSliceFlag{Name: "idl-include", Aliases: []string{"I"}, EnvVars: []string{"REQUESTAGENT_IDL_INCLUDE"},
				Usage: "directories searched for #include in IDL files"},
			&cli.PathFlag{Name: "properties", EnvVars: []string{"REQUESTAGENT_PROPERTIES"},
				Usage: "a Java .properties file of agent properties by VisiBroker's names (vbroker.requestagent.maxThreads=4) or any flag's name; other vbroker.* keys are ignored; flags, environment and -Dname=value arguments win over it"},
			&cli.StringFlag{Name: "repository-id-prefix", EnvVars: []string{"REQUESTAGENT_REPOSITORY_ID_PREFIX"},
				Usage: "the #pragma prefix of the NativeMessaging IDL your applications were compiled with (VisiBroker's is unpublished); _is_a answers with and without it"},
			&cli.StringFlag{Name: "invalid-property-scope", Value: "module", EnvVars: []string{"REQUESTAGENT_INVALID_PROPERTY_SCOPE"},
				Usage: "where that IDL declares InvalidProperty: module (NativeMessaging::InvalidProperty) or RequestAgentEx"},
			&cli.IntFlag{Name: "maxThreads", Aliases: []string{"max-threads"}, EnvVars: []string{"REQUESTAGENT_MAX_THREADS"},
				Value: agent.DefaultMaxThreads, Usage: "delegations running at once, in all; 0 = unlimited"},
			&cli.IntFlag{Name: "maxQueueSize", Aliases: []string{"max-queue-size"}, EnvVars: []string{"REQUESTAGENT_MAX_QUEUE_SIZE"},
				Value: agent.DefaultMaxQueueSize, Usage: "requests waiting for a delegation thread, in all; 0 = unlimited"},
			&cli.IntFlag{Name: "max-threads-per-target", EnvVars: []string{"REQUESTAGENT_MAX_THREADS_PER_TARGET"},
				Value: agent.DefaultMaxThreadsPerTarget, Usage: "delegations running at once to one target address (never above maxThreads); 0 = unlimited"},
			&cli.IntFlag{Name: "max-queue-per-target", EnvVars: []string{"REQUESTAGENT_MAX_QUEUE_PER_TARGET"},
				Value: agent.DefaultMaxQueuePerTarget, Usage: "requests waiting for a thread to one target address (never above maxQueueSize); 0 = unlimited"},
			&cli.IntFlag{Name: "blockingTimeout", Aliases: []string{"blocking-timeout"}, EnvVars: []string{"REQUESTAGENT_BLOCKING_TIMEOUT"},
				Usage: "ms a new request may wait for queue room before IMP_LIMIT; 0 = no wait"},
			&cli.BoolFlag{Name: "WaitReply", EnvVars: []string{"REQUESTAGENT_WAIT_REPLY"},
				Usage: "default WaitReply of new proxies"},
			&cli.UintFlag{Name: "ReplyDropping", EnvVars: []string{"REQUESTAGENT_REPLY_DROPPING"},
				Usage: "default ReplyDropping of new proxies (0x01 normal, 0x02 user exceptions, 0x04 system exceptions)"},
			&cli.BoolFlag{Name: "RequestManualTrash", EnvVars: []string{"REQUESTAGENT_REQUEST_MANUAL_TRASH"},
				Usage: "default RequestManualTrash of new proxies and requests"},
			&cli.IntFlag{Name: "maxMessageSize", EnvVars: []string{"REQUESTAGENT_MAX_MESSAGE_SIZE"}, Value: 2 << 20,
				Usage: "largest GIOP message accepted, bytes (omniORB's default is 2 MiB too)"},
			&cli.IntFlag{Name: "maxConnections", EnvVars: []string{"REQUESTAGENT_MAX_CONNECTIONS"}, Value: 10000,
				Usage: "inbound GIOP connections kept open at most; more are closed at once"},
			&cli.DurationFlag{Name: "connectRetryBudget", EnvVars: []string{"REQUESTAGENT_CONNECT_RETRY_BUDGET"}, Value: agent.DefaultConnectRetryBudget,
				Usage: "how long an unreachable target is retried before TRANSIENT"},
			&cli.DurationFlag{Name: "delegationTimeout", EnvVars: []string{"REQUESTAGENT_DELEGATION_TIMEOUT"}, Value: agent.DefaultDelegationTimeout,
				Usage: "how long a sent request may wait for its target before the result is TIMEOUT (completed MAYBE)"},
			&cli.Int64Flag{Name: "maxStoreBytes", Aliases: []string{"max-store-bytes"}, EnvVars: []string{"REQUESTAGENT_MAX_STORE_BYTES"},
				Value: agent.DefaultMaxStoreBytes, Usage: "over this store size new requests and proxies get IMP_LIMIT (nothing stored is dropped); 0 = no limit"},
			&cli.Int64Flag{Name: "max-index-bytes", EnvVars: []string{"REQUESTAGENT_MAX_INDEX_BYTES"},
				Value: agent.DefaultMaxIndexBytes, Usage: "memory all live requests may hold (records, tags, cookies; never bodies); beyond it new requests get IMP_LIMIT; 0 = no limit"},
			&cli.IntFlag{Name: "max-reference-bytes", EnvVars: []string{"REQUESTAGENT_MAX_REFERENCE_BYTES"},
				Value: agent.DefaultMaxReferenceBytes, Usage: "largest target or recipient reference a proxy or request may name"},
			&cli.IntFlag{Name: "max-cookie-bytes", EnvVars: []string{"REQUESTAGENT_MAX_COOKIE_BYTES"},
				Value: agent.DefaultMaxCookieBytes, Usage: "largest cookie a request may carry (at most 65536)"},
			&cli.IntFlag{Name: "max-tag-bytes", EnvVars: []string{"REQUESTAGENT_MAX_TAG_BYTES"},
				Value: agent.DefaultMaxTagBytes, Usage: "largest request tag (at most 1024)"},
			&cli.IntFlag{Name: "max-waiting", EnvVars: []string{"REQUESTAGENT_MAX_WAITING"},
				Value: agent.DefaultMaxWaiting, Usage: "polls and pulls that may block waiting at once, in all; more get IMP_LIMIT"},
			&cli.DurationFlag{Name: "created-retention", EnvVars: []string{"REQUESTAGENT_CREATED_RETENTION"},
				Value: agent.DefaultCreatedRetention, Usage: "how long a create_request request may stay uninvoked; 0 = for ever"},
			&cli.DurationFlag{Name: "replyRetention", EnvVars: []string{"REQUESTAGENT_REPLY_RETENTION"},
				Usage: "how long an unread reply is kept; 0 = for ever"},
			&cli.IntFlag{Name: "callbacks-per-recipient", EnvVars: []string{"REQUESTAGENT_CALLBACKS_PER_RECIPIENT"},
				Value: recipient.DefaultPerRecipient, Usage: "reply_available calls to one recipient at once (they start in reply order; 1 is strictly serial)"},
			&cli.IntFlag{Name: "max-callbacks", EnvVars: []string{"REQUESTAGENT_MAX_CALLBACKS"},
				Value: recipient.DefaultMaxInFlight, Usage: "reply_available calls running at once, in all"},
			&cli.DurationFlag{Name: "recipientRetryBudget", EnvVars: []string{"REQUESTAGENT_RECIPIENT_RETRY_BUDGET"}, Value: 60 * time.Second,
				Usage: "how long a failing callback is retried before the reply is left for polling"},
			adminFlag,
			&cli.BoolFlag{Name: "pprof", EnvVars: []string{"REQUESTAGENT_PPROF"}, Usage: "serve /debug/pprof on the admin listener"},
			&cli.PathFlag{Name: "ior-file", EnvVars: []string{"REQUESTAGENT_IOR_FILE"}, Usage: "write the agent's IOR to this file at start"},
			&cli.StringFlag{Name: "naming", EnvVars: []string{"REQUESTAGENT_NAMING"},
				Usage: "register the agent in this CORBA naming service (corbaloc or IOR of a NamingContext, e.g. corbaloc::host:2809/NameService)"},
			&cli.StringFlag{Name: "naming-name", Value: "RequestAgent", EnvVars: []string{"REQUESTAGENT_NAMING_NAME"},
				Usage: "the name to register under (a/b.kind syntax)"},
		},
		Action: serve,
		Commands: []*cli.Command{
			{Name: "ior", Usage: "print the IOR and corbaloc of the agent these flags describe (no agent needed)",
				Flags: []cli.Flag{listenFlag, hostFlag},
				Action: func(c *cli.Context) error {
					ref, loc, err := agent.Reference(c.String("listen"), c.String("host"))
					if err != nil {
						return badFlag("listen", err)
					}
					fmt.Println(ref)
					fmt.Println(loc)
					return nil
				}},
			{Name: "bench", Usage: "load an agent and report calls/s and latency percentiles (without --agent, one runs in-process)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "agent", Usage: "the agent (corbaloc or IOR); empty: an in-process agent"},
					&cli.StringFlag{Name: "target", Usage: "the target's IOR (Demo::Echo); empty: an in-process echo target"},
					&cli.StringFlag{Name: "model", Value: loadgen.ModelWaitReply, Usage: "waitreply, 2pi, group, callback, or send (2PI sends timed to their durable acknowledgement, replies pulled afterwards)"},
					&cli.IntFlag{Name: "clients", Value: 16, Usage: "concurrent clients"},
					&cli.IntFlag{Name: "count", Usage: "calls in all (0: run for --duration)"},
					&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long to run when --count is 0"},
					&cli.IntFlag{Name: "size", Usage: "payload bytes (echoBlob); 0 calls echoString"},
					&cli.BoolFlag{Name: "durable", Value: true, Usage: "the in-process agent flushes each group commit"},
					&cli.BoolFlag{Name: "baseline", Value: true, Usage: "with a durable in-process agent, also measure raw batched durable Badger writes on the same disk, and compare"},
					&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of this process (clients and any in-process agent) during the calls to `FILE` (go tool pprof)"},
				},
				Action: func(c *cli.Context) error {
					dir, err := os.MkdirTemp("", "requestagent-bench")
					if err != nil {
						return err
					}
					defer os.RemoveAll(dir)
					stop, err := startCPUProfile(c.String("cpuprofile"))
					if err != nil {
						return badFlag("cpuprofile", err)
					}
					res, err := loadgen.Run(c.Context, loadgen.Config{Agent: c.String("agent"), Target: c.String("target"),
						Model: c.String("model"), Clients: c.Int("clients"), Count: c.Int("count"), Duration: c.Duration("duration"),
						Size: c.Int("size"), Durable: c.Bool("durable"), DataDir: dir}, os.Stdout)
					if perr := stop(); err == nil {
						err = perr
					}
					if err != nil {
						return err
					}
					fmt.Println(res)
					if c.String("agent") == "" && c.Bool("durable") && c.Bool("baseline") {
						raw, err := storage.RawWriteRate(filepath.Join(dir, "baseline"), c.Int("clients"), 20000, 256)
						if err != nil {
							return err
						}
						rawClients, err := storage.RawClientWriteRate(filepath.Join(dir, "baseline-clients"), c.Int("clients"), 20000, 256)
						if err != nil {
							return err
						}
						fmt.Printf("baseline: raw batched durable Badger writes on this disk: %.0f records/s from %d clients (this run: %.3f of it); %.0f records/s in full transactions of %d (this run: %.3f of it)\n",
							rawClients, c.Int("clients"), res.PerSecond/rawClients, raw, c.Int("clients"), res.PerSecond/raw)
					}
					return nil
				}},
			{Name: "proxies", Usage: "list a running agent's request proxies", Flags: append(adminFlags, jsonFlag, limitFlag),
				Action: func(c *cli.Context) error { return listProxies(c) }},
			{Name: "requests", Usage: "list a running agent's requests, with state and age",
				Flags: append(adminFlags, jsonFlag, limitFlag,
					&cli.StringFlag{Name: "state", Usage: "only requests in this state (created, queued, delegating, replied, delivered)"},
					&cli.StringFlag{Name: "proxy", Usage: "only the requests of this proxy (its id)"},
					&cli.StringFlag{Name: "group", Usage: "only the requests of this create_request polling group"},
					&cli.DurationFlag{Name: "older-than", Usage: "only requests at least this old"}),
				Action: func(c *cli.Context) error { return listRequests(c) }},
			{Name: "show", Usage: "show one request, its arguments and reply decoded through the IDL", ArgsUsage: "REQUEST-ID",
				Flags: append(adminFlags, jsonFlag), Action: func(c *cli.Context) error { return showRequest(c) }},
			{Name: "trash", Usage: "trash one request", ArgsUsage: "REQUEST-ID", Flags: adminFlags,
				Action: func(c *cli.Context) error { return trashRequest(c) }},
			{Name: "destroy", Usage: "destroy one proxy and its requests (as RequestProxy::destroy(TRUE))", ArgsUsage: "PROXY-ID",
				Flags: adminFlags, Action: func(c *cli.Context) error { return destroyProxy(c) }},
			{Name: "recipients", Usage: "list recipients whose callbacks are failing", Flags: append(adminFlags, jsonFlag),
				Action: func(c *cli.Context) error { return listRecipients(c) },
				Subcommands: []*cli.Command{{Name: "retry", ArgsUsage: "[HOST:PORT]",
					Usage: "try again the callbacks given up for the recipients at HOST:PORT (all when none is named)",
					Flags: adminFlags, Action: func(c *cli.Context) error { return retryRecipients(c) }}}},
		},
	}
}

func newLogger(level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Logger{}, badFlag("log-level", err)
	}
	w := zerolog.New(os.Stderr)
	if term.IsTerminal(int(os.Stderr.Fd())) {
		w = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly})
	}
	return w.Level(lvl).With().Timestamp().Logger(), nil
}

func serve(c *cli.Context) error {
	if c.NArg() > 0 {
		// Not a subcommand: "requestagent serve --help" must not start an agent.
		return cli.Exit(fmt.Sprintf("requestagent: unknown command %q (see requestagent --help)", c.Args().First()), 2)
	}
	log, err := newLogger(c.String("log-level"))
	if err != nil {
		return err
	}
	cfg, err := agentConfig(c, log)
	if err != nil {
		return err
	}
	adminCfg := admin.Config{Listen: c.String("admin"), TokenFile: tokenFile(c), Pprof: c.Bool("pprof"), Logger: log}
	if err := adminCfg.Validate(); err != nil {
		return badFlag("admin", err)
	}
	if err := os.MkdirAll(cfg.Store.Dir, 0o750); err != nil {
		return badFlag("data-dir", err)
	}
	log.Info().Str("data_dir", cfg.Store.Dir).Msg("requestagent: store")
	a, err := agent.Start(cfg)
	if err != nil {
		if errors.Is(err, agent.ErrBadConfig) {
			return cli.Exit(err.Error(), 2)
		}
		return err
	}
	adm, err := admin.Start(adminCfg, a)
	if err != nil {
		a.Close()
		return err
	}
	if loc := c.String("naming"); loc != "" {
		if err := registerName(c.Context, a, loc, c.String("naming-name")); err != nil {
			adm.Shutdown(context.Background())
			a.Close()
			return err
		}
	}
	if path := c.Path("ior-file"); path != "" {
		if err := os.WriteFile(path, []byte(a.IOR().String()+"\n"), 0o644); err != nil {
			log.Error().Err(err).Str("ior_file", path).Msg("requestagent: cannot write the IOR file")
		}
	}
	select {
	case <-c.Context.Done():
		log.Info().Msg("requestagent: shutting down (a second signal stops at once)")
	case <-a.Failed():
		log.Error().Err(a.Healthy()).Msg("requestagent: shutting down: the agent cannot serve")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-grace"))
	defer cancel()
	err = a.Shutdown(ctx)
	adm.Shutdown(ctx)
	if failure := a.Healthy(); failure != nil {
		return cli.Exit("requestagent: "+failure.Error(), 1)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	log.Info().Msg("requestagent: stopped")
	return nil
}

// registerName binds the agent in the naming service at ref (corbaloc or IOR).
func registerName(ctx context.Context, a *agent.Agent, ref, name string) error {
	var ctxRef *giop.IOR
	if loc, err := giop.ParseCorbaloc(ref); err == nil {
		ctxRef = loc.IOR("IDL:omg.org/CosNaming/NamingContext:1.0")
	} else if ior, err := giop.ParseIOR(ref); err == nil {
		ctxRef = ior
	} else {
		return badFlag("naming", fmt.Sprintf("%q is neither a corbaloc URL nor an IOR", ref))
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return a.RegisterName(rctx, ctxRef, name)
}

// agentConfig turns flags, environment and the properties file into the
// agent's configuration; each bad value is a one-line error naming it.
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
	ifaces, err := loadIDL(c.StringSlice("idl"), c.StringSlice("idl-include"))
	if err != nil {
		return agent.Config{}, cli.Exit(err.Error(), 2)
	}
	if c.Uint("ReplyDropping") > 0xFF {
		return agent.Config{}, badFlag("ReplyDropping", "must be an octet")
	}
	// VisiBroker's queue properties: 0 is unlimited, which Config spells
	// as a negative bound (its zero takes the default).
	bounds := map[string]int{}
	for _, name := range []string{"maxThreads", "maxQueueSize", "max-threads-per-target", "max-queue-per-target"} {
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
		"callbacks-per-recipient", "max-callbacks"} {
		if c.Int(name) <= 0 {
			return agent.Config{}, badFlag(name, "must be positive")
		}
	}
	// 0 is "no limit" for these, a negative bound in Config.
	noLimit := func(name string) (int64, error) {
		v := c.Int64(name)
		if v < 0 {
			return 0, badFlag(name, "must not be negative (0 is no limit)")
		}
		if v == 0 {
			v = -1
		}
		return v, nil
	}
	maxStore, err := noLimit("maxStoreBytes")
	if err != nil {
		return agent.Config{}, err
	}
	maxIndex, err := noLimit("max-index-bytes")
	if err != nil {
		return agent.Config{}, err
	}
	createdRetention := c.Duration("created-retention")
	if createdRetention < 0 {
		return agent.Config{}, badFlag("created-retention", "must not be negative (0 is for ever)")
	}
	if createdRetention == 0 {
		createdRetention = -1
	}
	if c.Int("blockingTimeout") < 0 {
		return agent.Config{}, badFlag("blockingTimeout", "must not be negative")
	}
	gcfg := agentGIOP(c.Int("maxMessageSize"))
	gcfg.MaxConnections = c.Int("maxConnections")
	if err := gcfg.Validate(); err != nil {
		return agent.Config{}, badFlag("maxMessageSize", err)
	}
	cfg := agent.Config{
		Listen:                c.String("listen"),
		Host:                  c.String("host"),
		Store:                 storage.Config{Dir: c.String("data-dir"), Durable: c.Bool("durable")},
		GIOP:                  gcfg,
		IDL:                   ifaces,
		MaxThreads:            bounds["maxThreads"],
		MaxQueueSize:          bounds["maxQueueSize"],
		MaxThreadsPerTarget:   bounds["max-threads-per-target"],
		MaxQueuePerTarget:     bounds["max-queue-per-target"],
		BlockingTimeout:       time.Duration(c.Int("blockingTimeout")) * time.Millisecond,
		ConnectRetryBudget:    c.Duration("connectRetryBudget"),
		DelegationTimeout:     c.Duration("delegationTimeout"),
		RecipientRetryBudget:  c.Duration("recipientRetryBudget"),
		MaxStoreBytes:         maxStore,
		MaxIndexBytes:         maxIndex,
		MaxReferenceBytes:     c.Int("max-reference-bytes"),
		MaxCookieBytes:        c.Int("max-cookie-bytes"),
		MaxTagBytes:           c.Int("max-tag-bytes"),
		MaxWaiting:            c.Int("max-waiting"),
		CallbacksPerRecipient: c.Int("callbacks-per-recipient"),
		MaxCallbacks:          c.Int("max-callbacks"),
		CreatedRetention:      createdRetention,
		ReplyRetention:        c.Duration("replyRetention"),
		RepositoryIDPrefix:    c.String("repository-id-prefix"),
		InvalidPropertyScope:  c.String("invalid-property-scope"),
		Defaults: agent.Properties{WaitReply: c.Bool("WaitReply"), ReplyDropping: byte(c.Uint("ReplyDropping")),
			ManualTrash: c.Bool("RequestManualTrash")},
		Logger: log,
	}
	if err := cfg.Validate(); err != nil {
		return cfg, cli.Exit(err.Error(), 2)
	}
	return cfg, nil
}

func findFlag(c *cli.Context, name string) cli.Flag {
	for _, f := range c.App.Flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// loadIDL reads the --idl files and directories into one repository.
func loadIDL(paths, includes []string) (agent.IDL, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	repo := idl.NewRepository()
	opts := &idl.Options{IncludePaths: includes}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("--idl %s: %v", p, err)
		}
		if st.IsDir() {
			err = repo.LoadDir(p, opts)
		} else {
			err = repo.LoadFile(p, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("--idl %s: %v", p, err)
		}
	}
	return agent.RepositoryIDL(repo), nil
}

// defaultDataDir is $XDG_DATA_HOME/requestagent, or ~/.local/share/requestagent.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "requestagent")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "requestagent")
	}
	return "requestagent-data"
}

// startCPUProfile starts profiling into path (nothing when empty); the
// returned function stops it and closes the file.
func startCPUProfile(path string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

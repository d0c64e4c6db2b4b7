// Command requestagent runs the Native Messaging request agent, and talks
// to a running one (admin subcommands).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/requestagent/requestagent/admin"
	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/naming"
	"github.com/requestagent/requestagent/storage"
	"github.com/requestagent/requestagent/tools/loadgen"
	"github.com/requestagent/requestagent/tools/rawbadger"
)

func main() {
	// VisiBroker operators type -? for usage.
	for i, a := range os.Args {
		if a == "-?" {
			os.Args[i] = "--help"
		}
	}
	ctx := handleSignals()
	args, defines, err := takeDefines(os.Args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "requestagent:", err)
		os.Exit(2)
	}
	app := newApp()
	app.Metadata = map[string]any{definesKey: defines}
	if err := app.RunContext(ctx, args); err != nil {
		if msg := err.Error(); strings.HasPrefix(msg, "requestagent:") {
			fmt.Fprintln(os.Stderr, msg) // said once, not "requestagent: requestagent: …"
		} else {
			fmt.Fprintln(os.Stderr, "requestagent:", msg)
		}
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

// The exit codes other than 0 (stopped), 1 (failed while serving) and 2
// (bad configuration), for an operator's restart policy.
const (
	// exitCorrupt: the store is damaged, or was written by a newer release,
	// and was not opened.
	exitCorrupt = 3
	// exitNoSpace: the data directory's filesystem is too full to start.
	exitNoSpace = 4
)

// badFlag is the one-line error of an invalid configuration: exit code 2,
// nothing started. A flag with a VisiBroker name is named both ways.
func badFlag(flag string, err any) error {
	if vb, ok := visiBrokerNames[flag]; ok {
		flag += " (--" + vb + ")"
	}
	return cli.Exit(fmt.Sprintf("--%s: %v", flag, err), 2)
}

// usageError turns a flag parse error into one line and exit code 2,
// instead of the whole help.
func usageError(c *cli.Context, err error, _ bool) error {
	return cli.Exit(fmt.Sprintf("requestagent: %v (requestagent --help lists the flags)", err), 2)
}

func newApp() *cli.App {
	app := &cli.App{
		Name:  "requestagent",
		Usage: "Native Messaging request agent for CORBA two-phase invocations",
		UsageText: "requestagent [flags]                  serve (no command needed)\n" +
			"   requestagent COMMAND [flags] [args]   talk to a running agent (requests, show, ...), or ior, bench",
		Version:      versionString(),
		Flags:        serveFlags(),
		Action:       serve,
		OnUsageError: usageError,
		Commands: []*cli.Command{
			{Name: "ior", Usage: "print the IOR and corbaloc of the agent these flags describe (no agent needed)",
				Flags: []cli.Flag{listenFlag, hostFlag},
				Action: func(c *cli.Context) error {
					ref, loc, err := agent.Reference(flagString(c, "listen"), flagString(c, "host"))
					if err != nil {
						return badFlag("listen", err)
					}
					fmt.Println(ref)
					fmt.Println(loc)
					return nil
				}},
			benchCommand(),
			{Name: "proxies", Usage: "list a running agent's request proxies", Flags: adminFlags(jsonFlag, limitFlag),
				Action: listProxies},
			{Name: "requests", Usage: "list a running agent's requests, with state and age",
				Flags: adminFlags(jsonFlag, limitFlag,
					&cli.StringFlag{Name: "state", Usage: "only requests in this state (created, queued, delegating, replied, delivered)"},
					&cli.StringFlag{Name: "proxy", Usage: "only the requests of this proxy (its id)"},
					&cli.StringFlag{Name: "group", Usage: "only the requests of this create_request polling group"},
					&cli.DurationFlag{Name: "older-than", Usage: "only requests at least this old"}),
				Action: listRequests},
			{Name: "show", Usage: "show one request: target, recipient, state, arguments and reply (decoded through the agent's IDL)",
				ArgsUsage: "REQUEST-ID", Flags: adminFlags(jsonFlag), Action: showRequest},
			{Name: "trash", Usage: "trash one request", ArgsUsage: "REQUEST-ID", Flags: adminFlags(), Action: trashRequest},
			{Name: "destroy", Usage: "destroy one proxy and its requests (as RequestProxy::destroy(TRUE))", ArgsUsage: "PROXY-ID",
				Flags: adminFlags(), Action: destroyProxy},
			{Name: "recipients", Usage: "list recipients whose callbacks are failing", Flags: adminFlags(jsonFlag),
				Action: listRecipients,
				Subcommands: []*cli.Command{{Name: "retry", ArgsUsage: "[HOST:PORT]",
					Usage: "try again the callbacks given up for the recipients at HOST:PORT (all when none is named)",
					Flags: adminFlags(), Action: retryRecipients}}},
			clusterCommand(),
		},
	}
	var fix func([]*cli.Command)
	fix = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			cmd.OnUsageError = usageError
			fix(cmd.Subcommands)
		}
	}
	fix(app.Commands)
	return app
}

// benchCommand is the load generator.
func benchCommand() *cli.Command {
	return &cli.Command{Name: "bench", Usage: "load an agent and report calls/s and latency percentiles (without --agent, one runs in-process)",
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
		Action: runBench,
	}
}

// runBench runs the bench command.
func runBench(c *cli.Context) error {
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
		raw, err := rawbadger.WriteRate(filepath.Join(dir, "baseline"), c.Int("clients"), 20000, 256)
		if err != nil {
			return err
		}
		rawClients, err := rawbadger.ClientWriteRate(filepath.Join(dir, "baseline-clients"), c.Int("clients"), 20000, 256)
		if err != nil {
			return err
		}
		fmt.Printf("baseline: raw batched durable Badger writes on this disk: %.0f records/s from %d clients (this run: %.3f of it); %.0f records/s in full transactions of %d (this run: %.3f of it)\n",
			rawClients, c.Int("clients"), res.PerSecond/rawClients, raw, c.Int("clients"), res.PerSecond/raw)
	}
	return nil
}

func newLogger(level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" || lvl == zerolog.NoLevel {
		return zerolog.Logger{}, badFlag("log-level", fmt.Sprintf("%q: trace, debug, info, warn or error", level))
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
	commit, date := buildInfo()
	log.Info().Str("version", version).Str("commit", commit).Str("built", date).Msg("requestagent: starting")
	for _, v := range strayEnv(c.App, os.Environ()) {
		ev := log.Warn().Str("variable", v.Name)
		if v.Near != "" {
			ev = ev.Str("did_you_mean", v.Near)
		}
		ev.Msg("requestagent: " + v.Name + " is no setting of the agent's, and is ignored (docs/configuration.md lists them)")
	}
	setMemoryLimit(c, cfg, log)
	adminCfg := admin.Config{Listen: c.String("admin"), TokenFile: tokenFile(c), Public: c.Bool("admin-public"),
		Pprof: c.Bool("pprof"), Logger: log}
	if err := adminCfg.Validate(); err != nil {
		return badFlag("admin", err)
	}
	// The data directory holds the store, and the admin token in either
	// mode (cluster mode keeps the store on etcd).
	if err := os.MkdirAll(cfg.Store.Dir, 0o750); err != nil {
		return badFlag("data-dir", err)
	}
	var member *member
	if c.String("cluster") != "" {
		// A standby waits here, forwarding calls to the owner, until it
		// owns the store.
		m, err := joinCluster(c.Context, c, &cfg, adminCfg, log)
		if errors.Is(err, errStandbyStopped) {
			log.Info().Msg("requestagent: stopped (a standby)")
			return nil
		}
		if err != nil {
			return err
		}
		defer m.adm.Shutdown(context.Background()) // if the agent does not start; else a no-op after serve's own
		defer m.leave()
		member = m
	} else {
		log.Info().Str("data_dir", cfg.Store.Dir).Msg("requestagent: store")
	}
	a, err := agent.Start(cfg)
	if err != nil {
		switch {
		case errors.Is(err, agent.ErrBadConfig):
			return configError(err)
		case errors.Is(err, storage.ErrCorrupt):
			// Restarting cannot help: an operator restores or recovers
			// (docs/deploying.md, "When the store is damaged"). Said in
			// the log, for whoever reads the journal, and as the last
			// line, for whoever ran it.
			log.Error().Err(err).Str("data_dir", cfg.Store.Dir).Msg("requestagent: the store is damaged; not starting")
			return cli.Exit(err.Error(), exitCorrupt)
		case errors.Is(err, agent.ErrNewerRecord):
			// A later release wrote the store: restarting this one cannot
			// help either (docs/deploying.md, "Upgrades").
			log.Error().Err(err).Str("data_dir", cfg.Store.Dir).
				Msg("requestagent: the store was written by a newer release, which this one cannot read; not starting: run that release, or restore the copy of the data directory taken before the upgrade")
			return cli.Exit(err.Error(), exitCorrupt)
		case errors.Is(err, agent.ErrCorruptRecord):
			log.Error().Err(err).Str("data_dir", cfg.Store.Dir).
				Msg("requestagent: a record in the store does not decode; not starting: restore the data directory from a backup")
			return cli.Exit(err.Error(), exitCorrupt)
		case errors.Is(err, storage.ErrNoSpace):
			log.Error().Err(err).Str("data_dir", cfg.Store.Dir).Msg("requestagent: no room on the store's filesystem; not starting")
			return cli.Exit(err.Error(), exitNoSpace)
		}
		return err
	}
	var adm *admin.Server
	if member != nil {
		adm = member.adm
		member.swap.Set(a)
	} else if adm, err = admin.Start(adminCfg, a); err != nil {
		a.Close()
		return err
	}
	defer reloadOnHangup(a)()
	var reg *naming.Registration
	var namingClient *giop.Client
	if loc := c.String("naming"); loc != "" {
		namingClient = giop.NewClient(nil)
		defer namingClient.Close()
		reg, err = registerName(c.Context, namingClient, a, loc, c.String("naming-name"))
		if err != nil {
			adm.Shutdown(context.Background())
			a.Close()
			return err
		}
		log.Info().Str("name", reg.Name()).Str("naming", loc).Msg("requestagent: registered in the naming service")
	}
	if path := c.Path("ior-file"); path != "" {
		if err := os.WriteFile(path, []byte(a.IOR().String()+"\n"), 0o644); err != nil {
			log.Error().Err(err).Str("ior_file", path).Msg("requestagent: cannot write the IOR file")
		}
	}
	select {
	case <-c.Context.Done():
		log.Info().Msg("requestagent: shutting down (a second signal ends the grace)")
	case <-a.Failed():
		log.Error().Err(a.Healthy()).Msg("requestagent: shutting down: the agent cannot serve")
	case <-member.lost():
		// Another agent may own the store already: nothing more may be
		// delegated, relayed or called back from here, so no grace.
		log.Error().Msg("requestagent: the ownership of the cluster's store is lost; stopping at once (a standby takes over)")
		a.Close()
		adm.Shutdown(context.Background())
		return cli.Exit("requestagent: cluster: ownership lost", 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-grace"))
	defer cancel()
	go func() {
		// A second signal ends the grace: what is in progress is cut
		// off, and the store still closes, so the next start finds it
		// whole.
		select {
		case <-hurry:
			log.Warn().Msg("requestagent: second signal: not waiting for what is in progress (a third stops at once)")
			cancel()
		case <-ctx.Done():
		}
	}()
	if reg != nil {
		// First, so that no new client finds an agent about to go.
		if err := reg.Unregister(ctx); err != nil {
			log.Warn().Err(err).Msg("requestagent: leaving the naming service")
		} else {
			log.Info().Str("name", reg.Name()).Msg("requestagent: unregistered from the naming service")
		}
	}
	waiting := a.Waiting()
	log.Info().Dur("grace", c.Duration("shutdown-grace")).Int("requests_being_served", waiting.Serving).
		Int("delegations_running", waiting.Delegations).Int("callbacks_pending", waiting.Callbacks).
		Msg("requestagent: waiting for what is in progress, up to the grace period")
	err = a.Shutdown(ctx)
	adm.Shutdown(ctx)
	if failure := a.Healthy(); failure != nil {
		return cli.Exit("requestagent: "+failure.Error(), 1)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info().Msg("requestagent: stopped")
	return nil
}

// registerName binds the agent in the naming service at ref (corbaloc or
// IOR), making the contexts its name needs.
func registerName(ctx context.Context, c *giop.Client, a *agent.Agent, ref, name string) (*naming.Registration, error) {
	var ctxRef *giop.IOR
	if loc, err := giop.ParseCorbaloc(ref); err == nil {
		ctxRef = loc.IOR("IDL:omg.org/CosNaming/NamingContext:1.0")
	} else if ior, err := giop.ParseIOR(ref); err == nil {
		ctxRef = ior
	} else {
		return nil, badFlag("naming", fmt.Sprintf("%q is neither a corbaloc URL nor an IOR", ref))
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	reg, err := naming.Register(rctx, c, ctxRef, name, a.IOR())
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("--naming-name %s: %v", name, err), 1)
	}
	return reg, nil
}

// loadIDL reads the --idl files and directories into one repository, and
// says at start which interfaces that gives (or that there are none).
func loadIDL(paths, includes []string, log zerolog.Logger) (agent.IDL, error) {
	if len(paths) == 0 {
		log.Info().Msg("requestagent: no --idl: suppressed-mode premature returns are sent as NO_RESPONSE/REPLY_NOT_AVAILABLE, and bodies that need re-encoding are refused; load the target interfaces with --idl")
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
	var ids []string
	for _, ifc := range repo.Interfaces() {
		ids = append(ids, ifc.RepoID)
	}
	log.Info().Strs("interfaces", ids).Msg("requestagent: IDL loaded: suppressed premature returns and re-encoding for these interfaces only")
	return agent.RepositoryIDL(repo), nil
}

// defaultDataDir is where the store lives unless --data-dir says: the
// directory systemd made for the service (StateDirectory=, which sets
// $STATE_DIRECTORY), /var/lib/requestagent when run as root (the FHS's
// place for a system service's state), else the user's
// $XDG_DATA_HOME/requestagent or ~/.local/share/requestagent.
func defaultDataDir() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		// systemd may list several, separated by colons: the first is ours.
		return strings.SplitN(d, ":", 2)[0]
	}
	if os.Geteuid() == 0 {
		return "/var/lib/requestagent"
	}
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

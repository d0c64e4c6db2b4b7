// Command requestagent runs the Native Messaging request agent.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/storage"
)

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

func main() {
	// VisiBroker operators type -? for usage.
	for i, a := range os.Args {
		if a == "-?" {
			os.Args[i] = "--help"
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := newApp().RunContext(ctx, os.Args); err != nil {
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

func newApp() *cli.App {
	return &cli.App{
		Name:    "requestagent",
		Usage:   "Native Messaging request agent for CORBA two-phase invocations",
		Version: version(),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: fmt.Sprintf(":%d", agent.DefaultPort), EnvVars: []string{"REQUESTAGENT_LISTEN"},
				Usage: "TCP address to serve GIOP on"},
			&cli.StringFlag{Name: "host", EnvVars: []string{"REQUESTAGENT_HOST"},
				Usage: "host name to advertise in IORs (default: the listening address, or localhost)"},
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"REQUESTAGENT_LOG_LEVEL"},
				Usage: "trace, debug, info, warn or error"},
			&cli.DurationFlag{Name: "shutdown-grace", Value: 10 * time.Second, EnvVars: []string{"REQUESTAGENT_SHUTDOWN_GRACE"},
				Usage: "how long SIGTERM waits for requests in progress"},
			&cli.StringFlag{Name: "data-dir", Value: defaultDataDir(), EnvVars: []string{"REQUESTAGENT_DATA_DIR"},
				Usage: "where requests and replies are stored"},
			&cli.BoolFlag{Name: "durable", Value: true, EnvVars: []string{"REQUESTAGENT_DURABLE"},
				Usage: "flush each group commit to disk before acknowledging (false risks the last moments on power failure)"},
			&cli.StringSliceFlag{Name: "idl", EnvVars: []string{"REQUESTAGENT_IDL"},
				Usage: "IDL files or directories of target interfaces (suppressed mode, transcoding); repeatable"},
			&cli.StringSliceFlag{Name: "idl-include", Aliases: []string{"I"}, EnvVars: []string{"REQUESTAGENT_IDL_INCLUDE"},
				Usage: "directories searched for #include in IDL files"},
			&cli.IntFlag{Name: "maxThreads", Aliases: []string{"max-threads"}, EnvVars: []string{"REQUESTAGENT_MAX_THREADS"},
				Usage: "concurrent delegations; 0 = unlimited"},
			&cli.IntFlag{Name: "maxQueueSize", Aliases: []string{"max-queue-size"}, EnvVars: []string{"REQUESTAGENT_MAX_QUEUE_SIZE"},
				Usage: "requests waiting for a delegation thread; 0 = unlimited (needs maxThreads > 0)"},
			&cli.IntFlag{Name: "blockingTimeout", Aliases: []string{"blocking-timeout"}, EnvVars: []string{"REQUESTAGENT_BLOCKING_TIMEOUT"},
				Usage: "ms a new request may wait for queue room before IMP_LIMIT; 0 = no wait"},
		},
		Action: serve,
	}
}

func newLogger(level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Logger{}, cli.Exit(fmt.Sprintf("--log-level %q: %v", level, err), 2)
	}
	var w = zerolog.New(os.Stderr)
	if term.IsTerminal(int(os.Stderr.Fd())) {
		w = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly})
	}
	return w.Level(lvl).With().Timestamp().Logger(), nil
}

func serve(c *cli.Context) error {
	log, err := newLogger(c.String("log-level"))
	if err != nil {
		return err
	}
	dataDir := c.String("data-dir")
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return cli.Exit(fmt.Sprintf("--data-dir %q: %v", dataDir, err), 2)
	}
	log.Info().Str("data_dir", dataDir).Msg("requestagent: store")
	ifaces, err := loadIDL(c.StringSlice("idl"), c.StringSlice("idl-include"))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	svc, err := agent.Start(agent.Config{
		Listen:          c.String("listen"),
		Host:            c.String("host"),
		Store:           storage.Config{Dir: dataDir, Durable: c.Bool("durable")},
		MaxThreads:      c.Int("maxThreads"),
		MaxQueueSize:    c.Int("maxQueueSize"),
		BlockingTimeout: time.Duration(c.Int("blockingTimeout")) * time.Millisecond,
		IDL:             ifaces,
		Logger:          log,
	})
	if err != nil {
		if errors.Is(err, agent.ErrBadConfig) {
			return cli.Exit(err.Error(), 2)
		}
		return err
	}
	<-c.Context.Done()
	log.Info().Msg("requestagent: shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-grace"))
	defer cancel()
	if err := svc.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

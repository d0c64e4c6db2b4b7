package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/requestagent/requestagent/agent"
)

// hurry is closed by a second SIGINT or SIGTERM.
var hurry = make(chan struct{})

// handleSignals returns a context that the first SIGINT or SIGTERM ends:
// a graceful shutdown. The second ends the grace period (closing hurry)
// but still lets the store close: killing the process in the middle of
// the store's close is what leaves logs half deleted, so a second Ctrl-C
// or a supervisor that signals twice (GNU timeout signals the process and
// its group) must not do it. The third exits at once, for an operator
// who insists.
func handleSignals() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 3)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ch
		cancel()
		<-ch
		close(hurry)
		<-ch
		os.Exit(1)
	}()
	return ctx
}

// reloadOnHangup rereads the agent's TLS files on each SIGHUP until stop
// is called: rotated certificates are served without a restart.
func reloadOnHangup(a *agent.Agent) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range hup {
			_ = a.ReloadTLS() // logged by the agent; the files loaded before stay in use
		}
	}()
	return func() {
		signal.Stop(hup)
		close(hup)
		<-done
	}
}

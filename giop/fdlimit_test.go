package giop_test

import (
	"strings"
	"testing"
)

// TestHostile_FileDescriptorExhaustion: a server process out of file
// descriptors keeps its listener. The server runs in a child process with
// RLIMIT_NOFILE 64; 100 idle connections use up its descriptors, so
// accept fails with EMFILE; once they close, a new client is served, and
// Serve ends only when the server is shut down.
func TestHostile_FileDescriptorExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	child := startChildServer(t, childNofileEnv+"=64")
	good := dialRaw(t, child.addr)
	good.echo(1, "before")
	idle := dialMany(t, child.addr, 100)
	st := child.waitStats("accept errors", func(s *childStats) bool {
		return s.stat("AcceptErrors") > 0 || s.ServeErr != ""
	})
	if st.ServeErr != "" {
		t.Fatalf("Serve ended on %q when descriptors ran out", st.ServeErr)
	}
	// The connection that was open all along is still served.
	good.echo(3, "while descriptors are out")
	for _, nc := range idle {
		nc.Close()
	}
	after := dialRaw(t, child.addr)
	after.echo(1, "after the idle connections closed")
	st = child.stats()
	t.Logf("server: %v", st.Server)
	if st.ServeErr != "" || st.stat("Listeners") != 1 {
		t.Fatalf("after recovery: serve error %q, %d listeners", st.ServeErr, st.stat("Listeners"))
	}
	good.nc.Close()
	after.nc.Close()
	if got := child.quit(); !strings.Contains(got, "server closed") {
		t.Fatalf("Serve returned %q at shutdown, want ErrServerClosed", got)
	}
}

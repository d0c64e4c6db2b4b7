package giop_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// TestHostile_ThousandsOfIdleConnections: 2,000 connections that send
// nothing neither stop the server nor cost unbounded memory; a real client
// is served among them; past MaxConnections new ones are closed at once.
func TestHostile_ThousandsOfIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2,000 sockets")
	}
	// Both ends of every connection live in this process: make sure the
	// file limit allows them, or test with as many as it does.
	n := 2000
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		if lim.Cur < lim.Max {
			lim.Cur = lim.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
		if room := int(lim.Cur)/2 - 300; room < n {
			n = max(room, 100)
		}
	}
	cfg := giop.DefaultConfig()
	cfg.MaxConnections = n
	srv, ref, _ := testServer(t, cfg, nil)
	prof, _ := ref.IIOP()
	addr := fmt.Sprintf("127.0.0.1:%d", prof.Port)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range n - 1 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	deadline := time.Now().Add(20 * time.Second)
	for srv.Stats().Open < uint64(n-1) {
		if time.Now().After(deadline) {
			t.Fatalf("server holds %d of %d idle connections", srv.Stats().Open, n-1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := giop.NewClient(nil)
	defer c.Close()
	if got, err := callString(ctx, c, ref, "echoString", "among idle ones"); err != nil || got != "among idle ones" {
		t.Fatalf("a real client among %d idle connections: %q, %v", n-1, got, err)
	}
	// One more is over the limit: closed at once, the others stay.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection over MaxConnections was kept")
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perConn := (int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)) / int64(n)
	t.Logf("%d connections open, %d refused; about %d KiB each", srv.Stats().Open, srv.Stats().Refused, perConn>>10)
	if perConn > 64<<10 {
		t.Fatalf("an idle connection costs %d KiB", perConn>>10)
	}
}

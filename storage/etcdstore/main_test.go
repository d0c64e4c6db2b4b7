package etcdstore_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/etcdserver/api/rafthttp"
	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the tests, as goleak's
// VerifyTestMain does, but waits longer for the last ones to end: a
// stopped member's peer connections (net/http's persistConn.readLoop
// and writeLoop, and conn.serve in connReader.abortPendingRead, between
// etcd's rafthttp transports) end only when their reads time out,
// rafthttp.DefaultConnReadTimeout (5 s) after the members closed, and
// goleak gives up after about 2 s. Nothing is ignored.
func TestMain(m *testing.M) {
	code := m.Run()
	deadline := time.Now().Add(rafthttp.DefaultConnReadTimeout + 2*time.Second)
	err := goleak.Find()
	for err != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		err = goleak.Find()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

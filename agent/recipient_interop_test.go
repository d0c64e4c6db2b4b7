package agent_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/requestagent/requestagent/internal/peers"
)

// Native Messaging's callback model, for real: the omniORB C++
// recipient_client (testdata/nm) is its own ReplyRecipient. It sends two
// requests with cookies through a request proxy of an in-process agent to
// the omniORB stock_server; the agent calls reply_available(holder,
// operation, cookie) once per reply, and inside each call the client pulls
// the real result from the holder (a nested call back into the agent).

// TestRecipient_OmniORBBidirBehindFirewall: the recipient lives in a BiDir
// POA and its published address is a port the agent cannot use, so the
// callbacks can only come over the client's own (bidirectional) connection.
func TestRecipient_OmniORBBidirBehindFirewall(t *testing.T) {
	e := newSeedEnv(t)
	// Nothing GIOP listens on the published port: a trap that counts and
	// drops connections, so a dial by the agent is seen, not just refused.
	trap, dials := trapListener(t)
	got := e.run(t, "recipient_client", "--bidir",
		"-ORBendPoint", fmt.Sprintf("giop:tcp:127.0.0.1:%d", peers.FreePort(t)),
		"-ORBendPointPublish", fmt.Sprintf("giop:tcp:127.0.0.1:%d", trap))
	checkRecipientRun(t, e, got)
	if n := dials.Load(); n != 0 {
		t.Fatalf("the agent dialed the recipient's published (unreachable) address %d times; "+
			"callbacks to a bidir client must go over its own connection", n)
	}
}

// TestRecipient_OmniORBPlainByAddress: a plain recipient (no bidir offered)
// reachable at its published address gets its callbacks on a connection
// the agent opens.
func TestRecipient_OmniORBPlainByAddress(t *testing.T) {
	e := newSeedEnv(t)
	got := e.run(t, "recipient_client", peers.Endpoint(peers.FreePort(t))...)
	checkRecipientRun(t, e, got)
}

// trapListener listens on a loopback port, closes every connection at once
// and counts them.
func trapListener(t *testing.T) (port int, dials *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dials = new(atomic.Int32)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port, dials
}

// checkRecipientRun checks recipient_client's lines (it passed: e.run) and
// that the target ran each request exactly once.
func checkRecipientRun(t *testing.T, e *seedEnv, got []string) {
	t.Helper()
	find := peers.StockPair(t, e.server.Served(t, 2))
	// Callback lines come in reply order and may interleave with the
	// second premature return; the others are in program order.
	var main, avail, pulled []string
	at := map[string]int{}
	for i, l := range got {
		switch {
		case strings.HasPrefix(l, "reply_available "):
			avail = append(avail, l)
			if op, _, ok := strings.Cut(strings.TrimPrefix(l, "reply_available op="), " "); ok {
				at["avail "+op] = i
			}
		case strings.HasPrefix(l, "pulled "):
			pulled = append(pulled, l)
			if op, _, ok := strings.Cut(strings.TrimPrefix(l, "pulled "), " "); ok {
				at["pulled "+op] = i
			}
		default:
			main = append(main, l)
		}
	}
	peers.CheckLines(t, "recipient_client", main, []string{
		"create_request_proxy -> RequestProxy",
		"the_receiver -> StockManager (typed receiver)",
		"add_stock -> premature (REPLY_NOT_AVAILABLE)",
		"find_closest_symbol -> premature (REPLY_NOT_AVAILABLE)",
		"PASS",
	})
	// One callback per request, the cookie byte for byte.
	peers.CheckLines(t, "recipient_client", slices.Sorted(slices.Values(avail)), []string{
		"reply_available op=add_stock cookie=add stock",
		"reply_available op=find_closest_symbol cookie=find symbol",
	})
	// The real results, pulled through the holders.
	peers.CheckLines(t, "recipient_client", slices.Sorted(slices.Values(pulled)), []string{
		"pulled add_stock -> TRUE",
		"pulled find_closest_symbol -> " + find,
	})
	for _, op := range []string{"add_stock", "find_closest_symbol"} {
		if at["avail "+op] > at["pulled "+op] {
			t.Fatalf("recipient_client pulled %s before its reply_available:\n  %s", op, strings.Join(got, "\n  "))
		}
	}
	if find != "TRUE ACME" {
		t.Logf("the target ran find_closest_symbol before add_stock: %s", find)
	}
}

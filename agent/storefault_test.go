package agent_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/syncbuf"
	"github.com/requestagent/requestagent/nmproto"
)

// lockedBuffer is a log sink the agent's goroutines may share.
type lockedBuffer = syncbuf.Buffer

// TestStoreFault_ReplyNotStoredIsStillRead: a reply whose writes all fail
// is not announced as stored, and the acknowledged request is not lost
// while the agent runs (RELIABILITY.md: nothing acknowledged is lost): its
// poller gets the target's real result, kept in memory, rather than
// OBJECT_NOT_EXIST/REQUEST_TRASHED for a request that is still live; the
// read then trashes it as any read does.
func TestStoreFault_ReplyNotStoredIsStillRead(t *testing.T) {
	logs := &lockedBuffer{}
	e := newEnv(t, agent.Config{Logger: zerolog.New(logs)})
	proxy := e.mustProxy()
	release := e.sm.hold()
	defer release()
	sent := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("t", "", 0, false), addStockArgs("A", 1))
	if sent.poller == nil {
		t.Fatalf("not acknowledged: %+v", sent)
	}
	<-e.sm.entered
	e.agent.InjectStoreFault(errors.New("input/output error"))
	defer e.agent.InjectStoreFault(nil)
	release()
	// unmask=FALSE reports without consuming: wait until the reply is
	// ready, which is after storeReply has given up writing it.
	if tags, err := e.pollTags(proxy, nil, 20_000, false); err != nil || joined(tags) != "t" {
		t.Fatalf("the reply never became ready: %v %v", tags, err)
	}
	p := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
	if p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Fatalf("pull of the reply that could not be stored = %+v (err %v), want the target's result", p, p.err)
	}
	again := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
	if !isSys(again.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) {
		t.Fatalf("second read = %v, want OBJECT_NOT_EXIST/REQUEST_TRASHED (read means trashed)", again.err)
	}
	if out := logs.String(); strings.Contains(out, `"agent: reply stored"`) || !strings.Contains(out, "reply could not be stored") {
		t.Fatalf("logs say the reply was stored, or not that it was not:\n%s", out)
	}
}

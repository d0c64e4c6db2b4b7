package agent_test

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// scanGateStore is a store whose scans of the request index (q/, the
// retentions' walk, Agent.expire) see nothing until armed; once armed, the
// next scan that passes at least min keys is held, after its last key,
// until release is closed — the moment between the retention's decision
// (made per chunk of 256 keys, under the agent's lock) and its trashes,
// which follow the whole walk.
type scanGateStore struct {
	agent.Store
	armed   atomic.Bool
	min     int
	once    sync.Once
	held    chan struct{} // closed once a scan is held
	release chan struct{}
}

func (s *scanGateStore) ScanKeysFrom(prefix, from []byte, fn func(key []byte) (bool, error)) error {
	if !bytes.Equal(prefix, []byte("q/")) {
		return s.Store.ScanKeysFrom(prefix, from, fn)
	}
	if !s.armed.Load() {
		return nil
	}
	n := 0
	err := s.Store.ScanKeysFrom(prefix, from, func(k []byte) (bool, error) {
		more, err := fn(k)
		if more {
			n++
		}
		return more, err
	})
	if n >= s.min {
		s.once.Do(func() {
			close(s.held)
			<-s.release
		})
	}
	return err
}

// TestCreatedRetention_InvokedWhileTheRetentionDecidesIsNotTrashed: a
// request object the CreatedRetention walk found "never invoked", whose
// first call is then accepted and acknowledged (a poller handed out, the
// target called) before the walk's trashes — which follow the whole walk —
// must not be trashed: it is invoked, and an acknowledged request is not
// lost (docs/native-messaging.md, "Acknowledged means durable";
// CreatedRetention trashes requests "never invoked").
func TestCreatedRetention_InvokedWhileTheRetentionDecidesIsNotTrashed(t *testing.T) {
	st, err := storage.Open(storage.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	gate := &scanGateStore{Store: st, min: 256, held: make(chan struct{}), release: make(chan struct{})}
	defer func() {
		select {
		case <-gate.release:
		default:
			close(gate.release)
		}
	}()
	e := newEnv(t, agent.Config{Backend: gate, CreatedRetention: 100 * time.Millisecond})
	var objs []*giop.IOR
	for range 256 {
		objs = append(objs, e.createRequest(t, "", "", "g", ""))
	}
	time.Sleep(150 * time.Millisecond) // every one is older than the retention
	gate.armed.Store(true)
	select {
	case <-gate.held: // the walk decided: all 256 expired; its trashes wait
	case <-time.After(20 * time.Second):
		t.Fatal("the retention never walked the request index")
	}
	release := e.sm.hold()
	defer release()
	first := e.call(objs[0], "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("LATE", 1))
	if first.poller == nil || first.err == nil || !isSys(first.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
		t.Fatalf("first call on the request object: %+v, want a premature return (acknowledged)", first)
	}
	select {
	case <-e.sm.entered: // the target runs it
	case <-time.After(20 * time.Second):
		t.Fatal("the acknowledged request was never sent")
	}
	close(gate.release) // the walk's trashes go on
	deadline := time.Now().Add(20 * time.Second)
	for len(e.agent.Requests()) > 1 { // the 255 never invoked go
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still live, want the 255 never invoked trashed", len(e.agent.Requests()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	release()
	p := e.call(objs[0], "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	if p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Fatalf("the invoked, acknowledged request after the retention's walk: %+v (err %v), want its real result; the target ran it %d time(s)",
			p, p.err, e.sm.calls.Load())
	}
}

// TestReplyRetention_RacingReadsAndTrashes: replies expiring
// (ReplyRetention) while clients poll them — idempotently
// (RequestManualTrash) or reading them — and destroy them: every poll
// answers the real result, a premature return or REQUEST_TRASHED; none
// hangs; and once every request is gone and the agent closed, nothing is
// left in the store, and a restart finds every poller's request trashed.
func TestReplyRetention_RacingReadsAndTrashes(t *testing.T) {
	dir := t.TempDir()
	cfg := agent.Config{
		Listen:         fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)),
		Store:          storage.Config{Dir: dir, Durable: true},
		ReplyRetention: 40 * time.Millisecond,
	}
	e := newEnv(t, cfg)
	var pollers []*giop.IOR
	var mu sync.Mutex
	var wg sync.WaitGroup
	bad := make(chan string, 64)
	for _, manual := range []bool{false, true} {
		rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropRequestManualTrash, manual)))
		for i := range 60 {
			sent := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs(fmt.Sprint("R", i), 1))
			if sent.poller == nil || sent.poller.IsNil() {
				t.Fatalf("not acknowledged: %+v", sent)
			}
			mu.Lock()
			pollers = append(pollers, sent.poller)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Duration(i%9) * 5 * time.Millisecond)
				for k := 0; ; k++ {
					if k == 3 && i%4 == 0 {
						e.destroyRequest(sent.poller)
					}
					p := e.call(sent.poller, "add_stock", waitCtx(uint32(k%3)), addStockArgs("", 0))
					switch {
					case isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed):
						return
					case p.err == nil && !p.rna:
						if !manual {
							return
						}
					case isSys(p.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable):
					default:
						bad <- fmt.Sprintf("%+v (%v)", p, p.err)
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("a poll hangs, or a reply never expired")
	}
	close(bad)
	for b := range bad {
		t.Fatalf("a poll got %s", b)
	}
	e.agent.Close()
	wantTrashedAfterRestart(t, dir, cfg, e, pollers...)
}

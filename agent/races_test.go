package agent_test

import (
	"context"
	"fmt"
	"net"
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

// destroyByTag calls RequestProxy::destroy_request(tag) on proxy from a
// client of its own, again and again, until the returned stop is called.
func (e *env) destroyByTag(proxy *giop.IOR, tag string) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	c := giop.NewClient(nil)
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			c.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy_request",
				Args: func(enc *giop.Encoder) { enc.WriteOctets([]byte(tag)) }})
		}
	}()
	return func() {
		close(quit)
		<-done
		c.Close()
	}
}

// destroyRequest calls RequestAgent::destroy_request(ref).
func (e *env) destroyRequest(ref *giop.IOR) error {
	resp, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "destroy_request",
		Args: func(enc *giop.Encoder) { enc.WriteIOR(ref) }})
	if err != nil {
		return err
	}
	return resp.Result.Err()
}

// TestCreateRequest_TrashedWhileFirstCallWaitsForRoomStaysTrashed: a
// request object destroyed (RequestAgent::destroy_request) while its first
// call waits in admit for queue room (BlockingTimeout) is gone for good:
// the first call does not store it afterwards, it is never sent, and it
// does not come back after a restart to be sent then.
func TestCreateRequest_TrashedWhileFirstCallWaitsForRoomStaysTrashed(t *testing.T) {
	dir := t.TempDir()
	cfg := agent.Config{
		Listen:          fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)),
		Store:           storage.Config{Dir: dir, Durable: true},
		MaxThreads:      1,
		MaxQueueSize:    1,
		BlockingTimeout: 20 * time.Second,
	}
	e := newEnv(t, cfg)
	rcv := e.receiver(e.mustProxy())
	release := e.sm.hold()
	defer release()
	busy := e.call(rcv, "add_stock", reqInfoCtx("busy", "", 0, false), addStockArgs("BUSY", 1))
	<-e.sm.entered // the one thread
	queued := e.call(rcv, "add_stock", reqInfoCtx("queued", "", 0, false), addStockArgs("QUEUED", 1))
	if busy.poller == nil || queued.poller == nil {
		t.Fatalf("not acknowledged: %+v %+v", busy, queued)
	}
	reqObj := e.createRequest(t, "", "", "g", "")
	first := make(chan result, 1)
	go func() { first <- e.call(reqObj, "add_stock", nil, addStockArgs("OBJ", 1)) }()
	for agent.BlockedInAdmit(e.agent) != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := e.destroyRequest(reqObj); err != nil {
		t.Fatalf("destroy_request of the request object: %v", err)
	}
	// Room in the queue: the first call's admit goes on.
	if err := e.destroyRequest(queued.poller); err != nil {
		t.Fatalf("destroy_request of the queued request: %v", err)
	}
	r := <-first
	t.Logf("first call of the destroyed request object: err=%v poller=%v", r.err, r.poller != nil)
	release()
	if p := e.call(busy.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)); p.err != nil {
		t.Fatalf("the busy request: %+v", p)
	}
	if p := e.call(reqObj, "add_stock", waitCtx(0), addStockArgs("", 0)); !isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) {
		t.Fatalf("call on the destroyed request object: %+v, want OBJECT_NOT_EXIST/REQUEST_TRASHED", p)
	}
	time.Sleep(100 * time.Millisecond) // let a delegation of it start, if one would
	if n := agent.QueuedEntries(e.agent); n != 0 {
		t.Errorf("%d queue tickets held for requests no longer in line, want 0", n)
	}
	e.agent.Close()
	if got := e.sm.calls.Load(); got != 1 {
		t.Fatalf("the target got %d calls, want 1 (the destroyed request object never sent)", got)
	}
	left := requestEntries(t, dir)
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	time.Sleep(200 * time.Millisecond)
	p := e.call(reqObj, "add_stock", waitCtx(0), addStockArgs("", 0))
	calls := e.sm.calls.Load()
	if len(left) != 0 || calls != 1 || !isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) {
		t.Fatalf("destroyed request object: store entries %q; after the restart the target got %d calls (want 1) and a call on it = %+v (want OBJECT_NOT_EXIST/REQUEST_TRASHED)",
			left, calls, p)
	}
}

// TestTrash_ByTagRacingAcceptance: RequestProxy::destroy_request(tag)
// spammed by one client while another sends requests under that tag. Every
// request is either refused for its tag, acknowledged, or trashed; under
// -race, the trash's move of the live record must not race with the
// acceptance that has just published it.
func TestTrash_ByTagRacingAcceptance(t *testing.T) {
	e := newEnv(t, agent.Config{})
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	stopSpam := e.destroyByTag(proxy, "t")
	for range 3000 {
		r := e.call(rcv, "add_stock", reqInfoCtx("t", "", 0, false), addStockArgs("T", 1))
		if r.err != nil && !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) && !isSys(r.err, giop.ExcBadInvOrder, nmproto.DuplicatedRequestTag) {
			t.Fatalf("a request: %+v", r)
		}
	}
	stopSpam()
}

// TestWaitReply_QueuedCallsRacingDispatch: WaitReply calls with a wait
// timeout on one delegation thread, so that most wait in line (the Await
// effect) while the thread frees and their dispatch moves them. Each gets
// its result or a premature return; under -race nothing of the live record
// is read unlocked while the dispatch moves it.
func TestWaitReply_QueuedCallsRacingDispatch(t *testing.T) {
	e := newEnv(t, agent.Config{MaxThreads: 1})
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropWaitReply, true)))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				r := e.call(rcv, "add_stock", reqInfoCtx("", "", 2000, false), addStockArgs(fmt.Sprint("S", g, "-", i), 1))
				if r.err != nil && !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
					errs <- fmt.Errorf("call %d/%d: %+v", g, i, r)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestPull_ManyPullersOneReply: many pulls of one poller, with and
// without wait_timeout, while the reply arrives: exactly one gets the
// result, the others a premature return or REQUEST_TRASHED; none hangs; and
// once the agent is closed nothing of the request is in the store.
func TestPull_ManyPullersOneReply(t *testing.T) {
	dir, cfg, e, _, rcv := restartEnv(t)
	_ = cfg
	for round := range 5 {
		release := e.sm.hold()
		sent := e.call(rcv, "add_stock", reqInfoCtx(fmt.Sprint("r", round), "", 0, false), addStockArgs("M", 1))
		if sent.poller == nil || sent.poller.IsNil() {
			t.Fatalf("not acknowledged: %+v", sent)
		}
		<-e.sm.entered
		var wg sync.WaitGroup
		var got, premature, gone atomic.Int32
		bad := make(chan string, 32)
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				waits := []uint32{0, 5, 50, nmproto.WaitForever}
				for {
					p := e.call(sent.poller, "add_stock", waitCtx(waits[i%len(waits)]), addStockArgs("", 0))
					switch {
					case p.err == nil && !p.rna:
						got.Add(1)
						return
					case isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed):
						gone.Add(1)
						return
					case isSys(p.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable):
						premature.Add(1)
					default:
						bad <- fmt.Sprintf("%+v", p)
						return
					}
				}
			}()
		}
		time.Sleep(5 * time.Millisecond)
		release()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("round %d: a pull hangs (got %d, gone %d)", round, got.Load(), gone.Load())
		}
		close(bad)
		for b := range bad {
			t.Fatalf("round %d: a pull got %s", round, b)
		}
		if got.Load() != 1 {
			t.Fatalf("round %d: %d pulls got the result, want 1 (gone %d)", round, got.Load(), gone.Load())
		}
	}
	e.agent.Close()
	if left := requestEntries(t, dir); len(left) != 0 {
		t.Fatalf("entries left after every result was read: %q", left)
	}
}

// TestTrash_RacingPullsAndTheReply: a request trashed by its tag while
// pulls wait on its poller and its reply arrives (handed to a waiting
// pull, taken while written, or stored): every pull returns — the result
// or REQUEST_TRASHED —, none hangs, and once the agent is closed nothing
// of any request is left in the store; after a restart every poller finds
// its request trashed.
func TestTrash_RacingPullsAndTheReply(t *testing.T) {
	dir, cfg, e, proxy, rcv := restartEnv(t)
	var pollers []*giop.IOR
	for round := range 30 {
		tag := fmt.Sprint("r", round)
		release := e.sm.hold()
		sent := e.call(rcv, "add_stock", reqInfoCtx(tag, "", 0, false), addStockArgs("M", 1))
		if sent.poller == nil || sent.poller.IsNil() {
			t.Fatalf("not acknowledged: %+v", sent)
		}
		pollers = append(pollers, sent.poller)
		<-e.sm.entered
		var wg sync.WaitGroup
		bad := make(chan string, 32)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				waits := []uint32{nmproto.WaitForever, 0, 3, nmproto.WaitForever}
				for {
					p := e.call(sent.poller, "add_stock", waitCtx(waits[i]), addStockArgs("", 0))
					switch {
					case p.err == nil && !p.rna, isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed):
						return
					case isSys(p.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable):
					default:
						bad <- fmt.Sprintf("%+v", p)
						return
					}
				}
			}()
		}
		time.Sleep(2 * time.Millisecond)
		go release()
		time.Sleep(time.Duration(round%6) * 100 * time.Microsecond)
		e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy_request",
			Args: func(enc *giop.Encoder) { enc.WriteOctets([]byte(tag)) }})
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("round %d: a pull hangs", round)
		}
		close(bad)
		for b := range bad {
			t.Fatalf("round %d: a pull got %s", round, b)
		}
	}
	e.agent.Close()
	wantTrashedAfterRestart(t, dir, cfg, e, pollers...)
}

// slowTarget answers every call after a pause, with an empty reply.
type slowTarget struct{ pause time.Duration }

func (s slowTarget) RepositoryID() string { return stockID }
func (s slowTarget) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	time.Sleep(s.pause)
	r.Results().WriteBool(true)
	return nil
}

// TestTrash_ByTagRacingEvolve: RequestProxy::destroy_request(tag) spammed
// while WaitReply calls under that tag evolve into 2PIs (their wait ends
// before the slow target answers). Trashed means gone for good: once every
// request is trashed (the proxy destroyed with them at the end) and the
// agent closed, nothing of any request is left in the store.
func TestTrash_ByTagRacingEvolve(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, agent.Config{Store: storage.Config{Dir: dir, Durable: true}, MaxThreads: 1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("Slow"), slowTarget{3 * time.Millisecond})
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	defer srv.Close()
	slow := giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("Slow"),
		Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})
	proxy, err := e.createProxy(slow, "", nil, boolProp(nmproto.PropWaitReply, true))
	if err != nil {
		t.Fatal(err)
	}
	rcv := e.receiver(proxy)
	stopSpam := e.destroyByTag(proxy, "t")
	acked := 0
	for range 400 {
		r := e.call(rcv, "add_stock", reqInfoCtx("t", "", 1, false), addStockArgs("T", 1))
		if r.poller != nil {
			acked++
		}
	}
	stopSpam()
	if _, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy",
		Args: func(enc *giop.Encoder) { enc.WriteBool(true) }}); err != nil {
		t.Fatalf("destroy(TRUE): %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, e.agent, "requestagent_delegations_in_flight") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a delegation still runs")
		}
		time.Sleep(time.Millisecond)
	}
	e.agent.Close()
	t.Logf("%d calls evolved", acked)
	if left := requestEntries(t, dir); len(left) != 0 {
		t.Fatalf("%d entries of trashed requests left in the store: %q; records' states %v", len(left), left, recordStates(t, dir))
	}
}

// recordStates lists the states of the request records in the store in dir.
func recordStates(t *testing.T, dir string) []string {
	t.Helper()
	st, err := storage.Open(storage.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var states []string
	if err := st.Scan([]byte("q/"), func(k, v []byte) error {
		states = append(states, agent.RecordState(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return states
}

// TestDestroyProxy_WithRequestsWhileOneWaitsForRoom: a proxy destroyed
// with its requests (destroy(TRUE)) while a call on its receiver waits in
// admit for queue room: once destroy returned, that call is not
// acknowledged and sent afterwards, and the proxy is gone.
func TestDestroyProxy_WithRequestsWhileOneWaitsForRoom(t *testing.T) {
	e := newEnv(t, agent.Config{MaxThreads: 1, MaxQueueSize: 1, BlockingTimeout: 20 * time.Second})
	other := e.receiver(e.mustProxy())
	release := e.sm.hold()
	defer release()
	busy := e.call(other, "add_stock", reqInfoCtx("busy", "", 0, false), addStockArgs("BUSY", 1))
	<-e.sm.entered
	queued := e.call(other, "add_stock", reqInfoCtx("queued", "", 0, false), addStockArgs("QUEUED", 1))
	if busy.poller == nil || queued.poller == nil {
		t.Fatalf("not acknowledged: %+v %+v", busy, queued)
	}
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	blocked := make(chan result, 1)
	go func() { blocked <- e.call(rcv, "add_stock", reqInfoCtx("late", "", 0, false), addStockArgs("LATE", 1)) }()
	for agent.BlockedInAdmit(e.agent) != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy",
		Args: func(enc *giop.Encoder) { enc.WriteBool(true) }}); err != nil {
		t.Fatalf("destroy(TRUE): %v", err)
	}
	if err := e.destroyRequest(queued.poller); err != nil { // room: the blocked call goes on
		t.Fatalf("destroy_request: %v", err)
	}
	r := <-blocked
	release()
	time.Sleep(100 * time.Millisecond)
	_, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "_get_properties"})
	if r.poller != nil || e.sm.calls.Load() != 1 || !isSys(err, giop.ExcObjectNotExist, nmproto.ProxyDestroyed) {
		t.Fatalf("call that waited while its proxy was destroyed with its requests: %+v (poller %v); target calls %d (want 1); proxy properties after: %v (want OBJECT_NOT_EXIST/PROXY_DESTROYED)",
			r.err, r.poller != nil, e.sm.calls.Load(), err)
	}
}

// TestPull_WhileAnotherReadsWaitsForItsEnd: a pull willing to wait that
// comes while another pull's reply of the same request goes out waits for
// that read to end, and is then told the request is gone, with
// NMNoMoreReply — not given a premature return for a reply that is there:
// a client that waits forever must not have to spin (awaitRead).
func TestPull_WhileAnotherReadsWaitsForItsEnd(t *testing.T) {
	e := newEnv(t, agent.Config{})
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	sent := e.call(rcv, "add_stock", reqInfoCtx("t", "", 0, false), addStockArgs("A", 1))
	if sent.poller == nil {
		t.Fatalf("not acknowledged: %+v", sent)
	}
	if tags, err := e.pollTags(proxy, nil, 20_000, false); err != nil || joined(tags) != "t" {
		t.Fatalf("the reply never became ready: %v %v", tags, err)
	}
	entered := make(chan struct{})
	release := agent.HoldWritten(entered)
	defer release()
	if first := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); first.err != nil || !first.resp.Result.Bool() {
		t.Fatalf("the first pull: %+v", first)
	}
	<-entered // its reply went out; its Written move is held
	second := make(chan result, 1)
	go func() { second <- e.call(sent.poller, "add_stock", waitCtx(60_000), addStockArgs("", 0)) }()
	// The second pull is in the agent, waiting, when the agent counts it.
	for i := 0; e.agent.CallsWaiting() == 0; i++ {
		if i == 5000 {
			t.Fatal("the second pull never waited")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case r := <-second:
		t.Fatalf("the second pull answered while the first read was held: %+v", r)
	default:
	}
	release()
	r := <-second
	if !isSys(r.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) || !nmproto.NoMoreReply(r.resp.Header.ServiceContexts) {
		t.Fatalf("a waiting pull after the read: %+v, want REQUEST_TRASHED with NMNoMoreReply", r)
	}
}

// TestPull_WhileAnotherReadsIsToldToPullAgain: a pull that comes while
// another pull's reply of the same request goes out is told the reply is
// not available (a premature return), not that the request is gone: that
// read may yet fail and put it back (lifecycle.Reading). Once the reply is
// on the socket the request is trashed, and the next pull says so.
func TestPull_WhileAnotherReadsIsToldToPullAgain(t *testing.T) {
	e := newEnv(t, agent.Config{})
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	sent := e.call(rcv, "add_stock", reqInfoCtx("t", "", 0, false), addStockArgs("A", 1))
	if sent.poller == nil {
		t.Fatalf("not acknowledged: %+v", sent)
	}
	if tags, err := e.pollTags(proxy, nil, 20_000, false); err != nil || joined(tags) != "t" {
		t.Fatalf("the reply never became ready: %v %v", tags, err)
	}
	entered := make(chan struct{})
	release := agent.HoldWritten(entered)
	defer release()
	if first := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); first.err != nil || !first.resp.Result.Bool() {
		t.Fatalf("the first pull: %+v", first)
	}
	<-entered // its reply went out; its Written move is held
	if second := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); !isSys(second.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
		t.Fatalf("a pull while the first one's reply goes out: %v, want NO_RESPONSE/REPLY_NOT_AVAILABLE", second.err)
	}
	release()
	for i := 0; ; i++ {
		p := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
		if isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) {
			break
		}
		if i == 2000 || !isSys(p.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
			t.Fatalf("a pull after the read: %+v, want REQUEST_TRASHED once the trash is done", p)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPull_CancelledWhileItReadsKeepsTheReply: a pull whose client gives
// up (CancelRequest) while the agent reads the stored reply leaves the
// request pollable: the client drops a reply sent after its cancel
// (CORBA 3.0 §15.4.4), so deleting the request then would lose the one
// reply it has. The next pull gets it.
func TestPull_CancelledWhileItReadsKeepsTheReply(t *testing.T) {
	st, err := storage.Open(storage.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	gate := &replyGetGateStore{Store: st, held: make(chan struct{}), release: make(chan struct{})}
	defer gate.open()
	e := newEnv(t, agent.Config{Backend: gate})
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	sent := e.call(rcv, "add_stock", reqInfoCtx("t", "", 0, false), addStockArgs("A", 1))
	if sent.poller == nil {
		t.Fatalf("not acknowledged: %+v", sent)
	}
	if tags, err := e.pollTags(proxy, nil, 20_000, false); err != nil || joined(tags) != "t" {
		t.Fatalf("the reply never became ready: %v %v", tags, err)
	}
	gate.armed.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gaveUp := make(chan error, 1)
	go func() {
		_, err := e.client.Invoke(ctx, sent.poller, &giop.Invocation{Operation: "add_stock", Args: addStockArgs("", 0),
			Contexts: waitCtx(0), RawReply: true})
		gaveUp <- err
	}()
	select {
	case <-gate.held: // the pull reads the reply from the store
	case <-time.After(20 * time.Second):
		t.Fatal("the pull never read the reply")
	}
	cancel()
	if err := <-gaveUp; err == nil {
		t.Fatal("the cancelled pull returned a reply")
	}
	// A call on the same connection answered after the CancelRequest was
	// queued: the agent's reader took the cancel in, in order, before it.
	if r := e.call(proxy, "_non_existent", nil, nil); r.err != nil {
		t.Fatalf("_non_existent: %+v", r)
	}
	gate.open()
	var again result
	for i := 0; ; i++ { // the first read's Written move may still be on its way
		again = e.call(sent.poller, "add_stock", waitCtx(20_000), addStockArgs("", 0))
		if !isSys(again.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) || i == 100 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if again.err != nil || !again.resp.Result.Bool() {
		t.Fatalf("the pull after a cancelled read: %+v, want the reply", again)
	}
}

// replyGetGateStore holds the first Get of a reply once armed, until
// released.
type replyGetGateStore struct {
	agent.Store
	armed   atomic.Bool
	once    sync.Once
	held    chan struct{} // closed once a Get is held
	release chan struct{}
	opened  sync.Once
}

func (s *replyGetGateStore) open() { s.opened.Do(func() { close(s.release) }) }

func (s *replyGetGateStore) Get(key []byte) ([]byte, error) {
	if s.armed.Load() && len(key) > 2 && string(key[:2]) == "y/" {
		s.once.Do(func() {
			close(s.held)
			<-s.release
		})
	}
	return s.Store.Get(key)
}

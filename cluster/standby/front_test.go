package standby_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/cluster/standby"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/rawgiop"
	"github.com/requestagent/requestagent/nmproto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangGuard bounds a wait that must end; it is not a bound on its time.
const hangGuard = 30 * time.Second

// owners is a hand-set Owners: who holds the store is what the test says.
type owners struct {
	mu      sync.Mutex
	h       cluster.Holder
	held    bool
	changed chan struct{}
}

func newOwners() *owners { return &owners{changed: make(chan struct{})} }

func (o *owners) Holder() (cluster.Holder, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.h, o.held
}

func (o *owners) Changed() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.changed
}

func (o *owners) set(h cluster.Holder, held bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.h, o.held = h, held
	close(o.changed)
	o.changed = make(chan struct{})
}

// namer answers "name" with the name of the agent it stands for.
type namer string

func (n namer) RepositoryID() string { return "IDL:Test/Namer:1.0" }

func (n namer) Invoke(_ context.Context, r *giop.ServerRequest) error {
	r.Results().WriteString(string(n))
	return nil
}

// A poller's key, as the agent makes them: the forward must carry the
// poller's TAG_NM_REF.
var key = append([]byte{'L'}, make([]byte, 16)...)

// serveNamer serves key as name on ln.
func serveNamer(t *testing.T, ln net.Listener, name string) {
	t.Helper()
	ad := giop.NewAdapter()
	ad.Register(key, namer(name))
	srv := giop.NewServer(nil, ad)
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
}

// startOwner is an agent that owns: a server for key on a port of its own.
func startOwner(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveNamer(t, ln, name)
	return ln.Addr().String()
}

type fixture struct {
	o     *owners
	front *standby.Front
	addr  string
	cl    *giop.Client
}

func startFront(t *testing.T, hold time.Duration) *fixture {
	t.Helper()
	return startFrontDeposing(t, hold, nil)
}

func startFrontDeposing(t *testing.T, hold time.Duration, d standby.Deposer) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := newOwners()
	f, err := standby.Start(standby.Config{Owners: o, Self: "me", Hold: hold, Deposer: d,
		Logger: zerolog.Nop()}, ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cl := giop.NewClient(nil)
	t.Cleanup(func() { cl.Close() })
	return &fixture{o: o, front: f, addr: ln.Addr().String(), cl: cl}
}

// ref is the client's reference: the front's address.
func (fx *fixture) ref(t *testing.T) *giop.IOR {
	addrs, err := standby.ParseAddrs([]string{fx.addr})
	if err != nil {
		t.Fatal(err)
	}
	return giop.NewIOR("IDL:Test/Namer:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: addrs[0].Host, Port: addrs[0].Port, ObjectKey: key})
}

// call asks the object its name through the front (giop.Client follows
// forwards, as ORBs do).
func (fx *fixture) call(t *testing.T) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	resp, err := fx.cl.Invoke(ctx, fx.ref(t), &giop.Invocation{Operation: "name"})
	if err != nil {
		return "", err
	}
	return resp.Result.String(), resp.Result.Err()
}

// TestFront_ForwardsToTheOwner: a call at a standby is forwarded to the
// owner's address and answered there; the forward is the object's key with
// the poller's TAG_NM_REF, so an NM runtime treats the forwarded reference
// as the original.
func TestFront_ForwardsToTheOwner(t *testing.T) {
	fx := startFront(t, time.Second)
	fx.o.set(cluster.Holder{Name: "a", GIOP: []string{startOwner(t, "a")}}, true)
	if got, err := fx.call(t); err != nil || got != "a" {
		t.Fatalf("the call through the standby: %q, %v; want the owner's answer", got, err)
	}
	nc, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for i, v := range []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2} {
		st, _, to, err := rawgiop.LocateForward(nc, v, uint32(i+1), key)
		if err != nil || st != giop.ObjectForward {
			t.Fatalf("GIOP %s LocateRequest: status %d, %v; want OBJECT_FORWARD", v, st, err)
		}
		p, err := to.IIOP()
		if err != nil || string(p.ObjectKey) != string(key) {
			t.Fatalf("forwarded to %+v (%v), want the same key", p, err)
		}
		kind := nmproto.RefKind(0)
		for _, c := range p.Components {
			if c.Tag == nmproto.TagNMRef {
				kind, _ = nmproto.ParseRefComponent(c.Data)
			}
		}
		if kind != nmproto.RefPoller {
			t.Errorf("the forward's TAG_NM_REF is %d, want the poller's %d", kind, nmproto.RefPoller)
		}
	}
}

// TestFront_HoldsWhileNobodyOwns: while nobody owns, a call waits, and is
// forwarded once an owner is known; a LocateRequest meanwhile is answered
// OBJECT_HERE, so that the call it announces comes and is held.
func TestFront_HoldsWhileNobodyOwns(t *testing.T) {
	fx := startFront(t, hangGuard)
	nc, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if st, _, _, err := rawgiop.LocateForward(nc, giop.V1_2, 1, key); err != nil || st != giop.ObjectHere {
		t.Fatalf("LocateRequest while nobody owns: status %d, %v; want OBJECT_HERE", st, err)
	}
	got := fx.callHeld(t, 0, "while nobody owns")
	fx.o.set(cluster.Holder{Name: "b", GIOP: []string{startOwner(t, "b")}}, true)
	if r := <-got; r.err != nil || r.name != "b" {
		t.Fatalf("the held call: %+v, want b's answer", r)
	}
}

// callResult is a call's answer: the name of whoever served it, or why not.
type callResult struct {
	name string
	err  error
}

// callHeld makes a call through the front in the background, waits until
// the front holds it, and checks that it is still unanswered after wait
// — several probes' worth, or none (0) — failing with why otherwise. The
// call's answer comes on the channel.
func (fx *fixture) callHeld(t *testing.T, wait time.Duration, why string) <-chan callResult {
	t.Helper()
	got := make(chan callResult, 1)
	go func() { n, err := fx.call(t); got <- callResult{n, err} }()
	waitHeld(t, fx.front)
	if wait == 0 {
		select {
		case r := <-got:
			t.Fatalf("answered %s: %+v", why, r)
		default:
		}
		return got
	}
	select {
	case r := <-got:
		t.Fatalf("answered %s: %+v", why, r)
	case <-time.After(wait):
	}
	return got
}

// waitHeld waits until the front says a call is held (its NotReady
// reason names a takeover and the call has arrived).
func waitHeld(t *testing.T, f *standby.Front) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for standby.Held(f) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached the front")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFront_HoldEndsInTransient: a takeover longer than the hold is
// TRANSIENT completed NO: the call was not run anywhere.
func TestFront_HoldEndsInTransient(t *testing.T) {
	fx := startFront(t, 50*time.Millisecond)
	_, err := fx.call(t)
	var x *giop.SystemException
	if !errors.As(err, &x) || x.Name != giop.ExcTransient || x.Completed != giop.CompletedNo {
		t.Fatalf("past the hold: %v, want TRANSIENT completed NO", err)
	}
}

// TestFront_HoldsForItselfAndHandsOver: the standby becomes the owner. A
// call it held gets no reply but CloseConnection, the client sends it
// again, and the listener the front gives on serves it; a client that connects between the handover and the new
// server waits in the backlog and is served too.
func TestFront_HoldsForItselfAndHandsOver(t *testing.T) {
	fx := startFront(t, hangGuard)
	first := make(chan error, 1)
	go func() {
		n, err := fx.call(t)
		if err == nil && n != "me" {
			err = errors.New("answered by " + n)
		}
		first <- err
	}()
	waitHeld(t, fx.front)
	fx.o.set(cluster.Holder{Name: "me", GIOP: []string{fx.addr}}, true) // this agent's take
	ln, err := fx.front.Handover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A second client connects before anything serves the listener.
	late := make(chan error, 1)
	go func() {
		cl := giop.NewClient(nil)
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		resp, err := cl.Invoke(ctx, fx.ref(t), &giop.Invocation{Operation: "name"})
		if err == nil && resp.Result.String() != "me" {
			err = errors.New("answered by another")
		}
		late <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it connect: the backlog holds it, whatever the delay
	serveNamer(t, ln, "me")
	if err := <-first; err != nil {
		t.Fatalf("the held call after the handover: %v", err)
	}
	if err := <-late; err != nil {
		t.Fatalf("the call that connected during the handover: %v", err)
	}
}

// TestFront_Validate: a front without what it needs is refused.
func TestFront_Validate(t *testing.T) {
	for _, cfg := range []standby.Config{
		{Self: "me"},
		{Owners: newOwners()},
		{Owners: newOwners(), Self: "me", Hold: -time.Second},
		{Owners: newOwners(), Self: "me", Hold: standby.MaxHold + 1},
		{Owners: newOwners(), Self: "me", Addrs: []string{"no port"}},
	} {
		if err := cfg.Validate(); !errors.Is(err, standby.ErrBadConfig) {
			t.Errorf("%+v: %v, want ErrBadConfig", cfg, err)
		}
	}
}

// TestFront_HoldsWhileTheOwnerDoesNotAnswer: etcd still names an owner
// that died (its lease not yet over): a call is held rather than
// forwarded to an address that refuses — which would send an omniORB
// client into its back-off — and forwarded once the owner named answers.
func TestFront_HoldsWhileTheOwnerDoesNotAnswer(t *testing.T) {
	fx := startFront(t, hangGuard)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // connects to it are refused now
	fx.o.set(cluster.Holder{Name: "a", GIOP: []string{deadAddr}}, true)
	got := fx.callHeld(t, 6*probeEveryForTest, "while the owner named does not answer")
	fx.o.set(cluster.Holder{Name: "b", GIOP: []string{startOwner(t, "b")}}, true)
	if r := <-got; r.err != nil || r.name != "b" {
		t.Fatalf("the held call: %+v, want b's answer", r)
	}
}

// probeEveryForTest is the front's probe period (liveness.go).
const probeEveryForTest = 250 * time.Millisecond

// deposer is a hand-run Deposer: each lease's time left runs down from
// its grant, from when it is first asked of, unless renewing says the
// owner renews it.
type deposer struct {
	granted  time.Duration
	renewing func(lease int64) bool
	deposed  chan cluster.Holder

	mu    sync.Mutex
	asked map[int64]time.Time
}

func (d *deposer) LeaseLeft(_ context.Context, h cluster.Holder) (time.Duration, time.Duration, error) {
	if d.renewing(h.Lease) {
		return d.granted, d.granted, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.asked[h.Lease]; !ok {
		d.asked[h.Lease] = time.Now()
	}
	left := d.granted - time.Since(d.asked[h.Lease])
	return max(left, 0).Truncate(time.Second), d.granted, nil
}

func (d *deposer) Depose(_ context.Context, h cluster.Holder) error {
	d.deposed <- h
	return nil
}

// TestFront_DeposesADeadOwner: an owner whose address refuses connections
// probe after probe, and whose lease runs down unrenewed, is dead: its
// lease is revoked, once, so that a standby takes over without waiting it
// out. An owner that answers is never deposed, nor one that renews its
// lease while its address refuses this standby (a firewall's REJECT).
func TestFront_DeposesADeadOwner(t *testing.T) {
	d := &deposer{granted: 6 * time.Second, asked: map[int64]time.Time{}, deposed: make(chan cluster.Holder, 4),
		renewing: func(lease int64) bool { return lease != 42 }}
	fx := startFrontDeposing(t, hangGuard, d)
	none := func(what string) {
		t.Helper()
		select {
		case h := <-d.deposed:
			t.Fatalf("deposed %+v, %s", h, what)
		case <-time.After(16 * probeEveryForTest): // past the window of evidence, 2.25 s at this grant
		}
	}
	fx.o.set(cluster.Holder{Name: "a", GIOP: []string{startOwner(t, "a")}, Lease: 7}, true)
	none("whose address answers")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	fx.o.set(cluster.Holder{Name: "c", GIOP: []string{deadAddr}, Lease: 9}, true)
	none("who renews its lease")
	fx.o.set(cluster.Holder{Name: "b", GIOP: []string{deadAddr}, Lease: 42}, true)
	select {
	case h := <-d.deposed:
		if h.Name != "b" || h.Lease != 42 {
			t.Fatalf("deposed %+v, want b's lease 42", h)
		}
	case <-time.After(hangGuard):
		t.Fatal("the dead owner was never deposed")
	}
	none("again")
}

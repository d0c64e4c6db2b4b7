package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// The store fixture (testdata/store-v1/README.md): a store written by the
// agent as it is, which every later agent must still read. Its requests
// and proxies are described in its manifest, fixtureManifest.

// fixtureDir is the fixture of record version 1 (records.go).
const fixtureDir = "testdata/store-v1"

// fixtureEnv is the environment variable that makes TestFixture_Write
// write the fixture again, over the one committed.
const fixtureEnv = "REQUESTAGENT_WRITE_FIXTURE"

// The fixture's live target and recipient: one server at an address fixed
// when the fixture is written, since the store holds their references.
// A loopback address other than 127.0.0.1 and a port below Linux's
// ephemeral range (32768–60999) make it unlikely that anything else
// holds the address when the fixture test runs: only a listener on every
// address at that port could (fixtureServe then skips what needs it).
const (
	fixtureHost = "127.83.70.1"
	fixturePort = 24731
)

// fixtureDead is where the fixture's queued request goes: a target the
// fixture test's target policy refuses, so that the agent never dials it
// whatever listens there now.
const fixtureDead = "127.0.0.1:1"

// fixtureManifest is what the fixture holds, as its generator left it:
// the references it handed out (their host and port are the generating
// agent's; their object keys are what the test keeps) and what each
// request and proxy is.
type fixtureManifest struct {
	// RecordVersion is the version octet of the records written.
	RecordVersion int `json:"record_version"`
	// Written is when the fixture was written.
	Written time.Time `json:"written"`
	// Target and Recipient are the live servant's references at
	// generation: fixtureHost:fixturePort.
	Target    string `json:"target"`
	Recipient string `json:"recipient"`
	// Proxies and Requests are named by the roles below.
	Proxies  map[string]fixtureProxy   `json:"proxies"`
	Requests map[string]fixtureRequest `json:"requests"`
}

// fixtureProxy is one stored proxy: its public id, its references, and
// what the generator asked of it.
type fixtureProxy struct {
	ID            string           `json:"id"`
	Proxy         string           `json:"proxy"`
	Receiver      string           `json:"receiver"`
	Properties    agent.Properties `json:"properties"`
	ToBeDestroyed bool             `json:"to_be_destroyed"`
}

// fixtureRequest is one stored request: its public id, the reference a
// client pulls its reply from (a poller, or a request object), and the
// state the admin listing gave it when the store was closed.
type fixtureRequest struct {
	ID    string `json:"id"`
	Proxy string `json:"proxy,omitempty"` // role of its proxy
	Group string `json:"group,omitempty"` // create_request's polling group
	Tag   string `json:"tag"`
	// Reply is the poller or request object to pull the reply from;
	// none for a request whose reply goes to a recipient.
	Reply string `json:"reply,omitempty"`
	State string `json:"state"`
}

// The roles of the fixture's proxies and requests.
const (
	// Proxies: to the live target, with WaitReply and ReplyDropping set;
	// to the live target with the live recipient and ManualTrash; to the
	// refused target, destroyed (false) while its request is queued.
	fxProxyLive     = "live"
	fxProxyCallback = "callback"
	fxProxyDead     = "dead"

	fxReplied  = "replied"  // live: add_stock replied, unread
	fxUser     = "user"     // live: remove_stock raised NotFound, unread
	fxGrouped  = "grouped"  // create_request in group fixtureGroup, invoked, replied, unread
	fxCreated  = "created"  // create_request in fixtureGroup, never invoked
	fxCallback = "callback" // callback: replied, its callback not yet delivered
	fxSending  = "sending"  // live: caught mid-delegation by the agent's stop
	fxQueued   = "queued"   // dead: accepted, waiting for a delegation thread

	fixtureGroup = "fixture"
)

// fixtureProps are the stored proxies' properties: none the defaults.
var fixtureProps = map[string]agent.Properties{
	fxProxyLive:     {WaitReply: true, ReplyDropping: nmproto.DropSystemExceptions},
	fxProxyCallback: {ReplyDropping: nmproto.DropSystemExceptions, ManualTrash: true},
	fxProxyDead:     {ReplyDropping: nmproto.DropUserExceptions | nmproto.DropNormal},
}

func propsOf(p agent.Properties) []prop {
	return []prop{boolProp(nmproto.PropWaitReply, p.WaitReply), octetProp(nmproto.PropReplyDropping, p.ReplyDropping),
		boolProp(nmproto.PropRequestManualTrash, p.ManualTrash)}
}

// fixtureServe serves the fixture's live target and recipient at
// fixtureHost:fixturePort: StockManager, and Recipient when r is set.
func fixtureServe(t *testing.T, sm *stockManager, r giop.Servant) (target, recipient *giop.IOR, err error) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(fixtureHost, strconv.Itoa(fixturePort)))
	if err != nil {
		return nil, nil, err
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), sm)
	if r != nil {
		ad.Register([]byte("Recipient"), r)
	}
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	target = giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: fixtureHost, Port: fixturePort,
		ObjectKey: []byte("StockManager"), Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})
	recipient = giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: fixtureHost,
		Port: fixturePort, ObjectKey: []byte("Recipient")})
	return target, recipient, nil
}

// TestFixture_Write writes the store fixture again (testdata/store-v1,
// README.md there), with REQUESTAGENT_WRITE_FIXTURE=1; otherwise it is
// skipped. The agent is stopped at once, as in TestRestart_NothingAcknowledgedIsLost,
// with one delegation held at the target and one request queued behind it.
func TestFixture_Write(t *testing.T) {
	if os.Getenv(fixtureEnv) != "1" {
		t.Skipf("writes %s only with %s=1", fixtureDir, fixtureEnv)
	}
	sm := newStockManager()
	target, recipientRef, err := fixtureServe(t, sm, nil) // no Recipient yet: the callback fails
	if err != nil {
		t.Fatalf("the fixture's target at %s:%d: %v", fixtureHost, fixturePort, err)
	}
	data := filepath.Join(fixtureDir, "data")
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	cfg := agent.Config{
		Listen:     "127.0.0.1:0",
		Store:      storage.Config{Dir: data, Durable: true},
		MaxThreads: 1,
		// The callback fails (no Recipient yet) and is retried until the
		// stop: its request stays replied, its delivery pending.
		RecipientRetryBudget: time.Hour,
	}
	e := &env{t: t, sm: sm, target: target}
	e.agent, err = agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			e.agent.Close()
		}
	})
	e.agentRef = e.agent.IOR()
	e.client = giop.NewClient(nil)
	t.Cleanup(func() { e.client.Close() })

	m := fixtureManifest{RecordVersion: 1, Written: time.Now().UTC().Truncate(time.Second),
		Target: target.String(), Recipient: recipientRef.String(),
		Proxies: map[string]fixtureProxy{}, Requests: map[string]fixtureRequest{}}
	dead := giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 1,
		ObjectKey: []byte("StockManager"), Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})
	proxies := map[string]*giop.IOR{}
	for role, to := range map[string][2]*giop.IOR{fxProxyLive: {target, nil}, fxProxyCallback: {target, recipientRef},
		fxProxyDead: {dead, nil}} {
		p, err := e.createProxy(to[0], "", to[1], propsOf(fixtureProps[role])...)
		if err != nil {
			t.Fatalf("proxy %s: %v", role, err)
		}
		proxies[role] = p
		m.Proxies[role] = fixtureProxy{Proxy: p.String(), Receiver: e.receiver(p).String(), Properties: fixtureProps[role]}
	}
	rcv := func(role string) *giop.IOR {
		r, err := giop.ParseIOR(m.Proxies[role].Receiver)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	viaProxy := func(name, role, op string, args func(*giop.Encoder)) {
		t.Helper()
		r := e.call(rcv(role), op, reqInfoCtx(name, "c-"+name, 0, false), args)
		fr := fixtureRequest{Proxy: role, Tag: name}
		switch {
		case role == fxProxyCallback && r.poller != nil && r.poller.IsNil():
			// Its reply goes to the recipient: no poller is handed out.
		case r.poller == nil || r.poller.IsNil():
			t.Fatalf("request %s not acknowledged: %v (poller %v)", name, r.err, r.poller)
		default:
			fr.Reply = r.poller.String()
		}
		m.Requests[name] = fr
	}
	// ready waits until the group of proxy (or fixtureGroup) has n replies.
	ready := func(proxy *giop.IOR, n int) {
		t.Helper()
		var group *string
		if proxy == nil {
			proxy, group = e.agentRef, new(string)
			*group = fixtureGroup
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
			if tags, err := e.pollTags(proxy, group, 0, false); err == nil && len(tags) >= n {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("replies not ready: %v %v", tags, err)
			}
		}
	}

	viaProxy(fxReplied, fxProxyLive, "add_stock", addStockArgs("REPLIED", 1.5))
	viaProxy(fxUser, fxProxyLive, "remove_stock", stringArg("NOSUCH"))
	ready(proxies[fxProxyLive], 2)
	for _, name := range []string{fxGrouped, fxCreated} {
		resp, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "create_request", Args: func(enc *giop.Encoder) {
			enc.WriteIOR(target)
			enc.WriteString(stockID)
			enc.WriteIOR(nil)
			enc.WriteOctets([]byte("c-" + name))
			enc.WriteString(fixtureGroup)
			enc.WriteOctets([]byte(name))
			writeProps(enc, []prop{boolProp(nmproto.PropRequestManualTrash, true)})
		}})
		if err != nil {
			t.Fatalf("create_request %s: %v", name, err)
		}
		obj := resp.Result.IOR()
		m.Requests[name] = fixtureRequest{Group: fixtureGroup, Tag: name, Reply: obj.String()}
	}
	obj, _ := giop.ParseIOR(m.Requests[fxGrouped].Reply)
	if r := e.call(obj, "add_stock", nil, addStockArgs("GROUPED", 2)); !r.rna {
		t.Fatalf("the request object's first call: %+v", r)
	}
	ready(nil, 1)
	viaProxy(fxCallback, fxProxyCallback, "add_stock", addStockArgs("CALLBACK", 3))
	ready(proxies[fxProxyCallback], 1)

	release := sm.hold()
	defer release()
	viaProxy(fxSending, fxProxyLive, "add_stock", addStockArgs("SENDING", 4))
	for sym := ""; sym != "SENDING"; sym = <-sm.entered {
	}
	viaProxy(fxQueued, fxProxyDead, "add_stock", addStockArgs("QUEUED", 5))
	if _, err := e.client.Invoke(e.ctx(), proxies[fxProxyDead], &giop.Invocation{Operation: "destroy",
		Args: func(enc *giop.Encoder) { enc.WriteBool(false) }}); err != nil {
		t.Fatalf("destroy(false): %v", err)
	}

	// What the admin listing says, as the store is closed. Requests are
	// found by their tags (each one's own), proxies by their requests.
	byTag := map[string]agent.RequestInfo{}
	for _, ri := range e.agent.Requests() {
		byTag[ri.Tag] = ri
	}
	if len(byTag) != len(m.Requests) {
		t.Fatalf("%d requests listed, want %d", len(byTag), len(m.Requests))
	}
	proxyIDs := map[string]string{}
	for name, fr := range m.Requests {
		ri, ok := byTag[fr.Tag]
		if !ok {
			t.Fatalf("request %s not listed", name)
		}
		fr.ID, fr.State = ri.ID, ri.State
		m.Requests[name] = fr
		if fr.Proxy != "" {
			proxyIDs[fr.Proxy] = ri.Proxy
		}
	}
	pinfo := map[string]agent.ProxyInfo{}
	for _, pi := range e.agent.Proxies() {
		pinfo[pi.ID] = pi
	}
	for role, fp := range m.Proxies {
		fp.ID = proxyIDs[role]
		pi, ok := pinfo[fp.ID]
		if !ok || pi.Properties != fp.Properties {
			t.Fatalf("proxy %s: %+v", role, pi)
		}
		fp.ToBeDestroyed = pi.ToBeDestroyed
		m.Proxies[role] = fp
	}
	// Nothing more is stored, as if the process died here: Close cuts the
	// delegation held at the target, and without this its COMM_FAILURE
	// would be stored as the reply, before recovery could make it one.
	e.agent.InjectStoreFault(errors.New("the fixture is written"))
	e.agent.Close()
	closed = true
	// Badger's DISCARD file is 1 MiB of value-log discard statistics,
	// all zero in a store this small; Badger makes it again when missing.
	if err := os.Remove(filepath.Join(data, "DISCARD")); err != nil {
		t.Fatal(err)
	}

	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fixtureDir, "manifest.json"), append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s: %d proxies, %d requests", fixtureDir, len(m.Proxies), len(m.Requests))
}

// errAddrInUse reports whether err is a listener's EADDRINUSE or
// EADDRNOTAVAIL (no such loopback address on this system).
func errAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EADDRNOTAVAIL)
}

// readFixture reads the fixture's manifest and copies its store to a
// directory of the test's own: opening a store changes it.
func readFixture(t *testing.T) (fixtureManifest, string) {
	t.Helper()
	var m fixtureManifest
	b, err := os.ReadFile(filepath.Join(fixtureDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(fixtureDir, "data"))); err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// heldRecipient is a goRecipient whose reply_available returns only once
// release is closed: until then the agent has not recorded the delivery.
type heldRecipient struct {
	*goRecipient
	release chan struct{}
}

func (r heldRecipient) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	if err := r.goRecipient.Invoke(ctx, req); err != nil {
		return err
	}
	select {
	case <-r.release:
	case <-ctx.Done():
	}
	return nil
}

// TestFixture_StoreV1: the agent opens the store its version-1 records
// were written in (testdata/store-v1), on an address of its own, and
// everything in it is as it was: the admin listing has every request in
// its state and every proxy with its properties; the unread replies are
// pulled through the pollers and request objects handed out then (their
// object keys, at the new address), the target's real replies; the
// request caught mid-delegation is COMM_FAILURE/COMPLETED_MAYBE; the
// queued one is delegated now, and refused by the target policy rather
// than sent anywhere; the proxy destroyed while it was queued goes once
// its reply is read. With the fixture's live target back at its address
// (fixtureServe), the pending callback is made, the old proxy and
// receiver take a new request to it, and the request object never
// invoked is invoked.
func TestFixture_StoreV1(t *testing.T) {
	m, dir := readFixture(t)
	if m.RecordVersion != 1 {
		t.Fatalf("manifest of record version %d", m.RecordVersion)
	}
	sm := newStockManager()
	client := giop.NewClient(nil)
	t.Cleanup(func() { client.Close() })
	rcp := heldRecipient{&goRecipient{client: client, arrived: make(chan delivery, 4), pull: true}, make(chan struct{})}
	_, _, serveErr := fixtureServe(t, sm, rcp)
	live := serveErr == nil
	if !live && !errAddrInUse(serveErr) {
		t.Fatalf("the fixture's target at %s:%d: %v", fixtureHost, fixturePort, serveErr)
	}
	released := false
	release := func() {
		if !released {
			close(rcp.release)
			released = true
		}
	}
	defer release()
	policy := agent.TargetPolicy{Deny: []string{fixtureDead}}
	if !live {
		// Whatever holds the address now is not the fixture's: never call it.
		policy.Deny = append(policy.Deny, fixtureHost)
	}
	a, err := agent.Start(agent.Config{
		Listen:             "127.0.0.1:0",
		Store:              storage.Config{Dir: dir, Durable: true},
		CreatedRetention:   -1, // the fixture's request object was made long ago
		TargetPolicy:       policy,
		ConnectRetryBudget: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("opening the fixture: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	e := &env{t: t, agent: a, client: client, agentRef: a.IOR(), sm: sm}
	// ref rebuilds a reference handed out by the fixture's agent: its
	// object key (and type and components) at this agent's address.
	ref := func(s string) *giop.IOR {
		t.Helper()
		old, err := giop.ParseIOR(s)
		if err != nil {
			t.Fatal(err)
		}
		prof, err := old.IIOP()
		if err != nil {
			t.Fatal(err)
		}
		prof.Host, prof.Port = "127.0.0.1", uint16(a.Port())
		return giop.NewIOR(old.TypeID, prof)
	}
	request := func(name string) fixtureRequest {
		fr, ok := m.Requests[name]
		if !ok {
			t.Fatalf("the manifest has no request %s", name)
		}
		return fr
	}

	// The listing, as recovery left it: the request caught mid-delegation
	// has its result; the queued one may be on its way, or have its own.
	wantState := map[string][]string{fxReplied: {"replied"}, fxUser: {"replied"}, fxGrouped: {"replied"},
		fxCreated: {"created"}, fxCallback: {"replied"}, fxSending: {"replied"}, fxQueued: {"queued", "delegating", "replied"}}
	listed := map[string]agent.RequestInfo{}
	for _, ri := range a.Requests() {
		listed[ri.ID] = ri
	}
	if len(listed) != len(wantState) {
		t.Errorf("%d requests listed, want %d", len(listed), len(wantState))
	}
	for name, states := range wantState {
		fr := request(name)
		ri, ok := listed[fr.ID]
		switch {
		case !ok:
			t.Errorf("request %s (%s) not listed", name, fr.ID)
			continue
		case !slices.Contains(states, ri.State):
			t.Errorf("request %s is %s, want %v (it was %s when stored)", name, ri.State, states, fr.State)
		case ri.Tag != fr.Tag || ri.Cookie != "c-"+name:
			t.Errorf("request %s: tag %q cookie %q", name, ri.Tag, ri.Cookie)
		case fr.Proxy != "" && ri.Proxy != m.Proxies[fr.Proxy].ID:
			t.Errorf("request %s: proxy %s, want %s", name, ri.Proxy, m.Proxies[fr.Proxy].ID)
		case ri.Group != fr.Group:
			t.Errorf("request %s: group %q, want %q", name, ri.Group, fr.Group)
		}
	}
	wantRequests := map[string]int{fxProxyLive: 3, fxProxyCallback: 1, fxProxyDead: 1}
	proxies := map[string]agent.ProxyInfo{}
	for _, pi := range a.Proxies() {
		proxies[pi.ID] = pi
	}
	if len(proxies) != len(m.Proxies) {
		t.Errorf("%d proxies listed, want %d", len(proxies), len(m.Proxies))
	}
	for role, fp := range m.Proxies {
		pi, ok := proxies[fp.ID]
		if !ok || pi.Properties != fixtureProps[role] || pi.ToBeDestroyed != (role == fxProxyDead) ||
			pi.Requests != wantRequests[role] {
			t.Errorf("proxy %s: %+v (listed %v), want properties %+v, %d requests", role, pi, ok, fixtureProps[role], wantRequests[role])
		}
	}

	// The replies stored before, through the references handed out then.
	p := e.call(ref(request(fxReplied).Reply), "add_stock", waitCtx(0), addStockArgs("", 0))
	if p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Errorf("the unread reply: %v (reply not available %v)", p.err, p.rna)
	}
	p = e.call(ref(request(fxUser).Reply), "remove_stock", waitCtx(0), stringArg(""))
	if !isUser(p.err, "IDL:StockManager/NotFound:1.0") || !p.replierName {
		t.Errorf("the unread user exception: %v (replier name %v)", p.err, p.replierName)
	}
	group := fixtureGroup
	if tags, err := e.pollTags(e.agentRef, &group, 0, false); err != nil || joined(tags) != fxGrouped {
		t.Errorf("polling group %q: %q, %v; want the replied request's tag only", group, tags, err)
	}
	p = e.call(ref(request(fxGrouped).Reply), "add_stock", waitCtx(0), addStockArgs("", 0))
	if p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Errorf("the request object's reply: %v (reply not available %v)", p.err, p.rna)
	}
	p = e.call(ref(request(fxSending).Reply), "add_stock", waitCtx(0), addStockArgs("", 0))
	if x, ok := p.err.(*giop.SystemException); !ok || !isSys(x, giop.ExcCommFailure, nmproto.TargetConnectionLost) ||
		x.Completed != giop.CompletedMaybe || !p.replierName {
		t.Errorf("the request caught mid-delegation: %v, want COMM_FAILURE/TARGET_CONNECTION_LOST completed MAYBE", p.err)
	}

	// The queued request, to a target this agent may not call; its
	// proxy, destroyed while it waited, goes with it.
	if _, err := e.getRef(ref(m.Proxies[fxProxyDead].Proxy), "_get_the_receiver"); !isSys(err, giop.ExcObjectNotExist, 0) {
		t.Errorf("the_receiver of a proxy to be destroyed: %v, want OBJECT_NOT_EXIST", err)
	}
	p = e.call(ref(request(fxQueued).Reply), "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	if x, ok := p.err.(*giop.SystemException); !ok || !isSys(x, giop.ExcNoPermission, nmproto.TargetNotAllowed) ||
		x.Completed != giop.CompletedNo || !p.replierName {
		t.Errorf("the queued request: %v, want NO_PERMISSION/TARGET_NOT_ALLOWED completed NO (delegated now, refused)", p.err)
	}
	waitFor(t, "the destroyed proxy's reaping", func() bool {
		for _, pi := range a.Proxies() {
			if pi.ID == m.Proxies[fxProxyDead].ID {
				return false
			}
		}
		return true
	})

	t.Run("live", func(t *testing.T) {
		if !live {
			t.Skipf("%s:%d is taken (%v): the callback, the old proxy and the request object not invoked need the fixture's target there",
				fixtureHost, fixturePort, serveErr)
		}
		parent := e.t
		e.t = t
		defer func() { e.t = parent }()
		// The pending callback, made by recovery: the recipient pulls the
		// stored reply through its holder.
		select {
		case d := <-rcp.arrived:
			if d.op != "add_stock" || d.cookie != "c-"+fxCallback || d.pullErr != nil || !d.result {
				t.Errorf("the pending callback: %+v", d)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the pending callback was not made")
		}
		if st := stateOf(a, request(fxCallback).ID); st != "replied" {
			t.Errorf("callback's request is %s while reply_available runs, want replied", st)
		}
		release()
		waitFor(t, "the delivery's record", func() bool { return stateOf(a, request(fxCallback).ID) == "delivered" })

		// The old proxy and its receiver: a new request, delegated to the
		// live target; WaitReply (restored) makes it mature in the call.
		live := m.Proxies[fxProxyLive]
		props, err := e.client.Invoke(e.ctx(), ref(live.Proxy), &giop.Invocation{Operation: "_get_properties"})
		if err != nil {
			t.Fatal(err)
		}
		if got := readProperties(t, props.Result); got != fixtureProps[fxProxyLive] {
			t.Errorf("the old proxy's properties: %+v, want %+v", got, fixtureProps[fxProxyLive])
		}
		rcv := e.receiver(ref(live.Proxy))
		if got, want := keyOf(t, rcv), keyOf(t, ref(live.Receiver)); !bytes.Equal(got, want) {
			t.Errorf("the old proxy's receiver has key %x, want %x (the stored one)", got, want)
		}
		before := sm.calls.Load()
		p := e.call(ref(live.Receiver), "add_stock", reqInfoCtx("new", "", 10_000, false), addStockArgs("NEW", 6))
		if p.err != nil || p.rna || !p.resp.Result.Bool() {
			t.Errorf("a new request through the old receiver: %v (reply not available %v)", p.err, p.rna)
		}
		// The request object made but never invoked: invoked now.
		p = e.call(ref(request(fxCreated).Reply), "add_stock", nil, addStockArgs("CREATED", 7))
		if !p.rna {
			t.Fatalf("the request object's first call: %v, want a premature return", p.err)
		}
		p = e.call(ref(request(fxCreated).Reply), "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
		if p.err != nil || p.rna || !p.resp.Result.Bool() {
			t.Errorf("the request object's reply: %v", p.err)
		}
		if got := sm.calls.Load() - before; got != 2 {
			t.Errorf("the target got %d calls, want 2 (the new request, the request object): nothing stored is sent again", got)
		}
	})
}

// stateOf is the state the admin listing gives the request with public
// id id, or "" when it is not listed.
func stateOf(a *agent.Agent, id string) string {
	for _, ri := range a.Requests() {
		if ri.ID == id {
			return ri.State
		}
	}
	return ""
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 20s", what)
		}
	}
}

// readProperties decodes a PropertySeq of the three Native Messaging
// properties.
func readProperties(t *testing.T, d *giop.Decoder) agent.Properties {
	t.Helper()
	props := nmproto.ReadProperties(d)
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	var p agent.Properties
	for _, pr := range props {
		switch pr.Name {
		case nmproto.PropWaitReply:
			p.WaitReply, _ = pr.Value.Value.(bool)
		case nmproto.PropReplyDropping:
			p.ReplyDropping, _ = pr.Value.Value.(byte)
		case nmproto.PropRequestManualTrash:
			p.ManualTrash, _ = pr.Value.Value.(bool)
		}
	}
	return p
}

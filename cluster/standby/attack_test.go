package standby_test

// Attacks on the standby's front (docs/cluster.md, "Standbys forward"):
// a hostile client's bytes, a flood while nobody owns, an ownership key
// that names the front itself, and a client sending as fast as it can
// while the standby becomes the owner.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/cluster/standby"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/rawgiop"
)

// readMsg reads one GIOP message from nc, its body bounded by limit.
func readMsg(nc net.Conn, limit uint32) (*giop.Message, error) {
	hdr := make([]byte, giop.HeaderSize)
	if _, err := io.ReadFull(nc, hdr); err != nil {
		return nil, err
	}
	h, err := giop.ParseHeader(hdr)
	if err != nil {
		return nil, err
	}
	if h.Size > limit {
		return nil, fmt.Errorf("a %v of %d bytes", h.Type, h.Size)
	}
	buf := append(hdr, make([]byte, h.Size)...)
	if _, err := io.ReadFull(nc, buf[giop.HeaderSize:]); err != nil {
		return nil, err
	}
	return &giop.Message{Header: h, Buf: buf}, nil
}

// request is a GIOP Request for "name" on key, id, at version v.
func request(v giop.Version, little bool, id uint32, key []byte) []byte {
	e := giop.NewEncoder(v, little)
	e.StartRequest(v, &giop.RequestHeader{RequestID: id, ResponseFlags: giop.ResponseTarget, ObjectKey: key, Operation: "name"})
	return append([]byte(nil), e.FinishMessage()...)
}

// TestAttack_MalformedGIOPAnsweredMessageError: bytes no ORB sends —
// a bad magic, an unknown version, a giant declared size, a fragment with
// nothing before it, a fragment in GIOP 1.0, an unknown message type, a
// request whose header is cut short, an object key past the limit — are
// answered MessageError and the connection closed; a header cut short and
// then the end of the stream is closed. Through all of it the front
// forwards another client's calls.
func TestAttack_MalformedGIOPAnsweredMessageError(t *testing.T) {
	fx := startFront(t, hangGuard)
	fx.o.set(cluster.Holder{Name: "b", GIOP: []string{startOwner(t, "b")}}, true)
	shortReq := request(giop.V1_2, false, 1, key)
	binary.BigEndian.PutUint32(shortReq[8:], 6) // the body: 6 bytes of a request header
	shortReq = shortReq[:giop.HeaderSize+6]
	e := giop.NewEncoder(giop.V1_2, false)
	bigKey := e.EncodeLocateRequest(giop.V1_2, 1, make([]byte, 4<<10+1))
	for name, bytes := range map[string][]byte{
		"bad magic":               append([]byte("GIOX\x01\x02\x00\x00"), 0, 0, 0, 0),
		"version 1.9":             rawgiop.Header(1, 9, 0, giop.MsgRequest, 0),
		"version 2.0":             rawgiop.Header(2, 0, 0, giop.MsgRequest, 0),
		"a giant declared size":   rawgiop.Header(1, 2, 0, giop.MsgRequest, 0xFFFFFFF0),
		"a fragment out of place": append(rawgiop.Header(1, 2, 0, giop.MsgFragment, 4), 0, 0, 0, 1),
		"a fragment in GIOP 1.0":  rawgiop.Header(1, 0, 0, giop.MsgFragment, 0),
		"message type 42":         rawgiop.Header(1, 2, 0, giop.MsgType(42), 0),
		"a request cut short":     shortReq,
		"a key past the limit":    append([]byte(nil), bigKey...),
	} {
		nc, err := net.Dial("tcp", fx.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(hangGuard))
		if _, err := nc.Write(bytes); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m, err := readMsg(nc, 1<<16)
		if err != nil || m.Type != giop.MsgMessageError {
			t.Errorf("%s: %v %v, want MessageError", name, m, err)
		} else if _, err := readMsg(nc, 1<<16); err == nil {
			t.Errorf("%s: the connection stays open after MessageError", name)
		}
		nc.Close()
	}
	// A header cut short, then the end of the stream: nothing to answer,
	// the connection is closed.
	nc, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(hangGuard))
	nc.Write([]byte("GIOP\x01"))
	nc.(*net.TCPConn).CloseWrite()
	if _, err := io.ReadAll(nc); err != nil {
		t.Errorf("a header cut short: %v, want the connection closed", err)
	}
	nc.Close()
	if got, err := fx.call(t); err != nil || got != "b" {
		t.Fatalf("a client's call after the attacks: %q, %v; want the owner's answer", got, err)
	}
}

// TestAttack_ForwardDecodesAtEveryVersion: a LocateRequest at GIOP 1.0,
// 1.1 and 1.2 with an empty key and one at the limit (4 KiB), and a
// Request at each version in both byte orders: every forward decodes, with
// giop's decoder, to the same key at the owner's address.
func TestAttack_ForwardDecodesAtEveryVersion(t *testing.T) {
	fx := startFront(t, hangGuard)
	owner := startOwner(t, "b")
	fx.o.set(cluster.Holder{Name: "b", GIOP: []string{owner}}, true)
	wantAt := func(what string, ior *giop.IOR, k []byte) {
		t.Helper()
		p, err := ior.IIOP()
		if err != nil {
			t.Fatalf("%s: the forward has no IIOP profile: %v", what, err)
		}
		if string(p.ObjectKey) != string(k) || net.JoinHostPort(p.Host, fmt.Sprint(p.Port)) != owner {
			t.Fatalf("%s: forwarded to %s:%d key of %d bytes, want %s and the same key of %d", what, p.Host, p.Port, len(p.ObjectKey), owner, len(k))
		}
	}
	nc, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	id := uint32(0)
	for _, v := range []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2} {
		for _, k := range [][]byte{{}, make([]byte, 4<<10)} {
			id++
			st, _, to, err := rawgiop.LocateForward(nc, v, id, k)
			what := fmt.Sprintf("GIOP %s LocateRequest, a key of %d bytes", v, len(k))
			if err != nil || st != giop.ObjectForward {
				t.Fatalf("%s: status %d, %v; want OBJECT_FORWARD", what, st, err)
			}
			wantAt(what, to, k)
		}
		for _, little := range []bool{false, true} {
			for _, k := range [][]byte{key, {}, make([]byte, 4<<10)} {
				id++
				what := fmt.Sprintf("GIOP %s Request (little endian %v), a key of %d bytes", v, little, len(k))
				nc.SetDeadline(time.Now().Add(hangGuard))
				if _, err := nc.Write(request(v, little, id, k)); err != nil {
					t.Fatal(err)
				}
				m, err := readMsg(nc, 1<<16)
				if err != nil || m.Type != giop.MsgReply {
					t.Fatalf("%s: %v %v, want a Reply", what, m, err)
				}
				if m.Version != v || m.LittleEndian != little {
					t.Errorf("%s: answered at %s little endian %v", what, m.Version, m.LittleEndian)
				}
				h, d, err := giop.DecodeReply(m)
				if err != nil || h.RequestID != id || h.Status != giop.ReplyLocationForward {
					t.Fatalf("%s: %+v %v, want LOCATION_FORWARD for request %d", what, h, err, id)
				}
				ior := d.IOR()
				if d.Err() != nil {
					t.Fatalf("%s: the forwarded reference does not decode: %v", what, d.Err())
				}
				wantAt(what, ior, k)
			}
		}
	}
}

// TestAttack_OwnerNamedAtTheFrontItself: an ownership key written by
// someone else names this front's own address. Forwarding there would send
// every client round in a loop between the front and itself (omniORB
// follows LOCATION_FORWARD without a hop limit); the front holds the call
// instead, as for an owner that does not answer, and answers TRANSIENT
// past the hold, and a LocateRequest is not forwarded to it either.
func TestAttack_OwnerNamedAtTheFrontItself(t *testing.T) {
	fx := startFront(t, 300*time.Millisecond)
	fx.o.set(cluster.Holder{Name: "intruder", GIOP: []string{fx.addr}}, true)
	nc, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(hangGuard))
	if _, err := nc.Write(request(giop.V1_2, false, 9, key)); err != nil {
		t.Fatal(err)
	}
	m, err := readMsg(nc, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	h, d, err := giop.DecodeReply(m)
	if err != nil || h.Status != giop.ReplySystemException {
		t.Fatalf("a call with the owner named at the front itself: %+v %v, want TRANSIENT completed NO after the hold", h, err)
	}
	if x := d.SystemException(); x.Name != giop.ExcTransient || x.Completed != giop.CompletedNo {
		t.Fatalf("a call with the owner named at the front itself: %v, want TRANSIENT completed NO after the hold", x)
	}
	if st, _, to, err := rawgiop.LocateForward(nc, giop.V1_2, 1, key); err != nil || st == giop.ObjectForward {
		t.Fatalf("a LocateRequest with the owner named at the front itself: status %d to %v, %v; want no forward", st, to, err)
	}
	// The address this agent advertises, as the key may give it, is the
	// front's too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := newOwners()
	o.set(cluster.Holder{Name: "intruder", GIOP: []string{"standby.example:14000"}}, true)
	adv, err := standby.Start(standby.Config{Owners: o, Self: "me", Addrs: []string{"standby.example:14000"},
		Logger: zerolog.Nop()}, ln)
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Close()
	anc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer anc.Close()
	if st, _, to, err := rawgiop.LocateForward(anc, giop.V1_2, 1, key); err != nil || st == giop.ObjectForward {
		t.Fatalf("a LocateRequest with the owner named at the address the front advertises: status %d to %v, %v; want no forward", st, to, err)
	}
	// Once a real owner is named, the front forwards to it.
	fx.o.set(cluster.Holder{Name: "b", GIOP: []string{fx.addr, startOwner(t, "b")}}, true)
	if got, err := fx.call(t); err != nil || got != "b" {
		t.Fatalf("the owner named at the front itself and at b: %q, %v; want b's answer", got, err)
	}
}

// TestAttack_FloodWhileNobodyOwnsIsBounded: while nobody owns, 20
// connections send 50 calls each. The front holds no more than the GIOP
// server's budget (MaxServerInFlight, and each connection's 2 reserved
// places) and answers the rest TRANSIENT completed NO at once; the
// goroutines do not grow with the flood; another client's single call is
// held, not refused (its connection's reserved places); and once an owner
// is named every held call is forwarded.
func TestAttack_FloodWhileNobodyOwnsIsBounded(t *testing.T) {
	const conns, calls, budget = 20, 50, 64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := newOwners()
	gcfg := giop.DefaultConfig()
	gcfg.MaxServerInFlight = budget
	f, err := standby.Start(standby.Config{Owners: o, Self: "me", Hold: hangGuard, GIOP: gcfg, Logger: zerolog.Nop()}, ln)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := runtime.NumGoroutine()
	type tally struct{ forwarded, transient, other int }
	var mu sync.Mutex
	var total tally
	var readers sync.WaitGroup
	for c := range conns {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		var out []byte
		for i := range calls {
			out = append(out, request(giop.V1_2, c%2 == 0, uint32(i+1), key)...)
		}
		if _, err := nc.Write(out); err != nil {
			t.Fatal(err)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			nc.SetReadDeadline(time.Now().Add(hangGuard))
			for range calls {
				m, err := readMsg(nc, 1<<16)
				if err != nil {
					mu.Lock()
					total.other++
					mu.Unlock()
					return
				}
				h, d, err := giop.DecodeReply(m)
				mu.Lock()
				switch {
				case err != nil:
					total.other++
				case h.Status == giop.ReplyLocationForward:
					total.forwarded++
				case h.Status == giop.ReplySystemException:
					if x := d.SystemException(); x.Name == giop.ExcTransient && x.Completed == giop.CompletedNo {
						total.transient++
					} else {
						total.other++
					}
				default:
					total.other++
				}
				mu.Unlock()
			}
		}()
	}
	// The refusals come at once; the held calls wait.
	deadline := time.Now().Add(hangGuard)
	for {
		mu.Lock()
		answered := total.transient + total.other
		mu.Unlock()
		if held := standby.Held(f); answered+int(held) == conns*calls {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flood: %d answered and %d held of %d", answered, standby.Held(f), conns*calls)
		}
		time.Sleep(5 * time.Millisecond)
	}
	held := standby.Held(f)
	if held > budget+2*conns || held < budget {
		t.Fatalf("%d calls held, want the budget (%d) and the connections' reserved places (at most %d)", held, budget, budget+2*conns)
	}
	// Each held call is a goroutine or two (its handler, its timer); the
	// refused ones leave nothing behind.
	if g := runtime.NumGoroutine() - before; g > 3*int(held)+4*conns+50 {
		t.Fatalf("%d goroutines more for %d held calls on %d connections", g, held, conns)
	}
	// Another client: its call is held on its connection's reserved places.
	fx := &fixture{o: o, front: f, addr: ln.Addr().String(), cl: giop.NewClient(nil)}
	defer fx.cl.Close()
	got := make(chan error, 1)
	go func() {
		n, err := fx.call(t)
		if err == nil && n != "b" {
			err = errors.New("answered by " + n)
		}
		got <- err
	}()
	for standby.Held(f) == held {
		if time.Now().After(deadline) {
			t.Fatal("another client's call was not held")
		}
		time.Sleep(5 * time.Millisecond)
	}
	o.set(cluster.Holder{Name: "b", GIOP: []string{startOwner(t, "b")}}, true)
	if err := <-got; err != nil {
		t.Fatalf("another client's call during the flood: %v, want it held, then forwarded", err)
	}
	readers.Wait()
	if total.other != 0 || total.forwarded != int(held) || total.forwarded+total.transient != conns*calls {
		t.Fatalf("the flood's answers: %+v; want the %d held forwarded and the rest TRANSIENT", total, held)
	}
}

// TestAttack_HeldCallCancelledIsNotMaybe: a held call the client cancels
// (CancelRequest) was never run: if the front answers it at all, it is not
// with an exception completed MAYBE (UNKNOWN, which a handler's error
// becomes), which would say it may have run.
func TestAttack_HeldCallCancelledIsNotMaybe(t *testing.T) {
	fx := startFront(t, hangGuard)
	nc, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(hangGuard))
	if _, err := nc.Write(request(giop.V1_2, false, 7, key)); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, fx.front)
	e := giop.NewEncoder(giop.V1_2, false)
	if _, err := nc.Write(e.EncodeCancelRequest(giop.V1_2, 7)); err != nil {
		t.Fatal(err)
	}
	// A LocateRequest after it: its reply comes after any reply to 7.
	if _, err := nc.Write(giop.NewEncoder(giop.V1_2, false).EncodeLocateRequest(giop.V1_2, 8, key)); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := readMsg(nc, 1<<16)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == giop.MsgLocateReply {
			break
		}
		h, d, err := giop.DecodeReply(m)
		if err != nil || h.RequestID != 7 {
			t.Fatalf("a reply %+v, %v; want one for request 7", h, err)
		}
		if h.Status == giop.ReplySystemException {
			if x := d.SystemException(); x.Completed != giop.CompletedNo {
				t.Fatalf("the cancelled held call was answered %v: it never ran", x)
			}
		}
	}
	for deadline := time.Now().Add(hangGuard); standby.Held(fx.front) != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled call is still held")
		}
	}
}

// TestAttack_HandoverUnderAFastSender: a client sends calls as fast as it
// can on one connection while the standby becomes the owner. Every call
// it sent gets, on that connection, one answer — a forward to the old
// owner, before the handover — or none, and then CloseConnection, after
// which nothing more comes; those without an answer, sent again on a new
// connection, are answered by this agent's server on the listener the
// front gave on. No call is answered twice, none with an exception, none
// lost.
func TestAttack_HandoverUnderAFastSender(t *testing.T) {
	fx := startFront(t, hangGuard)
	fx.o.set(cluster.Holder{Name: "a", GIOP: []string{startOwner(t, "a")}}, true)
	nc, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var sentMu sync.Mutex
	sent := 0
	stopSending := make(chan struct{})
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		for id := uint32(1); ; id++ {
			select {
			case <-stopSending:
				return
			default:
			}
			nc.SetWriteDeadline(time.Now().Add(hangGuard))
			if _, err := nc.Write(request(giop.V1_2, id%2 == 0, id, key)); err != nil {
				return // the front closed the connection
			}
			sentMu.Lock()
			sent = int(id)
			sentMu.Unlock()
		}
	}()
	answered := map[uint32]bool{}
	refused := map[uint32]bool{} // TRANSIENT completed NO: the client's to send again
	closed := false
	handedOver := make(chan net.Listener, 1)
	nc.SetReadDeadline(time.Now().Add(hangGuard))
	for !closed {
		m, err := readMsg(nc, 1<<16)
		if err != nil {
			t.Fatalf("the connection failed before CloseConnection: %v (%d answered)", err, len(answered))
		}
		switch m.Type {
		case giop.MsgCloseConnection:
			closed = true
			continue
		case giop.MsgReply:
		default:
			t.Fatalf("a %v on the connection", m.Type)
		}
		h, d, err := giop.DecodeReply(m)
		if err != nil {
			t.Fatal(err)
		}
		switch h.Status {
		case giop.ReplyLocationForward:
		case giop.ReplySystemException:
			// Past the connection's MaxInFlight while the calls are held
			// (this agent owns, the front not yet stopped): refused, not
			// run, which the client may send again.
			if x := d.SystemException(); x.Name != giop.ExcTransient || x.Completed != giop.CompletedNo {
				t.Fatalf("request %d answered %v", h.RequestID, x)
			}
			refused[h.RequestID] = true
		default:
			t.Fatalf("reply %+v; want LOCATION_FORWARD to the old owner", h)
		}
		if answered[h.RequestID] {
			t.Fatalf("request %d answered twice", h.RequestID)
		}
		answered[h.RequestID] = true
		if len(answered) == 200 {
			// Mid-stream: this agent owns now.
			go func() {
				fx.o.set(cluster.Holder{Name: "me", GIOP: []string{fx.addr}}, true)
				ln, err := fx.front.Handover(context.Background())
				if err != nil {
					t.Error(err)
				}
				handedOver <- ln
			}()
		}
	}
	// Nothing after CloseConnection: the front closes the connection.
	if m, err := readMsg(nc, 1<<16); err == nil {
		t.Fatalf("a %v after CloseConnection", m.Type)
	}
	close(stopSending)
	<-sending
	sentMu.Lock()
	n := sent
	sentMu.Unlock()
	for id := range answered {
		if int(id) > n {
			t.Fatalf("an answer to request %d, never sent", id)
		}
	}
	ln := <-handedOver
	serveNamer(t, ln, "me")
	again, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	// Sent again as a client does, each after the handover: a few at a
	// time, within the server's MaxInFlight.
	var resend []uint32
	for id := uint32(1); int(id) <= n; id++ {
		if !answered[id] || refused[id] {
			delete(answered, id)
			resend = append(resend, id)
		}
	}
	want := len(resend)
	again.SetDeadline(time.Now().Add(hangGuard))
	for len(resend) > 0 {
		batch := resend[:min(len(resend), 64)]
		resend = resend[len(batch):]
		var out []byte
		for _, id := range batch {
			out = append(out, request(giop.V1_2, false, id, key)...)
		}
		if _, err := again.Write(out); err != nil {
			t.Fatal(err)
		}
		for range batch {
			m, err := readMsg(again, 1<<16)
			if err != nil {
				t.Fatalf("the calls sent again: %v", err)
			}
			h, d, err := giop.DecodeReply(m)
			if err != nil || h.Status != giop.ReplyNoException || answered[h.RequestID] {
				t.Fatalf("a call sent again: %+v %v", h, err)
			}
			if name := d.String(); name != "me" {
				t.Fatalf("a call sent again answered by %q, want this agent", name)
			}
			answered[h.RequestID] = true
		}
	}
	if len(answered) != n {
		t.Fatalf("%d of %d calls answered", len(answered), n)
	}
	t.Logf("%d calls sent: %d forwarded before the handover; %d sent again after it, %d of them refused TRANSIENT by the connection's budget",
		n, n-want, want, len(refused))
}

// blackHole listens and accepts connections, and never reads or answers
// on them: an owner frozen (SIGSTOP, a VM paused), whose kernel still
// completes the connects, or a port someone else holds.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestAttack_OwnerThatAcceptsAndNeverAnswers: the owner named accepts
// connections and answers nothing — frozen, or a port that is not an
// agent's. A forward there would hang an omniORB client for good (no
// reply, no timeout by default: giop/SPEC.md), so the front holds the
// call as for an owner that refuses, and forwards it once an owner that
// answers is named; the front itself hangs on nothing meanwhile.
func TestAttack_OwnerThatAcceptsAndNeverAnswers(t *testing.T) {
	fx := startFront(t, hangGuard)
	fx.o.set(cluster.Holder{Name: "frozen", GIOP: []string{blackHole(t)}}, true)
	got := fx.callHeld(t, 6*probeEveryForTest, "while the owner named answers nothing")
	// A LocateRequest meanwhile is answered at once, and not with a
	// forward to the owner that answers nothing.
	nc, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if st, _, to, err := rawgiop.LocateForward(nc, giop.V1_2, 1, key); err != nil || st == giop.ObjectForward {
		t.Fatalf("a LocateRequest while the owner answers nothing: status %d to %v, %v; want no forward", st, to, err)
	}
	fx.o.set(cluster.Holder{Name: "b", GIOP: []string{startOwner(t, "b")}}, true)
	if r := <-got; r.err != nil || r.name != "b" {
		t.Fatalf("the held call: %+v, want b's answer", r)
	}
}

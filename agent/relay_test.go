package agent_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Relaying bodies across GIOP versions without the IDL (giop/SPEC.md):
// clients and targets at GIOP 1.0, 1.1 and 1.2, in both byte orders, with
// headers whose lengths put the bodies at 0 and at 4 modulo 8.

const quoteID = "IDL:Quote:1.0"

// paddingID is giop.ServicePadding, the padding context's id, as a
// receiver that does not know it sees it.
const paddingID = 0x4E4D0002

// quoteTarget answers quote(in string sym, in double q) returns double
// with q × 2 — a double in both directions, so a body off by 4 shows — and
// records how each request arrived. With replyCtx it adds a reply context
// of 4 octets, which moves a 1.0/1.1 reply body by 12.
type quoteTarget struct {
	mu       sync.Mutex
	replyCtx bool
	versions []giop.Version
	padded   int
	got      map[string]float64
}

func (s *quoteTarget) RepositoryID() string { return quoteID }

func (s *quoteTarget) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	sym, q := r.Args.String(), r.Args.Double()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	s.mu.Lock()
	s.versions = append(s.versions, r.Version)
	if _, ok := r.Header.ServiceContexts.Get(paddingID); ok {
		s.padded++
	}
	s.got[sym] = q
	withCtx := s.replyCtx
	s.mu.Unlock()
	if withCtx {
		r.SetReplyContexts(giop.ServiceContextList{{ID: 0x12345, Data: []byte{1, 2, 3, 4}}})
	}
	r.Results().WriteDouble(q * 2)
	return nil
}

// quoteEnv is an agent and a quoteTarget whose references carry IIOP
// profiles of any version.
type quoteEnv struct {
	*env
	qt   *quoteTarget
	port uint16
}

func newQuoteEnv(t *testing.T, cfg agent.Config) *quoteEnv {
	e := &quoteEnv{env: newEnv(t, cfg), qt: &quoteTarget{got: map[string]float64{}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("Quote"), e.qt)
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	e.port = uint16(ln.Addr().(*net.TCPAddr).Port)
	return e
}

// targetAt is the target's reference with an IIOP profile of version v;
// code sets (a component) from 1.1 on.
func (e *quoteEnv) targetAt(v giop.Version) *giop.IOR {
	p := &giop.IIOPProfile{Version: v, Host: "127.0.0.1", Port: e.port, ObjectKey: []byte("Quote")}
	if v != giop.V1_0 {
		p.Components = []giop.TaggedComponent{giop.DefaultCodeSets.Component()}
	}
	return giop.NewIOR(quoteID, p)
}

// asVersion rewrites one of the agent's references to IIOP version v, as
// a client configured for that version (or a corbaloc) would reach it.
func asVersion(t *testing.T, ref *giop.IOR, v giop.Version) *giop.IOR {
	t.Helper()
	prof, err := ref.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	p := &giop.IIOPProfile{Version: v, Host: prof.Host, Port: prof.Port, ObjectKey: prof.ObjectKey}
	if v != giop.V1_0 {
		p.Components = prof.Components
	}
	return giop.NewIOR(ref.TypeID, p)
}

// relayCall sends quote through a typed receiver at client version cv
// and pulls the reply through the poller, both unchanged bodies; extra
// adds a service context of 4 octets to both calls, moving a 1.0/1.1 body
// by 12.
func (e *quoteEnv) relayCall(t *testing.T, rcv *giop.IOR, cv giop.Version, big, extra bool, sym string, q float64) (float64, error) {
	t.Helper()
	var ctxs giop.ServiceContextList
	if extra {
		ctxs = giop.ServiceContextList{{ID: 0x54321, Data: []byte{9, 9, 9, 9}}}
	}
	args := func(enc *giop.Encoder) { enc.WriteString(sym); enc.WriteDouble(q) }
	resp, err := e.client.Invoke(e.ctx(), asVersion(t, rcv, cv), &giop.Invocation{Operation: "quote", Args: args,
		Contexts: ctxs, BigEndian: big, RawReply: true})
	if err != nil {
		return 0, err
	}
	c, ok, _ := nmproto.Find(resp.Header.ServiceContexts)
	if resp.Header.Status != giop.ReplySystemException || !ok || c.Kind != nmproto.KindThePoller {
		return 0, fmt.Errorf("premature return: %s, %v", resp.Header.Status, exceptionOf(resp))
	}
	wait := waitCtx(nmproto.WaitForever)
	resp, err = e.client.Invoke(e.ctx(), asVersion(t, c.ThePoller, cv), &giop.Invocation{Operation: "quote", Args: args,
		Contexts: append(wait, ctxs...), BigEndian: big})
	if err != nil {
		return 0, err
	}
	x := resp.Result.Double()
	return x, resp.Result.Err()
}

var versions = []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2}

// TestRelay_AllVersionsWithoutIDL: every client version × target profile
// version × byte order × body offset goes through the agent unchanged: the
// target gets the double its client sent, at the lower of the two
// versions, and the client the double the target answered. The one thing
// padding cannot reach is a 1.0/1.1 reply body at 4 modulo 8 for a 1.2
// client, whose body must start 8-aligned: without the IDL that pull is
// refused with MARSHAL/CANNOT_TRANSCODE, never misread.
func TestRelay_AllVersionsWithoutIDL(t *testing.T) {
	e := newQuoteEnv(t, agent.Config{})
	n := 0
	for _, pv := range versions {
		rcv := e.receiver(e.mustProxyFor(e.targetAt(pv)))
		for _, cv := range versions {
			for _, big := range []bool{false, true} {
				for _, extra := range []bool{false, true} {
					for _, replyCtx := range []bool{false, true} {
						n++
						name := fmt.Sprintf("client %s big %v extra %v → target %s reply-context %v", cv, big, extra, pv, replyCtx)
						e.qt.mu.Lock()
						e.qt.replyCtx = replyCtx
						e.qt.mu.Unlock()
						sym := fmt.Sprintf("S%d", n)
						q := float64(n) + 0.25
						got, err := e.relayCall(t, rcv, cv, big, extra, sym, q)
						vt := min(cv.Minor, pv.Minor)
						e.qt.mu.Lock()
						arrived, ok := e.qt.got[sym]
						var last giop.Version
						if ok {
							last = e.qt.versions[len(e.qt.versions)-1]
						}
						e.qt.mu.Unlock()
						if !ok || arrived != q {
							t.Fatalf("%s: the target got %v (called %v), want %v; client saw %v", name, arrived, ok, q, err)
						}
						if last.Minor != vt {
							t.Fatalf("%s: the request went at GIOP %s, want 1.%d", name, last, vt)
						}
						if cv.Minor == 2 && vt < 2 && replyCtx {
							if !isSys(err, giop.ExcMarshal, nmproto.CannotTranscode) {
								t.Fatalf("%s: pull = %v, %v; want MARSHAL/CANNOT_TRANSCODE", name, got, err)
							}
							continue
						}
						if err != nil || got != 2*q {
							t.Fatalf("%s: pull = %v, %v; want %v", name, got, err, 2*q)
						}
					}
				}
			}
		}
	}
	e.qt.mu.Lock()
	defer e.qt.mu.Unlock()
	if e.qt.padded == 0 {
		t.Fatal("no request needed a padding context: the test does not reach both offsets")
	}
}

// mustProxyFor makes a proxy for target with its repository id.
func (e *quoteEnv) mustProxyFor(target *giop.IOR) *giop.IOR {
	e.t.Helper()
	p, err := e.createProxy(target, quoteID, nil)
	if err != nil {
		e.t.Fatalf("create_request_proxy: %v", err)
	}
	return p
}

// TestRelay_PullAtAnotherVersion: the reply of a request sent at GIOP 1.2
// to a target that negotiated UTF-8 is refused to a 1.0 puller, whose
// strings are ISO-8859-1, with CODESET_INCOMPATIBLE — the IDL cannot help:
// it re-encodes values, not code sets. From a target that negotiates
// nothing (ISO-8859-1 everywhere) the same pull relays.
func TestRelay_PullAtAnotherVersion(t *testing.T) {
	e := newQuoteEnv(t, agent.Config{})
	for _, withCS := range []bool{true, false} {
		target := e.targetAt(giop.V1_2)
		if !withCS {
			prof, _ := target.IIOP()
			target = giop.NewIOR(quoteID, &giop.IIOPProfile{Version: giop.V1_2, Host: prof.Host, Port: prof.Port, ObjectKey: prof.ObjectKey})
		}
		rcv := e.receiver(e.mustProxyFor(target))
		args := func(enc *giop.Encoder) { enc.WriteString("X"); enc.WriteDouble(1.5) }
		resp, err := e.client.Invoke(e.ctx(), rcv, &giop.Invocation{Operation: "quote", Args: args, RawReply: true})
		if err != nil {
			t.Fatal(err)
		}
		c, ok, _ := nmproto.Find(resp.Header.ServiceContexts)
		if !ok || c.Kind != nmproto.KindThePoller {
			t.Fatal("no poller")
		}
		resp, err = e.client.Invoke(e.ctx(), asVersion(t, c.ThePoller, giop.V1_0), &giop.Invocation{Operation: "quote",
			Args: args, Contexts: waitCtx(nmproto.WaitForever)})
		if withCS {
			if !isSys(err, giop.ExcCodesetIncompatible, nmproto.CannotTranscode) {
				t.Fatalf("1.0 pull of a UTF-8 reply = %v, want CODESET_INCOMPATIBLE", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("1.0 pull of an ISO-8859-1 reply = %v", err)
		}
		if x := resp.Result.Double(); x != 3 {
			t.Fatalf("reply %v", x)
		}
	}
}

// TestRelay_Fragmented11Request: a GIOP 1.1 request whose double comes in
// a Fragment, aligned there relative to the Fragment as 1.1 has it
// (§15.4.9). When the first part ends at 4 modulo 8, the Fragment's data
// lies, reassembled, where its alignment restarted (offset 12 of the
// Fragment), so the body relays as one piece; when it ends elsewhere, the
// double would be off, and without the IDL the request is refused with
// MARSHAL/CANNOT_TRANSCODE before anything is sent.
func TestRelay_Fragmented11Request(t *testing.T) {
	e := newQuoteEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxyFor(e.targetAt(giop.V1_2)))
	prof, err := rcv.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", net.JoinHostPort(prof.Host, fmt.Sprint(prof.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	relayed, refused := 0, 0
	for _, sym := range []string{"F", "FR", "FRA", "FRAG", "FRAGM", "FRAGME", "FRAGMEN", "FRAGMENT"} {
		enc := giop.NewEncoder(giop.V1_1, true)
		enc.StartRequest(giop.V1_1, &giop.RequestHeader{RequestID: 2, ResponseFlags: giop.ResponseTarget,
			ObjectKey: prof.ObjectKey, Operation: "quote"})
		enc.WriteString(sym)
		first := append([]byte(nil), enc.Bytes()...)
		first[6] |= 0x02 // more fragments
		binary.LittleEndian.PutUint32(first[8:], uint32(len(first)-giop.HeaderSize))
		// The Fragment: its 12-byte header, padding to 8 counted from it, the double.
		frag := giop.NewEncoder(giop.V1_1, true)
		frag.WriteRaw([]byte{'G', 'I', 'O', 'P', 1, 1, 0x01, 7, 0, 0, 0, 0})
		frag.WriteDouble(7.75)
		binary.LittleEndian.PutUint32(frag.Bytes()[8:], uint32(frag.Len()-giop.HeaderSize))
		if _, err := nc.Write(append(first, frag.Bytes()...)); err != nil {
			t.Fatal(err)
		}
		status, ctxs, body := readReply11(t, nc)
		if status != giop.ReplySystemException {
			t.Fatalf("%s: status %s", sym, status)
		}
		x := body.SystemException()
		if len(first)%8 != 4 {
			if x == nil || x.Name != giop.ExcMarshal || x.Minor != nmproto.CannotTranscode {
				t.Fatalf("%s: first part ends at %d mod 8: %v, want MARSHAL/CANNOT_TRANSCODE", sym, len(first)%8, x)
			}
			refused++
			continue
		}
		relayed++
		c, ok, _ := nmproto.Find(ctxs)
		if x == nil || x.Name != giop.ExcNoResponse || !ok || c.Kind != nmproto.KindThePoller {
			t.Fatalf("%s: first part ends at %d mod 8: %v, want the premature return", sym, len(first)%8, x)
		}
		resp, err := e.client.Invoke(e.ctx(), asVersion(t, c.ThePoller, giop.V1_1), &giop.Invocation{Operation: "quote",
			Args: func(enc *giop.Encoder) { enc.WriteString(""); enc.WriteDouble(0) }, Contexts: waitCtx(nmproto.WaitForever)})
		if err != nil {
			t.Fatal(err)
		}
		if q := resp.Result.Double(); q != 15.5 {
			t.Fatalf("%s: reply %v, want 15.5", sym, q)
		}
		e.qt.mu.Lock()
		got := e.qt.got[sym]
		e.qt.mu.Unlock()
		if got != 7.75 {
			t.Fatalf("%s: the target got %v", sym, got)
		}
	}
	if relayed != 1 || refused != 7 {
		t.Fatalf("%d relayed, %d refused: the symbols should put the first part's end at each offset modulo 8 once", relayed, refused)
	}
}

// readReply11 reads one unfragmented reply from nc.
func readReply11(t *testing.T, nc net.Conn) (giop.ReplyStatus, giop.ServiceContextList, *giop.Decoder) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, giop.HeaderSize)
	if _, err := io.ReadFull(nc, buf); err != nil {
		t.Fatal(err)
	}
	h, err := giop.ParseHeader(buf)
	if err != nil {
		t.Fatal(err)
	}
	buf = append(buf, make([]byte, h.Size)...)
	if _, err := io.ReadFull(nc, buf[giop.HeaderSize:]); err != nil {
		t.Fatal(err)
	}
	rh, d, err := giop.DecodeReply(&giop.Message{Header: h, Buf: buf})
	if err != nil {
		t.Fatal(err)
	}
	return rh.Status, rh.ServiceContexts, d
}

package idl

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
)

// Round trips with omniORB 4.2.5: the C++
// peers of testdata/idl (rt_server, rt_client, built from roundtrip.idl by
// testdata/idl/build.sh) exchange values of every IDL type category with
// this package's marshaller. See testdata/idl/README.md for what each test
// proves.

// rtModel is roundtrip.idl, built by hand so these tests do not depend on
// the parser (TestRoundTripIDLMatchesModel checks the parser agrees).
type rtModel struct {
	Color, Money, Matrix, Inner, InnerSeq, Blob, Names, Rec, WRec *Type
	U, EU, BU, CU, USeq, Node, NodeSeq, AnySeq, Big, Boom         *Type
	Echo                                                          *Interface
}

func newRTModel() *rtModel {
	m := &rtModel{}
	alias := func(name string, t *Type) *Type { return mtAlias("RT::"+name, t) }
	m.Color = mtEnum("RT::Color", "red", "green", "blue")
	m.Money = alias("Money", mtFixed(9, 2))
	m.Matrix = alias("Matrix", mtArr(mtArr(mtLong, 3), 2))
	m.Inner = mtStruct("RT::Inner", mtMem("c", mtChar), mtMem("d", mtDouble))
	m.InnerSeq = alias("InnerSeq", mtSeq(m.Inner, 0))
	m.Blob = alias("Blob", mtSeq(mtOctet, 0))
	m.Names = alias("Names", mtSeq(mtStr(0), 4))
	m.Rec = mtStruct("RT::Rec",
		mtMem("b", mtBool), mtMem("o", mtOctet), mtMem("c", mtChar), mtMem("s", mtShort),
		mtMem("us", mtUShort), mtMem("l", mtLong), mtMem("ul", mtULong), mtMem("ll", mtLL),
		mtMem("ull", mtULL), mtMem("f", mtFloat), mtMem("d", mtDouble), mtMem("str", mtStr(0)),
		mtMem("col", m.Color), mtMem("m", m.Money), mtMem("mx", m.Matrix))
	m.WRec = mtStruct("RT::WRec", mtMem("wc", mtWChar), mtMem("ws", mtWStr(0)), mtMem("wsb", mtWStr(8)))
	m.U = mtUnion("RT::U", mtLong, mtCase("l", mtLong, 1), mtCase("s", mtStr(0), 2, 3),
		mtCase("inr", m.Inner, 4), mtDefault("d", mtDouble))
	m.EU = mtUnion("RT::EU", m.Color, mtCase("r", mtStr(0), 0), mtCase("g", mtLong, 1))
	m.BU = mtUnion("RT::BU", mtBool, mtCase("t", mtLong, 1))
	m.CU = mtUnion("RT::CU", mtChar, mtCase("a", mtShort, 'a'), mtDefault("o", mtOctet))
	m.USeq = alias("USeq", mtSeq(m.U, 0))
	m.Node = mtStruct("RT::Node", mtMem("name", mtStr(0)))
	m.NodeSeq = alias("NodeSeq", mtSeq(m.Node, 0))
	m.Node.Members = append(m.Node.Members, mtMem("children", m.NodeSeq))
	m.AnySeq = alias("AnySeq", mtSeq(mtAny, 0))
	m.Big = mtStruct("RT::Big", mtMem("r", m.Rec), mtMem("unions", m.USeq), mtMem("inners", m.InnerSeq),
		mtMem("bytes", m.Blob), mtMem("nameList", m.Names), mtMem("anys", m.AnySeq),
		mtMem("obj", mtObject), mtMem("tc", mtTC), mtMem("eunion", m.EU), mtMem("bunion", m.BU),
		mtMem("cunion", m.CU), mtMem("tree", m.Node))
	m.Boom = mtExcept("RT::Boom", mtMem("code", mtLong), mtMem("why", mtStr(0)))

	echo := &Interface{Name: "RT::Echo", RepoID: "IDL:RT/Echo:1.0"}
	echo.Type = &Type{Kind: giop.TkObjref, Name: echo.Name, RepoID: echo.RepoID, Interface: echo}
	op := func(name string, result *Type, params ...Param) {
		echo.Operations = append(echo.Operations, &Operation{Name: name, Result: result, Params: params, Interface: echo})
	}
	in := func(name string, t *Type) Param { return Param{Name: name, Dir: In, Type: t} }
	void := mtPrim(giop.TkVoid)
	op("echoRec", m.Rec, in("r", m.Rec))
	op("echoWRec", m.WRec, in("w", m.WRec))
	op("echoU", m.U, in("v", m.U))
	op("echoEU", m.EU, in("v", m.EU))
	op("echoBU", m.BU, in("v", m.BU))
	op("echoCU", m.CU, in("v", m.CU))
	op("echoAny", mtAny, in("a", mtAny))
	op("echoInners", m.InnerSeq, in("s", m.InnerSeq))
	op("echoBlob", m.Blob, in("b", m.Blob))
	op("echoNames", m.Names, in("n", m.Names))
	op("echoMatrix", m.Matrix, in("m", m.Matrix))
	op("echoMoney", m.Money, in("m", m.Money))
	op("echoColor", m.Color, in("c", m.Color))
	op("echoNode", m.Node, in("n", m.Node))
	op("echoBig", m.Big, in("b", m.Big))
	op("echoTC", mtTC, in("tc", mtTC))
	op("echoObj", mtObject, in("o", mtObject))
	op("echoWString", mtWStr(0), in("w", mtWStr(0)))
	op("echoWChar", mtWChar, in("c", mtWChar))
	op("mixed", mtLong, in("x", mtLong), Param{Name: "s", Dir: InOut, Type: mtStr(0)},
		Param{Name: "d", Dir: Out, Type: mtDouble}, Param{Name: "r2", Dir: Out, Type: m.Rec}, in("r", m.Rec))
	op("raiseBoom", void, in("code", mtLong))
	echo.Operations[len(echo.Operations)-1].Raises = []*Type{m.Boom}
	op("makeBig", m.Big)
	op("checkBig", mtStr(0), in("b", m.Big))
	op("makeWRec", m.WRec)
	op("checkWRec", mtStr(0), in("w", m.WRec))
	m.Echo = echo
	return m
}

func (m *rtModel) op(t testing.TB, name string) *Operation {
	for _, o := range m.Echo.Operations {
		if o.Name == name {
			return o
		}
	}
	t.Fatalf("no operation %s", name)
	return nil
}

// The canonical values, built independently of rt_common.h (which builds
// the same ones in C++).

func rtInner(c byte, d float64) map[string]any { return map[string]any{"c": c, "d": d} }

func rtRec() map[string]any {
	return map[string]any{
		"b": true, "o": byte(0xAB), "c": byte('x'), "s": int16(-12345), "us": uint16(54321),
		"l": int32(-2000000000), "ul": uint32(4000000000), "ll": int64(math.MinInt64),
		"ull": uint64(math.MaxUint64), "f": float32(1.5), "d": -2.25e100, "str": "hello",
		"col": "blue", "m": "-1234567.89",
		"mx": []any{[]any{int32(1), int32(2), int32(3)}, []any{int32(4), int32(5), int32(6)}},
	}
}

func rtNode(name string, kids ...any) map[string]any {
	if kids == nil {
		kids = []any{}
	}
	return map[string]any{"name": name, "children": kids}
}

func rtTree() map[string]any {
	return rtNode("root", rtNode("a"), rtNode("b", rtNode("b1")))
}

func rtInners() []any { return []any{rtInner('a', 1.0), rtInner('b', 2.0)} }

func rtUnions() []any {
	return []any{
		Union{Disc: int32(1), Value: int32(42)},
		Union{Disc: int32(3), Value: "three"},
		Union{Disc: int32(4), Value: rtInner('q', 1e-9)},
		Union{Disc: int32(99), Value: 2.5},
	}
}

func (m *rtModel) anys() []any {
	return []any{
		Any{Type: m.Node, Value: rtTree()},
		Any{Type: m.U, Value: Union{Disc: int32(99), Value: 2.5}},
		Any{Type: m.Color, Value: "blue"},
		Any{Type: mtFixed(9, 2), Value: "-1234567.89"},
		Any{Type: mtLong, Value: int32(7)},
		Any{Type: mtStr(0), Value: "s"},
		Any{Type: m.InnerSeq, Value: rtInners()},
	}
}

func (m *rtModel) big(self *giop.IOR) map[string]any {
	bytes := make([]byte, 10)
	for i := range bytes {
		bytes[i] = byte(i * 25)
	}
	return map[string]any{
		"r": rtRec(), "unions": rtUnions(), "inners": rtInners(), "bytes": bytes,
		"nameList": []any{"alpha", "beta"}, "anys": m.anys(), "obj": self, "tc": m.Node,
		"eunion": Union{Disc: "blue"}, "bunion": Union{Disc: false},
		"cunion": Union{Disc: byte('z'), Value: byte(7)}, "tree": rtTree(),
	}
}

func rtWRec() map[string]any {
	return map[string]any{"wc": 'é', "ws": "h\u00e9llo w\u00f6rld \u4e16\u754c", "wsb": "12345678"}
}

// rtCall is one call of a conformance run and the results it must give.
type rtCall struct {
	op     string
	args   []any
	result any
	outs   []any
	// wide marks calls with wchar or wstring values, which omniORB 4.2.5
	// only handles in GIOP 1.2: its only wide transmission code set is
	// "UTF-16(1.2)", so as a server it refuses them in GIOP 1.1 (BAD_PARAM
	// WCharTCSNotKnown), and as a client it sends them in GIOP 1.1 in the
	// GIOP 1.2 encoding (see testdata/idl/README.md).
	wide bool
}

// calls lists the calls the Go side makes on rt_server. self is the
// server's reference.
func (m *rtModel) calls(self *giop.IOR) []rtCall {
	var cs []rtCall
	echo := func(op string, v any, wide bool) {
		cs = append(cs, rtCall{op: op, args: []any{v}, result: v, wide: wide})
	}
	echo("echoRec", rtRec(), false)
	for _, u := range rtUnions() {
		echo("echoU", u, false)
	}
	echo("echoEU", Union{Disc: "red", Value: "rouge"}, false)
	echo("echoEU", Union{Disc: "green", Value: int32(-5)}, false)
	echo("echoEU", Union{Disc: "blue"}, false)
	echo("echoBU", Union{Disc: true, Value: int32(5)}, false)
	echo("echoBU", Union{Disc: false}, false)
	echo("echoCU", Union{Disc: byte('a'), Value: int16(3)}, false)
	echo("echoCU", Union{Disc: byte('z'), Value: byte(7)}, false)
	for _, a := range m.anys() {
		echo("echoAny", a, false)
	}
	echo("echoAny", Any{Type: m.Big, Value: m.big(self)}, false)
	echo("echoAny", Any{Type: mtPrim(giop.TkNull)}, false)
	echo("echoAny", Any{Type: mtSeq(mtSeq(mtShort, 0), 2), Value: []any{[]any{int16(1)}, []any{}}}, false)
	echo("echoAny", Any{Type: mtArr(mtLL, 2), Value: []any{int64(math.MaxInt64), int64(-1)}}, false)
	echo("echoAny", Any{Type: mtAny, Value: Any{Type: m.Color, Value: "red"}}, false)
	echo("echoAny", Any{Type: m.WRec, Value: rtWRec()}, true)
	echo("echoInners", rtInners(), false)
	echo("echoBlob", []byte{0, 1, 2, 0xFE, 0xFF}, false)
	echo("echoNames", []any{"a", "b", "c", "d"}, false)
	echo("echoMatrix", rtRec()["mx"], false)
	echo("echoMoney", "-1234567.89", false)
	echo("echoMoney", "0.05", false)
	echo("echoColor", "green", false)
	echo("echoNode", rtTree(), false)
	echo("echoBig", m.big(self), false)
	echo("echoTC", m.Big, false)
	echo("echoTC", m.Node, false)
	echo("echoTC", m.U, false)
	echo("echoObj", self, false)
	echo("echoObj", (*giop.IOR)(nil), false)
	echo("echoWString", "h\u00e9llo w\u00f6rld \u4e16\u754c", true)
	echo("echoWString", "", true)
	echo("echoWChar", 'é', true)
	echo("echoWRec", rtWRec(), true)
	cs = append(cs,
		rtCall{op: "mixed", args: []any{int32(5), "s", rtRec()}, result: int32(6), outs: []any{"s!", 12.5, rtRec()}},
		rtCall{op: "makeBig", result: m.big(self)},
		rtCall{op: "checkBig", args: []any{m.big(self)}, result: ""},
		rtCall{op: "makeWRec", result: rtWRec(), wide: true},
		rtCall{op: "checkWRec", args: []any{rtWRec()}, result: "", wide: true},
	)
	return cs
}

func startRTServer(t *testing.T) (*peers.Process, *giop.IOR) {
	t.Helper()
	port := peers.FreePort(t)
	srv := peers.StartIDL(t, "rt_server", peers.Endpoint(port)...)
	line := srv.Line(t, 20*time.Second)
	ref, err := giop.ParseIOR(line)
	if err != nil {
		t.Fatalf("rt_server IOR %q: %v", line, err)
	}
	return srv, ref
}

// TestInterop_GoClientOmniServer calls rt_server through the giop client
// (GIOP 1.2, little-endian, code sets negotiated from the IOR): arguments
// marshalled by MarshalArgs are decoded by omniORB's stubs, which echo them
// or check them against the C++ canonical values; results are decoded by
// UnmarshalResults and compared with the Go canonical values.
func TestInterop_GoClientOmniServer(t *testing.T) {
	srv, ref := startRTServer(t)
	m := newRTModel()
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, call := range m.calls(ref) {
		op := m.op(t, call.op)
		var merr error
		resp, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: call.op, Args: func(e *giop.Encoder) {
			merr = op.MarshalArgs(e, call.args)
		}})
		if merr != nil {
			t.Fatalf("call %d %s: MarshalArgs: %v", i, call.op, merr)
		}
		if err != nil {
			t.Fatalf("call %d %s: %v", i, call.op, err)
		}
		res, outs, err := op.UnmarshalResults(resp.Result)
		if err != nil {
			t.Fatalf("call %d %s: UnmarshalResults: %v", i, call.op, err)
		}
		if resp.Result.Remaining() != 0 {
			t.Errorf("call %d %s: %d reply bytes left", i, call.op, resp.Result.Remaining())
		}
		if d := mtDiff(call.op+" result", res, call.result); d != "" {
			t.Errorf("call %d: %s", i, d)
		}
		if d := mtDiff(call.op+" outs", outs, call.outs); call.outs != nil && d != "" {
			t.Errorf("call %d: %s", i, d)
		}
	}
	// A user exception's members decode with UnmarshalExceptionMembers.
	op := m.op(t, "raiseBoom")
	_, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: "raiseBoom", Args: func(e *giop.Encoder) {
		op.MarshalArgs(e, []any{int32(7)})
	}})
	var ue *giop.UserException
	if !errors.As(err, &ue) || ue.RepoID != m.Boom.RepoID {
		t.Fatalf("raiseBoom: %v", err)
	}
	if v, err := UnmarshalExceptionMembers(ue.Body, m.Boom); err != nil || !mtEqual(v, map[string]any{"code": int32(7), "why": "requested failure"}) {
		t.Fatalf("Boom members %v, %v", v, err)
	}
	srv.Expect(t, "checkBig: ok", 1, 5*time.Second)
}

// rawConn sends hand-built GIOP requests, so that the version and the byte
// order of the request are ours to choose (the giop client always speaks
// little-endian and the version the IOR offers).
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	v    giop.Version
	le   bool
	next uint32
}

// call sends op's request with args and returns the reply's status and a
// decoder positioned at its body.
func (rc *rawConn) call(op string, key []byte, marshal func(e *giop.Encoder) error) (giop.ReplyStatus, *giop.Decoder) {
	t := rc.t
	t.Helper()
	rc.next++
	e := giop.NewEncoder(rc.v, rc.le)
	h := &giop.RequestHeader{RequestID: rc.next, ResponseFlags: giop.ResponseTarget, ObjectKey: key, Operation: op}
	if rc.v.Minor > 0 {
		// UTF-8 and UTF-16, as our IORs and the giop client choose.
		h.ServiceContexts = giop.ServiceContextList{giop.CodeSetContext{Char: giop.CodeSetUTF8, WChar: giop.CodeSetUTF16}.ServiceContext()}
	}
	e.StartRequest(rc.v, h)
	if err := marshal(e); err != nil {
		t.Fatalf("%s: marshal: %v", op, err)
	}
	rc.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.nc.Write(e.FinishMessage()); err != nil {
		t.Fatalf("%s: write: %v", op, err)
	}
	{
		buf := make([]byte, giop.HeaderSize)
		if _, err := io.ReadFull(rc.nc, buf); err != nil {
			t.Fatalf("%s: read: %v", op, err)
		}
		hdr, err := giop.ParseHeader(buf)
		if err != nil {
			t.Fatalf("%s: reply header: %v", op, err)
		}
		if hdr.MoreFragments || hdr.Size > 1<<20 {
			t.Fatalf("%s: fragmented or huge reply (%+v): keep test values small", op, hdr)
		}
		buf = append(buf, make([]byte, hdr.Size)...)
		if _, err := io.ReadFull(rc.nc, buf[giop.HeaderSize:]); err != nil {
			t.Fatalf("%s: read body: %v", op, err)
		}
		if hdr.Type != giop.MsgReply {
			t.Fatalf("%s: got a %v message", op, hdr.Type)
		}
		rh, d, err := giop.DecodeReply(&giop.Message{Header: hdr, Buf: buf})
		if err != nil {
			t.Fatalf("%s: reply: %v", op, err)
		}
		if rh.RequestID != rc.next {
			t.Fatalf("%s: reply to request %d, want %d", op, rh.RequestID, rc.next)
		}
		return rh.Status, d
	}
}

// TestInterop_RawVersionsAndByteOrders sends requests to rt_server in GIOP
// 1.0, 1.1 and 1.2, big-endian and little-endian, with bodies marshalled
// by this package (wide characters in 1.2 only). omniORB decodes every one
// (checkBig and checkWRec say it decoded the canonical values exactly),
// and its replies decode to the Go canonical values. omniORB answers in
// its native little-endian order, so the big-endian direction is proven
// for our encoder; our big-endian decoder is proven by the round trips of
// marshal_test.go against the same encoder, and by TestOmniBodySwapped.
func TestInterop_RawVersionsAndByteOrders(t *testing.T) {
	srv, ref := startRTServer(t)
	prof, err := ref.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	m := newRTModel()
	calls := m.calls(ref)
	seenBE := false
	for _, v := range []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2} {
		for _, le := range []bool{true, false} {
			t.Run(fmt.Sprintf("GIOP%s/little=%v", v, le), func(t *testing.T) {
				nc, err := net.Dial("tcp", net.JoinHostPort(prof.Host, fmt.Sprint(prof.Port)))
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				rc := &rawConn{t: t, nc: nc, v: v, le: le}
				for i, call := range calls {
					if call.wide && v != giop.V1_2 {
						continue
					}
					op := m.op(t, call.op)
					status, d := rc.call(call.op, prof.ObjectKey, func(e *giop.Encoder) error { return op.MarshalArgs(e, call.args) })
					if status != giop.ReplyNoException {
						x := d.SystemException()
						t.Fatalf("call %d %s: %v %v", i, call.op, status, x)
					}
					if !d.LittleEndian() {
						seenBE = true
					}
					res, outs, err := op.UnmarshalResults(d)
					if err != nil {
						t.Fatalf("call %d %s: %v", i, call.op, err)
					}
					if d := mtDiff(call.op+" result", res, call.result); d != "" {
						t.Errorf("call %d: %s", i, d)
					}
					if d := mtDiff(call.op+" outs", outs, call.outs); call.outs != nil && d != "" {
						t.Errorf("call %d: %s", i, d)
					}
				}
				// A user exception body in this version and byte order.
				op := m.op(t, "raiseBoom")
				status, d := rc.call("raiseBoom", prof.ObjectKey, func(e *giop.Encoder) error { return op.MarshalArgs(e, []any{int32(-3)}) })
				if status != giop.ReplyUserException {
					t.Fatalf("raiseBoom: status %v", status)
				}
				v, err := UnmarshalException(d, m.Boom)
				if err != nil || !mtEqual(v, map[string]any{"code": int32(-3), "why": "requested failure"}) {
					t.Fatalf("raiseBoom: %v, %v", v, err)
				}
			})
		}
	}
	// checkBig ran once per connection.
	srv.Expect(t, "checkBig: ok", 6, 5*time.Second)
	if seenBE {
		t.Log("omniORB answered a request in big-endian order")
	}
}

// rtServant implements RT::Echo in Go with the marshaller: every argument
// is decoded by UnmarshalArgs and every result encoded by MarshalResults.
type rtServant struct {
	m    *rtModel
	self *giop.IOR

	mu   sync.Mutex
	errs []string // what failed on the Go side, for the test's report
}

func (s *rtServant) fail(op string, err error) error {
	s.mu.Lock()
	s.errs = append(s.errs, op+": "+err.Error())
	s.mu.Unlock()
	return err
}

func (s *rtServant) failures() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.errs, "\n")
}

func (s *rtServant) RepositoryID() string { return s.m.Echo.RepoID }

func (s *rtServant) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	var op *Operation
	for _, o := range s.m.Echo.Operations {
		if o.Name == r.Operation() {
			op = o
		}
	}
	if op == nil {
		return giop.BadOperation(r.Operation())
	}
	body := r.Body()
	args, err := op.UnmarshalArgs(r.Args)
	if err != nil {
		s.fail(op.Name, fmt.Errorf("%w\nbody (GIOP %s, little=%v):\n%s", err, r.Version, r.LittleEndian, hex.Dump(body)))
		return r.ArgsErr()
	}
	var result any
	var outs []any
	switch op.Name {
	case "mixed":
		x := args[0].(int32)
		result, outs = x+1, []any{args[1].(string) + "!", float64(x) * 2.5, args[2]}
	case "raiseBoom":
		boom := map[string]any{"code": args[0], "why": "requested failure"}
		return &giop.UserException{RepoID: s.m.Boom.RepoID, Members: func(e *giop.Encoder) {
			MarshalExceptionMembers(e, s.m.Boom, boom) // checked by the client
		}}
	case "makeBig":
		result = s.m.big(s.self)
	case "checkBig":
		result = mtDiff("b", args[0], s.m.big(s.self))
	case "makeWRec":
		result = rtWRec()
	case "checkWRec":
		result = mtDiff("w", args[0], rtWRec())
	default: // the echo operations
		result = args[0]
	}
	if err := op.MarshalResults(r.Results(), result, outs); err != nil {
		return s.fail(op.Name, err)
	}
	return nil
}

// TestInterop_OmniClientGoServer runs rt_client (omniORB stubs) against
// the Go servant over GIOP 1.2 (IOR, with the wide operations), 1.1 (IOR,
// -ORBmaxGIOPVersion 1.1) and 1.0 (corbaloc::). rt_client
// checks every echo against the C++ canonical values, and checkBig has the
// Go side check what omniORB encoded against the Go canonical values.
func TestInterop_OmniClientGoServer(t *testing.T) {
	peers.IDLDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	key := []byte("RT")
	ref := giop.NewIOR("IDL:RT/Echo:1.0", &giop.IIOPProfile{
		Version: giop.V1_2, Host: "127.0.0.1", Port: uint16(port), ObjectKey: key,
		Components: []giop.TaggedComponent{giop.ORBTypeComponent(giop.ORBTypeRequestAgent), giop.DefaultCodeSets.Component()},
	})
	a := giop.NewAdapter()
	servant := &rtServant{m: newRTModel(), self: ref}
	a.Register(key, servant)
	srv := giop.NewServer(nil, a)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, giop.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	lines := []string{"echoRec", "echoU", "echoEU/BU/CU", "echoAny", "echoInners/Blob/Names/Matrix/Money/Color/Node",
		"echoBig", "echoTC", "echoObj", "mixed", "raiseBoom", "makeBig", "checkBig"}
	wide := []string{"echoWRec", "echoWString", "echoWChar", "makeWRec", "checkWRec"}
	want := func(ws bool) string {
		var out []string
		for _, l := range lines {
			out = append(out, l+" -> ok")
		}
		if ws {
			for _, l := range wide {
				out = append(out, l+" -> ok")
			}
		}
		return strings.Join(append(out, "PASS"), "\n")
	}
	cases := []struct {
		name string
		args []string
		wide bool
	}{
		{"GIOP1.2_IOR", []string{"--wide", ref.String()}, true},
		{"GIOP1.1_IOR", []string{"-ORBmaxGIOPVersion", "1.1", ref.String()}, false},
		{"GIOP1.0_corbaloc", []string{fmt.Sprintf("corbaloc::127.0.0.1:%d/RT", port)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := peers.StartIDL(t, "rt_client", c.args...)
			got, err := p.Wait(t, 60*time.Second)
			if err != nil || strings.Join(got, "\n") != want(c.wide) {
				t.Fatalf("rt_client: %v\ngot:\n%s\nwant:\n%s\nGo servant errors:\n%s", err, strings.Join(got, "\n"), want(c.wide), servant.failures())
			}
		})
	}
}

// TestInterop_OmniBytesReencoded takes omniORB's own encoding of the
// canonical values (the GIOP 1.2 reply body of makeBig) and
// checks that this package, re-encoding what it decoded, writes the same
// bytes, except where it writes alignment padding (omniORB leaves whatever
// its buffer held there). With TestInterop_RawVersionsAndByteOrders (omniORB
// decodes our big-endian encoding) this pins the big-endian decoder too:
// the big-endian re-encoding must decode to the same values. (makeWRec is
// left out: omniORB writes GIOP 1.2 wstrings little-endian behind a byte
// order mark, we write them big-endian without one; both are valid and
// each side reads the other's, as the other interop tests show.)
func TestInterop_OmniBytesReencoded(t *testing.T) {
	_, ref := startRTServer(t)
	prof, err := ref.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", net.JoinHostPort(prof.Host, fmt.Sprint(prof.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m := newRTModel()
	rc := &rawConn{t: t, nc: nc, v: giop.V1_2, le: true}
	for _, opName := range []string{"makeBig"} {
		op := m.op(t, opName)
		status, d := rc.call(opName, prof.ObjectKey, func(*giop.Encoder) error { return nil })
		if status != giop.ReplyNoException || !d.LittleEndian() {
			t.Fatalf("%s: status %v, little-endian %v", opName, status, d.LittleEndian())
		}
		omni := append([]byte(nil), d.Rest()...)
		v, err := Unmarshal(giop.NewDecoder(omni, giop.V1_2, true), op.Result)
		if err != nil {
			t.Fatalf("%s: %v", opName, err)
		}
		ours := giop.NewEncoder(giop.V1_2, true)
		if err := Marshal(ours, op.Result, v); err != nil {
			t.Fatal(err)
		}
		if len(ours.Bytes()) != len(omni) {
			t.Fatalf("%s: we write %d bytes, omniORB wrote %d\nours:\n%s\nomniORB:\n%s", opName, len(ours.Bytes()), len(omni), hex.Dump(ours.Bytes()), hex.Dump(omni))
		}
		differ := 0
		for i, b := range ours.Bytes() {
			if b != omni[i] {
				if b != 0 {
					t.Fatalf("%s: byte %d is %#02x in our encoding, %#02x in omniORB's\nours:\n%s\nomniORB:\n%s", opName, i, b, omni[i], hex.Dump(ours.Bytes()), hex.Dump(omni))
				}
				differ++
			}
		}
		t.Logf("%s: %d bytes, identical except %d padding bytes omniORB did not zero", opName, len(omni), differ)
		be := giop.NewEncoder(giop.V1_2, false)
		if err := Marshal(be, op.Result, v); err != nil {
			t.Fatal(err)
		}
		w, err := Unmarshal(giop.NewDecoder(be.Bytes(), giop.V1_2, false), op.Result)
		if err != nil || !mtEqual(w, v) || len(be.Bytes()) != len(omni) {
			t.Fatalf("%s: big-endian re-encoding: %v (%d bytes)", opName, err, len(be.Bytes()))
		}
	}
}

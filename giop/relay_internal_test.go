package giop

import (
	"bytes"
	"testing"
)

// Tests of the padding context and of where bodies start (SPEC.md,
// "Relaying bodies across GIOP versions").

// decodeOne parses one complete message as the reader would.
func decodeOne(t *testing.T, b []byte) *Message {
	t.Helper()
	h, err := ParseHeader(b)
	if err != nil || len(b) != HeaderSize+int(h.Size) {
		t.Fatalf("header: %+v, %v (%d bytes)", h, err, len(b))
	}
	return &Message{Header: h, Buf: append([]byte(nil), b...)}
}

// TestAlignBodyTo_Request10And11: a 1.0/1.1 request body can be made to
// start at 0 or 4 modulo 8, whatever the key, operation and contexts; the
// header still decodes to the same fields, with the padding context at
// the end of the list only when it was needed, and a body written after
// it at that offset decodes.
func TestAlignBodyTo_Request10And11(t *testing.T) {
	for _, v := range []Version{V1_0, V1_1} {
		for _, little := range []bool{true, false} {
			for keyLen := 0; keyLen < 8; keyLen++ {
				for _, ctxs := range []ServiceContextList{nil, {{ID: 9, Data: []byte{1, 2, 3}}}} {
					for _, k := range []int{0, 4} {
						e := NewEncoder(v, little)
						key := bytes.Repeat([]byte{'k'}, keyLen)
						e.StartRequest(v, &RequestHeader{RequestID: 7, ResponseFlags: ResponseTarget, ObjectKey: key,
							Operation: "add_stock", ServiceContexts: ctxs})
						natural := e.Len() % 8
						if !e.AlignBodyTo(k) {
							t.Fatalf("%s key %d: AlignBodyTo(%d) refused", v, keyLen, k)
						}
						if e.Len()%8 != k {
							t.Fatalf("%s key %d: body at %d, want %d mod 8", v, keyLen, e.Len(), k)
						}
						if e.AlignBodyTo(2) || e.AlignBodyTo(8) {
							t.Fatal("an offset that is not 0 or 4 modulo 8 cannot be reached")
						}
						e.WriteString("ACME")
						e.WriteDouble(100.5)
						if e.AlignBodyTo(k) {
							t.Fatal("AlignBodyTo after the body started")
						}
						m := decodeOne(t, e.FinishMessage())
						h, d, err := DecodeRequest(m)
						if err != nil {
							t.Fatalf("%s key %d k %d: %v", v, keyLen, k, err)
						}
						if h.RequestID != 7 || !h.ResponseExpected() || !bytes.Equal(h.ObjectKey, key) || h.Operation != "add_stock" {
							t.Fatalf("header %+v", h)
						}
						_, padded := h.ServiceContexts.Get(ServicePadding)
						if padded != (natural != k) || len(h.ServiceContexts) != len(ctxs)+btoi(padded) {
							t.Fatalf("%s: contexts %+v (natural %d, k %d)", v, h.ServiceContexts, natural, k)
						}
						if d.Pos()%8 != k {
							t.Fatalf("decoded body at %d", d.Pos())
						}
						if s, q := d.String(), d.Double(); d.Err() != nil || s != "ACME" || q != 100.5 {
							t.Fatalf("body %q %v %v", s, q, d.Err())
						}
					}
				}
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestAlignBodyTo_12: a GIOP 1.2 body always starts 8-aligned, so only 0
// fits and nothing is added.
func TestAlignBodyTo_12(t *testing.T) {
	e := NewEncoder(V1_2, true)
	e.StartRequest(V1_2, &RequestHeader{RequestID: 2, ResponseFlags: ResponseTarget, ObjectKey: []byte("abc"), Operation: "op"})
	n := e.Len()
	if e.AlignBodyTo(4) {
		t.Fatal("a 1.2 body cannot start at 4 modulo 8")
	}
	if !e.AlignBodyTo(0) || e.Len() != n {
		t.Fatal("a 1.2 body starts at 0 modulo 8 as it is")
	}
	e.StartReply(V1_2, &ReplyHeader{RequestID: 2})
	if e.AlignBodyTo(4) || !e.AlignBodyTo(0) {
		t.Fatal("1.2 reply")
	}
}

// TestAlignBodyTo_Reply: a 1.0/1.1 reply body likewise, in both byte
// orders, after the contexts the agent sets.
func TestAlignBodyTo_Reply(t *testing.T) {
	for _, v := range []Version{V1_0, V1_1} {
		for _, little := range []bool{true, false} {
			for _, ctxs := range []ServiceContextList{nil, {{ID: 0x4E4D0001, Data: []byte{0, 3}}}} {
				for _, k := range []int{0, 4} {
					e := NewEncoder(v, little)
					e.StartReply(v, &ReplyHeader{RequestID: 9, Status: ReplyUserException, ServiceContexts: ctxs})
					if !e.AlignBodyTo(k) || e.Len()%8 != k {
						t.Fatalf("%s: reply body at %d, want %d mod 8", v, e.Len(), k)
					}
					e.WriteDouble(-2.5)
					m := decodeOne(t, e.FinishMessage())
					h, d, err := DecodeReply(m)
					if err != nil || h.RequestID != 9 || h.Status != ReplyUserException {
						t.Fatalf("%+v %v", h, err)
					}
					if _, ok := h.ServiceContexts.Get(0x4E4D0001); ok != (ctxs != nil) {
						t.Fatal("the agent's own context was lost")
					}
					if x := d.Double(); d.Err() != nil || x != -2.5 {
						t.Fatalf("reply body %v %v", x, d.Err())
					}
				}
			}
		}
	}
}

// TestRelayAlign_Fragmented11: a fragmented GIOP 1.1 request relays as
// one body when every fragment's data lies, reassembled, at the offset
// modulo 8 its alignment restarted at; otherwise it does not (-1).
func TestRelayAlign_Fragmented11(t *testing.T) {
	e := NewEncoder(V1_1, true)
	e.StartRequest(V1_1, &RequestHeader{RequestID: 2, ResponseFlags: ResponseTarget, ObjectKey: []byte("Echo"), Operation: "pair"})
	for i := range 8 {
		e.WriteDouble(float64(i))
	}
	whole := append([]byte(nil), e.FinishMessage()...)
	wm := decodeOne(t, whole)
	_, wd, err := DecodeRequest(wm)
	if err != nil {
		t.Fatal(err)
	}
	want := wd.Pos() % 8

	// Cuts at 4 modulo 8: each Fragment's data, at offset 12 of its own
	// message, is where it was in the whole one modulo 8.
	m, err := feed(t, testReassembler(), FragmentMessage(whole, 44, 60)...)
	if err != nil || m == nil {
		t.Fatal(err)
	}
	_, d, err := DecodeRequest(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.relayAlign(d.Pos()); got != want {
		t.Fatalf("consistent fragments: relayAlign %d, want %d", got, want)
	}

	// TestFragment_11AlignmentRestart's shape: data of the second part
	// restarts alignment 4 bytes off from where it lands.
	e.StartRequest(V1_1, &RequestHeader{RequestID: 2, ResponseFlags: ResponseTarget, ObjectKey: []byte("Echo"), Operation: "pair"})
	e.WriteLong(7)
	e.WriteLong(8)
	first := append([]byte(nil), e.FinishMessage()...)
	first[6] |= flagMoreFragments
	frag := append([]byte{0, 0, 0, 0}, make([]byte, 8)...)
	m, err = feed(t, testReassembler(), first, fragmentBytes(V1_1, true, false, nil, frag))
	if err != nil || m == nil {
		t.Fatal(err)
	}
	_, d, err = DecodeRequest(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.relayAlign(d.Pos()); got != -1 {
		t.Fatalf("fragments that restart alignment elsewhere: relayAlign %d, want -1", got)
	}
	// Unfragmented messages: the body's own offset.
	if got := wm.relayAlign(wd.Pos()); got != want {
		t.Fatalf("whole message: %d", got)
	}
}

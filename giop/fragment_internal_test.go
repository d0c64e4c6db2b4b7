package giop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"testing"
	"time"
)

// Tests of fragment reassembly and the frame reader, from the inside:
// SPEC.md ("Fragments"), CORBA 3.0 §15.4.9. The golden tests (golden_test.go) cover what the wire looks like.

// FragmentMessage splits a complete, unfragmented GIOP 1.1 or 1.2 message
// at the given cuts (offsets counted from the first byte of the header, in
// increasing order) into a first message with MORE_FRAGMENTS set and one
// Fragment message per cut, the last with the flag cleared. GIOP 1.2
// Fragments start with the request id, taken from the message's first body
// ulong (§15.4.9); GIOP 1.1 Fragments carry the bare data, so a cut at
// len(msg) gives the empty last Fragment that omniORB sends (§2.13).
//
// In GIOP 1.2 the cuts must be 8-aligned for the reassembled message to
// decode, as omniORB guarantees; 1.1 data alignment restarts per Fragment,
// which a plain split of an already-encoded message only honours when the
// cut is ≡ 4 mod 8.
//
// It is exported (in a test file only) for hostile_test.go.
func FragmentMessage(msg []byte, cuts ...int) [][]byte {
	h, err := ParseHeader(msg)
	if err != nil || h.Version.Minor == 0 || len(msg) != HeaderSize+int(h.Size) || len(cuts) == 0 {
		panic("FragmentMessage: not a whole unfragmented GIOP 1.1/1.2 message, or no cuts")
	}
	var order binary.ByteOrder = binary.BigEndian
	if h.LittleEndian {
		order = binary.LittleEndian
	}
	first := append([]byte(nil), msg[:cuts[0]]...)
	first[6] |= flagMoreFragments
	order.PutUint32(first[8:], uint32(len(first)-HeaderSize))
	out := [][]byte{first}
	for i, cut := range cuts {
		end := len(msg)
		if i+1 < len(cuts) {
			end = cuts[i+1]
		}
		out = append(out, fragmentBytes(h.Version, h.LittleEndian, i+1 < len(cuts), msg[HeaderSize:HeaderSize+4], msg[cut:end]))
	}
	return out
}

// fragmentBytes builds one Fragment message: in GIOP 1.2 the 4 bytes of id
// (already in the message's byte order) precede the data.
func fragmentBytes(v Version, little, more bool, id, data []byte) []byte {
	e := NewEncoder(v, little)
	beginMessage(e, v, MsgFragment, more)
	if v.Minor >= 2 {
		e.WriteRaw(id)
	}
	e.WriteRaw(data)
	finishMessage(e)
	return append([]byte(nil), e.Bytes()...)
}

// frag12 builds a GIOP 1.2 Fragment for request id in the given byte order.
func frag12(little, more bool, id uint32, data []byte) []byte {
	var idb [4]byte
	if little {
		binary.LittleEndian.PutUint32(idb[:], id)
	} else {
		binary.BigEndian.PutUint32(idb[:], id)
	}
	return fragmentBytes(V1_2, little, more, idb[:], data)
}

// mustMessage turns one encoded message into a Message as the frame reader
// would before reassembly.
func mustMessage(t testing.TB, b []byte) *Message {
	t.Helper()
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatalf("ParseHeader(% x): %v", b[:min(len(b), HeaderSize)], err)
	}
	if len(b) != HeaderSize+int(h.Size) {
		t.Fatalf("message of %d bytes declares message_size %d", len(b), h.Size)
	}
	return &Message{Header: h, Buf: append([]byte(nil), b...)}
}

func testReassembler() *reassembler {
	return &reassembler{maxSize: 1<<20 + HeaderSize, maxFragments: 8, maxPartial: 2}
}

// feed adds the messages to r in order and returns the last result. Every
// message but the last must be absorbed (nil, nil).
func feed(t *testing.T, r *reassembler, msgs ...[]byte) (*Message, error) {
	t.Helper()
	now := time.Unix(0, 0)
	for i, b := range msgs {
		m, err := r.add(mustMessage(t, b), now)
		if i == len(msgs)-1 {
			return m, err
		}
		if m != nil || err != nil {
			t.Fatalf("message %d of %d: got (%v, %v), want it absorbed into the chain", i+1, len(msgs), m, err)
		}
	}
	return nil, nil
}

// smallConfig is a Config for frame readers over plain readers.
func smallConfig() *Config {
	return &Config{MaxMessageSize: 64 << 10, MaxFragments: 8, MaxPendingFragmented: 2}
}

// echoBlobRequest encodes Demo::Echo::echoBlob(blob) as omniORB does: no
// service contexts, key "Echo".
func echoBlobRequest(v Version, id uint32, blob []byte) []byte {
	e := NewEncoder(v, true)
	e.StartRequest(v, &RequestHeader{RequestID: id, ResponseFlags: ResponseTarget, ObjectKey: []byte("Echo"), Operation: "echoBlob"})
	e.WriteOctets(blob)
	return append([]byte(nil), e.FinishMessage()...)
}

func patternBlob(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// checkEchoBlob decodes m as the echoBlob request and checks its argument.
func checkEchoBlob(t *testing.T, m *Message, id uint32, blob []byte) {
	t.Helper()
	if m.MoreFragments || m.Buf[6]&flagMoreFragments != 0 || int(m.Size) != len(m.Buf)-HeaderSize {
		t.Fatalf("reassembled header not fixed up: more=%v flags=%#x size=%d len=%d", m.MoreFragments, m.Buf[6], m.Size, len(m.Buf))
	}
	if h, err := ParseHeader(m.Buf); err != nil || h.Size != m.Size {
		t.Fatalf("reassembled Buf header: %+v, %v (want size %d)", h, err, m.Size)
	}
	h, d, err := DecodeRequest(m)
	if err != nil {
		t.Fatalf("DecodeRequest: %v", err)
	}
	if h.RequestID != id || h.Operation != "echoBlob" || string(h.ObjectKey) != "Echo" {
		t.Fatalf("header %+v", h)
	}
	got := d.OctetsNoCopy()
	if d.Err() != nil || !bytes.Equal(got, blob) || d.Remaining() != 0 {
		t.Fatalf("blob of %d bytes (err %v, %d left), want the %d sent", len(got), d.Err(), d.Remaining(), len(blob))
	}
}

// TestFragment_Request12OmniORBShape reassembles a GIOP 1.2 Request in the
// shape omniORB sends a 100,000-octet echoBlob (SPEC.md): the
// Request with MORE_FRAGMENTS and message_size 100044, ending 8-aligned at
// 100056, then a Fragment of size 8 — the request id plus 4 data bytes.
func TestFragment_Request12OmniORBShape(t *testing.T) {
	blob := patternBlob(100000)
	full := echoBlobRequest(V1_2, 4, blob)
	parts := FragmentMessage(full, 100056)
	if h, _ := ParseHeader(parts[0]); h.Size != 100044 || !h.MoreFragments {
		t.Fatalf("first fragment %+v, want MORE_FRAGMENTS size 100044 as captured", h)
	}
	if h, _ := ParseHeader(parts[1]); h.Size != 8 || h.MoreFragments || h.Type != MsgFragment {
		t.Fatalf("Fragment %+v, want size 8 and the last", h)
	}
	// Through the frame reader, so the header fix-up is what a Conn sees.
	fr := newFrameReader(bytes.NewReader(bytes.Join(parts, nil)), nil, &Config{MaxMessageSize: 2 << 20, MaxFragments: 8, MaxPendingFragmented: 2})
	m, err := fr.next()
	if err != nil {
		t.Fatal(err)
	}
	checkEchoBlob(t, m, 4, blob)
	if fr.asm.pending() != 0 {
		t.Fatalf("%d chains still pending", fr.asm.pending())
	}
	if _, err := fr.next(); err != io.EOF {
		t.Fatalf("after the message: %v, want io.EOF", err)
	}
}

// TestFragment_Request11EmptyLastFragment reassembles the GIOP 1.1 shape
// omniORB sends (§2.13): the whole Request with MORE_FRAGMENTS (size 100044)
// and then an empty Fragment, which carries no request id in 1.1.
func TestFragment_Request11EmptyLastFragment(t *testing.T) {
	blob := patternBlob(100000)
	full := echoBlobRequest(V1_1, 2, blob)
	parts := FragmentMessage(full, len(full))
	if h, _ := ParseHeader(parts[0]); h.Size != 100044 || !h.MoreFragments {
		t.Fatalf("first fragment %+v, want MORE_FRAGMENTS size 100044 as captured", h)
	}
	if len(parts[1]) != HeaderSize {
		t.Fatalf("last Fragment of %d bytes, want a bare header", len(parts[1]))
	}
	r := testReassembler()
	m, err := feed(t, r, parts...)
	if err != nil || m == nil {
		t.Fatalf("reassembly: (%v, %v)", m, err)
	}
	checkEchoBlob(t, m, 2, blob)
	if len(m.segs) != 0 {
		t.Fatalf("an empty Fragment recorded %d alignment segments", len(m.segs))
	}
}

// TestFragment_11AlignmentRestart checks the GIOP 1.1 rule that data in a
// Fragment aligns relative to that Fragment's header (§15.4.9; §2.13 "a
// naive concatenation gets only 8-byte types wrong"). The first message
// ends 8-aligned at offset 56, so a double at Fragment offset 16 (after 4
// padding bytes) lands at message offset 60, where a naive concatenation
// would look for it at 56.
func TestFragment_11AlignmentRestart(t *testing.T) {
	e := NewEncoder(V1_1, true)
	e.StartRequest(V1_1, &RequestHeader{RequestID: 2, ResponseFlags: ResponseTarget, ObjectKey: []byte("Echo"), Operation: "pair"})
	e.WriteLong(7)
	e.WriteLong(8)
	first := append([]byte(nil), e.FinishMessage()...)
	if len(first) != 56 {
		t.Fatalf("first message is %d bytes; the test needs it to end 8-aligned at 56", len(first))
	}
	first[6] |= flagMoreFragments

	garbage := []byte{0xAA, 0xBB, 0xCC, 0xDD} // padding is never checked (§0 pitfall 3)
	frag1 := append(append([]byte(nil), garbage...), binary.LittleEndian.AppendUint64(nil, math.Float64bits(3.25))...)
	frag3 := append(append([]byte(nil), garbage...), binary.LittleEndian.AppendUint64(nil, 0x0102030405060708)...)
	msgs := [][]byte{
		first,
		fragmentBytes(V1_1, true, true, nil, frag1),
		fragmentBytes(V1_1, true, true, nil, nil), // an empty Fragment in the middle
		fragmentBytes(V1_1, true, false, nil, frag3),
	}
	m, err := feed(t, testReassembler(), msgs...)
	if err != nil || m == nil {
		t.Fatalf("reassembly: (%v, %v)", m, err)
	}
	h, d, err := DecodeRequest(m)
	if err != nil || h.Operation != "pair" {
		t.Fatalf("DecodeRequest: %+v, %v", h, err)
	}
	a, b, x, y := d.Long(), d.Long(), d.Double(), d.ULongLong()
	if d.Err() != nil || a != 7 || b != 8 || x != 3.25 || y != 0x0102030405060708 || d.Remaining() != 0 {
		t.Fatalf("decoded %d %d %v %#x (err %v, %d left), want 7 8 3.25 0x0102030405060708", a, b, x, y, d.Err(), d.Remaining())
	}

	// The same bytes without the per-fragment origins decode wrongly, which
	// is what makes this test sensitive to the rule.
	naive := &Message{Header: m.Header, Buf: m.Buf}
	_, nd, err := DecodeRequest(naive)
	if err != nil {
		t.Fatal(err)
	}
	nd.Long()
	nd.Long()
	if v := nd.Double(); v == 3.25 {
		t.Fatal("naive concatenation decoded the double correctly; the test does not exercise the 1.1 rule")
	}
}

// TestFragment_Errors covers the fragment protocol errors and limits of
// SPEC.md: each ends the chain with the sentinel
// named, and the connection then answers MessageError.
func TestFragment_Errors(t *testing.T) {
	req12 := echoBlobRequest(V1_2, 4, patternBlob(200))
	req11 := echoBlobRequest(V1_1, 4, patternBlob(200))
	p12 := FragmentMessage(req12, 64, 128)
	p11 := FragmentMessage(req11, 60, 124) // cuts ≡ 4 mod 8: valid 1.1 fragments
	bigEndian12 := func() []byte {
		b := frag12(false, false, 4, p12[2][16:])
		return b
	}()
	emptyMore := frag12(true, true, 4, nil)

	cases := []struct {
		name string
		r    *reassembler
		msgs [][]byte
		want error
	}{
		{"12_fragment_without_chain", testReassembler(), [][]byte{frag12(true, false, 99, []byte{1, 2, 3, 4})}, ErrProtocol},
		{"12_fragment_for_other_id", testReassembler(), [][]byte{p12[0], frag12(true, false, 6, []byte{1, 2, 3, 4})}, ErrProtocol},
		{"12_fragment_without_request_id", testReassembler(), [][]byte{p12[0], fragmentBytes(V1_2, true, false, nil, []byte{4, 0})}, ErrProtocol},
		{"11_fragment_without_chain", testReassembler(), [][]byte{p11[1]}, ErrProtocol},
		{"12_byte_order_mismatch", testReassembler(), [][]byte{p12[0], p12[1], bigEndian12}, ErrProtocol},
		{"11_byte_order_mismatch", testReassembler(), [][]byte{p11[0], fragmentBytes(V1_1, false, false, nil, p11[1][HeaderSize:])}, ErrProtocol},
		{"11_chain_12_fragment", testReassembler(), [][]byte{p11[0], frag12(true, false, 4, nil)}, ErrProtocol},
		{"12_chain_11_fragment", testReassembler(), [][]byte{p12[0], fragmentBytes(V1_1, true, false, nil, nil)}, ErrProtocol},
		{"11_second_chain_before_end", testReassembler(), [][]byte{p11[0], p11[0]}, ErrProtocol},
		{"12_duplicate_request_id", testReassembler(), [][]byte{p12[0], p12[0]}, ErrProtocol},
		{"12_first_fragment_without_id", testReassembler(), [][]byte{fragFirstShort()}, ErrProtocol},
		{"11_locaterequest_not_fragmentable", testReassembler(), [][]byte{withMore(NewEncoder(V1_1, true).EncodeLocateRequest(V1_1, 2, []byte("Echo")))}, ErrProtocol},
		{"12_closeconnection_not_fragmentable", testReassembler(), [][]byte{withMore(EncodeHeaderOnly(V1_2, MsgCloseConnection))}, ErrProtocol},
		{"too_many_fragments", testReassembler(), append([][]byte{p12[0]}, repeat(emptyMore, 9)...), ErrLimit},
		{"too_many_chains", testReassembler(), [][]byte{p12[0], FragmentMessage(echoBlobRequest(V1_2, 6, nil), 16)[0], FragmentMessage(echoBlobRequest(V1_2, 8, nil), 16)[0]}, ErrLimit},
		{"total_over_max", &reassembler{maxSize: 100, maxFragments: 8, maxPartial: 2}, p12[:2], ErrMessageTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := feed(t, tc.r, tc.msgs...)
			if !errors.Is(err, tc.want) || m != nil {
				t.Fatalf("got (%v, %v), want an error wrapping %v", m, err, tc.want)
			}
		})
	}
}

// fragFirstShort is a GIOP 1.2 Request with MORE_FRAGMENTS whose body is
// too short to hold the request id that Fragments are matched by.
func fragFirstShort() []byte {
	e := NewEncoder(V1_2, true)
	beginMessage(e, V1_2, MsgRequest, true)
	e.WriteRaw([]byte{1, 2})
	finishMessage(e)
	return e.Bytes()
}

func withMore(b []byte) []byte {
	b = append([]byte(nil), b...)
	b[6] |= flagMoreFragments
	return b
}

func repeat(b []byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// TestFragment_LimitsAreInclusive checks the edges of the limits: exactly
// maxFragments Fragments and exactly maxSize bytes are accepted.
func TestFragment_LimitsAreInclusive(t *testing.T) {
	full := echoBlobRequest(V1_2, 4, patternBlob(8*8))
	cuts := []int{}
	for c := 64; c < len(full) && len(cuts) < 8; c += 8 {
		cuts = append(cuts, c)
	}
	parts := FragmentMessage(full, cuts...)
	if len(parts)-1 != 8 {
		t.Fatalf("%d Fragments, want 8", len(parts)-1)
	}
	r := &reassembler{maxSize: len(full), maxFragments: 8, maxPartial: 1}
	m, err := feed(t, r, parts...)
	if err != nil || m == nil {
		t.Fatalf("at the limits: (%v, %v)", m, err)
	}
	checkEchoBlob(t, m, 4, patternBlob(64))
}

// TestFragment_CancelDropsPartialChain checks that a CancelRequest for a
// request still being reassembled drops its partial message (§15.4.9;
// SPEC.md), so that a later Fragment for it is an error
// and nothing is held.
func TestFragment_CancelDropsPartialChain(t *testing.T) {
	parts := FragmentMessage(echoBlobRequest(V1_2, 4, patternBlob(200)), 64)
	r := testReassembler()
	if _, err := feed(t, r, parts[0]); err != nil {
		t.Fatal(err)
	}
	if r.pending() != 1 {
		t.Fatalf("%d chains pending, want 1", r.pending())
	}
	cancel := append([]byte(nil), NewEncoder(V1_2, true).EncodeCancelRequest(V1_2, 4)...)
	m, err := r.add(mustMessage(t, cancel), time.Now())
	if err != nil || m == nil || m.Type != MsgCancelRequest {
		t.Fatalf("CancelRequest: (%v, %v), want it passed on", m, err)
	}
	if r.pending() != 0 {
		t.Fatalf("%d chains pending after CancelRequest, want 0", r.pending())
	}
	if _, err := r.add(mustMessage(t, parts[1]), time.Now()); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Fragment of the cancelled request: %v, want ErrProtocol", err)
	}
}

// TestFragment_CancelEnds11Chain checks that a CancelRequest for the
// request id of the GIOP 1.1 message in reassembly ends that chain
// (§15.4.9), so that the next fragmented 1.1 message may start, and that
// a CancelRequest for another id leaves it alone.
func TestFragment_CancelEnds11Chain(t *testing.T) {
	p4 := FragmentMessage(echoBlobRequest(V1_1, 4, patternBlob(200)), 60, 124)
	p6 := FragmentMessage(echoBlobRequest(V1_1, 6, patternBlob(100)), 60)
	r := testReassembler()
	if _, err := feed(t, r, p4[0], p4[1]); err != nil {
		t.Fatal(err)
	}
	cancel := func(id uint32) {
		t.Helper()
		m, err := r.add(mustMessage(t, NewEncoder(V1_1, true).EncodeCancelRequest(V1_1, id)), time.Now())
		if err != nil || m == nil || m.Type != MsgCancelRequest {
			t.Fatalf("CancelRequest %d: (%v, %v), want it passed on", id, m, err)
		}
	}
	cancel(5)
	if r.pending() != 1 {
		t.Fatalf("a CancelRequest for another id ended the chain")
	}
	cancel(4)
	if r.pending() != 0 || r.bytes != 0 {
		t.Fatalf("%d chains (%d bytes) pending after CancelRequest, want none", r.pending(), r.bytes)
	}
	m, err := feed(t, r, p6...)
	if err != nil || m == nil {
		t.Fatalf("the next fragmented 1.1 request: (%v, %v)", m, err)
	}
	checkEchoBlob(t, m, 6, patternBlob(100))
	if _, err := r.add(mustMessage(t, p4[2]), time.Now()); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Fragment of the cancelled request: %v, want ErrProtocol", err)
	}
}

// TestFragment_Interleaved12 reassembles GIOP 1.2 fragments of two requests
// interleaved with each other and with an unfragmented message (§15.4.9:
// 1.2 Fragments are matched by request id).
func TestFragment_Interleaved12(t *testing.T) {
	a, b := patternBlob(300), bytes.Repeat([]byte{0x5A}, 150)
	pa := FragmentMessage(echoBlobRequest(V1_2, 4, a), 64, 200)
	pb := FragmentMessage(echoBlobRequest(V1_2, 6, b), 128)
	plain := echoBlobRequest(V1_2, 8, []byte("x"))
	r := testReassembler()
	now := time.Now()
	var done []*Message
	for _, raw := range [][]byte{pa[0], pb[0], pa[1], plain, pb[1], pa[2]} {
		m, err := r.add(mustMessage(t, raw), now)
		if err != nil {
			t.Fatal(err)
		}
		if m != nil {
			done = append(done, m)
		}
	}
	if len(done) != 3 {
		t.Fatalf("%d messages completed, want 3", len(done))
	}
	checkEchoBlob(t, done[0], 8, []byte("x"))
	checkEchoBlob(t, done[1], 6, b)
	checkEchoBlob(t, done[2], 4, a)
	if r.pending() != 0 {
		t.Fatalf("%d chains pending", r.pending())
	}
}

// shortReader returns at most n bytes per Read, like a socket delivering a
// message in pieces.
type shortReader struct {
	b []byte
	n int
}

func (r *shortReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n, len(r.b))
	copy(p, r.b[:k])
	r.b = r.b[k:]
	return k, nil
}

// TestFrame_ShortReads checks that the frame reader assembles messages
// delivered a few bytes at a time, including a fragment chain.
func TestFrame_ShortReads(t *testing.T) {
	blob := patternBlob(5000)
	stream := bytes.Join(append(FragmentMessage(echoBlobRequest(V1_2, 4, blob), 1024, 4096),
		echoBlobRequest(V1_0, 6, blob)), nil)
	for _, n := range []int{1, 3, 7, 4096} {
		fr := newFrameReader(&shortReader{b: stream, n: n}, nil, smallConfig())
		m, err := fr.next()
		if err != nil {
			t.Fatalf("reads of %d: %v", n, err)
		}
		checkEchoBlob(t, m, 4, blob)
		if m, err = fr.next(); err != nil {
			t.Fatalf("reads of %d: %v", n, err)
		}
		checkEchoBlob(t, m, 6, blob)
		if _, err := fr.next(); err != io.EOF {
			t.Fatalf("reads of %d: at the end %v, want io.EOF", n, err)
		}
	}
}

// TestFrame_MessageSizeOverLimit checks that a message_size above the
// limit is refused from the header alone, before any body byte is read or
// allocated (SPEC.md "message_size"), and that a body cut short
// is io.ErrUnexpectedEOF.
func TestFrame_MessageSizeOverLimit(t *testing.T) {
	hdr := func(size uint32) []byte {
		b := []byte{'G', 'I', 'O', 'P', 1, 2, 1, byte(MsgRequest), 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(b[8:], size)
		return b
	}
	cfg := smallConfig()
	for _, size := range []uint32{uint32(cfg.MaxMessageSize) + 1, 1 << 30, math.MaxUint32} {
		// Only the header is there: reading the body would be io.EOF.
		fr := newFrameReader(bytes.NewReader(hdr(size)), nil, cfg)
		if _, err := fr.next(); !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("message_size %d: %v, want ErrMessageTooLarge", size, err)
		}
	}
	fr := newFrameReader(bytes.NewReader(append(hdr(uint32(cfg.MaxMessageSize)), 1, 2, 3)), nil, cfg)
	if _, err := fr.next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated body: %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestFrame_DeclaredSizeIsNotAllocated checks that a peer declaring a large
// body and sending little costs memory in proportion to what it sent, not
// to message_size (SPEC.md: "do not allocate message_size up
// front"; giop/SPEC.md "Limits": four times what arrived plus 4 KiB). Here
// 100 body bytes of a declared 1 GiB cost the reader's 4 KiB buffer and a
// body buffer of 4.4 KiB, where a 64 KiB chunk was allocated before.
func TestFrame_DeclaredSizeIsNotAllocated(t *testing.T) {
	cfg := &Config{MaxMessageSize: 1 << 30, MaxFragments: 8, MaxPendingFragmented: 2}
	b := []byte{'G', 'I', 'O', 'P', 1, 2, 1, byte(MsgRequest), 0, 0, 0, 0x3f} // 1 GiB - 16 MiB, little-endian
	b = append(b, make([]byte, 100)...)
	alloc := allocatedBytes(func() {
		fr := newFrameReader(bytes.NewReader(b), nil, cfg)
		if _, err := fr.next(); err != io.ErrUnexpectedEOF {
			t.Errorf("got %v, want io.ErrUnexpectedEOF", err)
		}
	})
	// Twice what the buffers need, for the reader itself and the race
	// detector's own allocations.
	if limit := uint64(2 * (readBufferSize + 4*len(b) + minBodyChunk)); alloc > limit {
		t.Fatalf("a 1 GiB declaration with 100 bytes sent allocated %d bytes (limit %d)", alloc, limit)
	}
}

// TestFragment_CancelRequestWithMoreFragments is the regression test for
// the FuzzReadMessage input testdata/fuzz/FuzzReadMessage/c0a80b3e8776877d:
// a CancelRequest with the MORE_FRAGMENTS flag was handed on as a complete
// message, flag and all. CancelRequest cannot be fragmented (§15.4.9 allows
// only Request/Reply, and in 1.2 LocateRequest/LocateReply), so it is now a
// protocol error like any other unfragmentable message with the flag.
func TestFragment_CancelRequestWithMoreFragments(t *testing.T) {
	cancel := withMore(NewEncoder(V1_2, true).EncodeCancelRequest(V1_2, 4))
	fr := newFrameReader(bytes.NewReader(cancel), nil, smallConfig())
	if m, err := fr.next(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("got (%+v, %v), want ErrProtocol", m, err)
	}
}

// next is read returning a new message, for tests.
func (f *frameReader) next() (*Message, error) {
	m := new(Message)
	if err := f.read(m); err != nil {
		return nil, err
	}
	return m, nil
}

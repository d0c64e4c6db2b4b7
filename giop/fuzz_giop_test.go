package giop

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// Fuzz targets for the wire layer (SPEC.md, "Fuzzing plan"):
// the frame reader with reassembly, the Request and Reply decoders in every
// version and byte order, every Decoder method, the service contexts we
// interpret, and TypeCode/any. Each must never panic, must fail only with
// the package's sentinel errors, and must not allocate more than the input
// justifies. Seed corpora live in testdata/fuzz/<FuzzName>/ and are built
// from the omniORB captures in testdata/golden (padding there is garbage,
// so no seed assumes zero padding).

// readGoldenHex reads a testdata/golden hex file: '#' starts a comment that
// runs to the end of the line; whitespace and '|' separate fields.
func readGoldenHex(tb testing.TB, path string) []byte {
	tb.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := parseHexText(string(text))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return b
}

var hexComment = regexp.MustCompile(`#[^\n]*`)

func parseHexText(text string) ([]byte, error) {
	text = hexComment.ReplaceAllString(text, "")
	text = strings.NewReplacer(" ", "", "\t", "", "\n", "", "\r", "", "|", "").Replace(text)
	return hex.DecodeString(text)
}

// goldenCaptures returns the omniORB captures (testdata/golden/*.hex).
func goldenCaptures(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.hex"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no golden captures: %v", err)
	}
	out := make(map[string][]byte)
	for _, p := range paths {
		out[strings.TrimSuffix(filepath.Base(p), ".hex")] = readGoldenHex(tb, p)
	}
	return out
}

// allocatedBytes returns how many heap bytes f allocated. Tests in this
// package do not run in parallel, so the count is f's within noise.
func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// isWireErr reports whether err is one of the errors a decoder may return
// for bad input.
func isWireErr(err error) bool {
	return errors.Is(err, ErrMarshal) || errors.Is(err, ErrLimit) || errors.Is(err, ErrProtocol) ||
		errors.Is(err, ErrMessageTooLarge) || errors.Is(err, ErrBadIOR)
}

// messageWith wraps body in a GIOP header of the given version, byte order
// and type, as the frame reader hands over a complete message.
func messageWith(v Version, little bool, t MsgType, body []byte) *Message {
	e := NewEncoder(v, little)
	beginMessage(e, v, t, false)
	e.WriteRaw(body)
	finishMessage(e)
	h, err := ParseHeader(e.Bytes())
	if err != nil {
		panic(err)
	}
	return &Message{Header: h, Buf: e.Bytes()}
}

// chunkReader delivers its input as two chunks split at a fuzzed point, in
// reads of at most max bytes that never cross the split, like a socket.
type chunkReader struct {
	chunks [][]byte
	max    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.chunks) > 0 && len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.max)], r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	return n, nil
}

// FuzzReadMessage feeds a byte stream to the frame reader in two chunks,
// split at a fuzzed point, with short reads, through fragment reassembly
// and into the message decoders. Properties: no panic; errors are I/O
// (EOF) or wrap the protocol sentinels; every message returned is whole
// (header consistent with its size, no MORE_FRAGMENTS, not a Fragment),
// within the size limit and no larger than the input that carried it;
// it holds exactly its buffer's capacity of the byte budget, and once the
// messages are released and the reader closed, the budget is whole again.
func FuzzReadMessage(f *testing.F) {
	for _, b := range goldenCaptures(f) {
		f.Add(b, uint16(len(b)/2), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16, step uint8) {
		cfg := &Config{MaxMessageSize: 16 << 10, MaxFragments: 4, MaxPendingFragmented: 2, MaxReassemblyBytes: 24 << 10}
		cut := int(split) % (len(data) + 1)
		r := &chunkReader{chunks: [][]byte{data[:cut], data[cut:]}, max: 1 + int(step%32)}
		fr := newFrameReader(r, nil, cfg)
		b := newBudget(32 << 10)
		sh := newShare(b)
		fr.useBudget(sh)
		defer func() {
			fr.close()
			if n := b.inUse(); n != 0 {
				t.Fatalf("%d bytes of the budget not given back", n)
			}
			if n := sh.held.Load(); n != 0 {
				t.Fatalf("the connection's share still holds %d bytes", n)
			}
		}()
		for range 64 {
			m, err := fr.next()
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !isWireErr(err) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if int(m.held) != cap(m.Buf) {
				t.Fatalf("message holds %d bytes of the budget for a buffer of %d", m.held, cap(m.Buf))
			}
			fr.release(m)
			if m.MoreFragments || m.Type == MsgFragment || len(m.Buf) != HeaderSize+int(m.Size) {
				t.Fatalf("incomplete message out of the reader: %+v, %d bytes", m.Header, len(m.Buf))
			}
			if int(m.Size) > cfg.MaxMessageSize || len(m.Buf) > len(data) {
				t.Fatalf("message of %d bytes from %d input bytes (limit %d)", m.Size, len(data), cfg.MaxMessageSize)
			}
			h, err := ParseHeader(m.Buf)
			if err != nil || h.Size != m.Size || h.Type != m.Type || h.MoreFragments {
				t.Fatalf("Buf header %+v (%v) disagrees with %+v", h, err, m.Header)
			}
			decodeMessage(t, m)
		}
	})
}

// decodeMessage runs the decoder for m's type and checks its error.
func decodeMessage(t *testing.T, m *Message) {
	t.Helper()
	var err error
	var d *Decoder
	switch m.Type {
	case MsgRequest:
		_, d, err = DecodeRequest(m)
	case MsgReply:
		_, d, err = DecodeReply(m)
	case MsgLocateRequest:
		_, err = DecodeLocateRequest(m)
	case MsgLocateReply:
		_, d, err = DecodeLocateReply(m)
	case MsgCancelRequest:
		_, err = DecodeCancelRequest(m)
	}
	if err != nil && !isWireErr(err) {
		t.Fatalf("%s: error %v wraps no sentinel", m.Type, err)
	}
	if d != nil && (d.Remaining() < 0 || d.Pos() > len(m.Buf)) {
		t.Fatalf("%s: decoder at %d with %d remaining", m.Type, d.Pos(), d.Remaining())
	}
}

// FuzzDecodeRequest decodes arbitrary bytes as the body of a Request and of
// a LocateRequest in GIOP 1.0, 1.1 or 1.2 and either byte order. Whatever
// decodes must re-encode (with our encoder, KeyAddr) to a message that
// decodes to the same header and the same body bytes; a 1.2 body must
// start 8-aligned.
func FuzzDecodeRequest(f *testing.F) {
	for name, b := range goldenCaptures(f) {
		if strings.HasPrefix(name, "request") || strings.HasPrefix(name, "locaterequest") {
			f.Add(b[HeaderSize:], b[5], b[6]&1 == 1)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, minor uint8, little bool) {
		v := Version{1, minor % 3}
		m := messageWith(v, little, MsgRequest, body)
		h, d, err := DecodeRequest(m)
		// The reader's path, with operation names interned (twice, so the
		// second decode takes the name from the table), decodes the same.
		names := make(map[string]string)
		for range 2 {
			var ih RequestHeader
			var id Decoder
			var scBuf [2]ServiceContext
			ierr := decodeRequestInto(m, &ih, &id, names, scBuf[:])
			if (ierr == nil) != (err == nil) || (err == nil && (!reflect.DeepEqual(ih, *h) || id.Pos() != d.Pos())) {
				t.Fatalf("with interning: %+v, %v; without: %+v, %v", ih, ierr, h, err)
			}
		}
		if err != nil {
			if !isWireErr(err) || d != nil || h == nil {
				t.Fatalf("DecodeRequest = (%v, %v, %v)", h, d, err)
			}
		} else {
			if d.Remaining() < 0 || (v.Minor == 2 && d.Remaining() > 0 && d.Pos()%8 != 0) {
				t.Fatalf("1.2 body at %d with %d left", d.Pos(), d.Remaining())
			}
			e := NewEncoder(v, little)
			e.StartRequest(v, h)
			e.WriteRaw(d.Rest())
			m2 := messageWith(v, little, MsgRequest, e.FinishMessage()[HeaderSize:])
			h2, d2, err := DecodeRequest(m2)
			if err != nil {
				t.Fatalf("re-encoded request does not decode: %v", err)
			}
			h.Addressing = KeyAddr
			if !reflect.DeepEqual(normalizeRequest(h), normalizeRequest(h2)) || !bytes.Equal(d.Rest(), d2.Rest()) {
				t.Fatalf("round trip:\n%+v\n%+v", h, h2)
			}
		}

		lm := messageWith(v, little, MsgLocateRequest, body)
		lh, err := DecodeLocateRequest(lm)
		if err != nil {
			if !isWireErr(err) {
				t.Fatalf("DecodeLocateRequest: %v", err)
			}
			return
		}
		out := NewEncoder(v, little).EncodeLocateRequest(v, lh.RequestID, lh.ObjectKey)
		lh2, err := DecodeLocateRequest(messageWith(v, little, MsgLocateRequest, out[HeaderSize:]))
		if err != nil || lh2.RequestID != lh.RequestID || !bytes.Equal(lh2.ObjectKey, lh.ObjectKey) {
			t.Fatalf("LocateRequest round trip: %+v -> %+v, %v", lh, lh2, err)
		}
	})
}

// normalizeRequest makes empty and nil slices compare equal.
func normalizeRequest(h *RequestHeader) RequestHeader {
	c := *h
	if len(c.ObjectKey) == 0 {
		c.ObjectKey = nil
	}
	c.ServiceContexts = append(ServiceContextList(nil), h.ServiceContexts...)
	for i := range c.ServiceContexts {
		if len(c.ServiceContexts[i].Data) == 0 {
			c.ServiceContexts[i].Data = nil
		}
	}
	if len(c.ServiceContexts) == 0 {
		c.ServiceContexts = nil
	}
	return c
}

// FuzzDecodeReply decodes arbitrary bytes as the body of a Reply and of a
// LocateReply in every version and byte order, then the reply body its
// status announces (system exception, forward IOR, addressing mode). The
// header re-encodes to the same values.
func FuzzDecodeReply(f *testing.F) {
	for name, b := range goldenCaptures(f) {
		if strings.HasPrefix(name, "reply") || strings.HasPrefix(name, "locatereply") {
			f.Add(b[HeaderSize:], b[5], b[6]&1 == 1)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, minor uint8, little bool) {
		v := Version{1, minor % 3}
		h, d, err := DecodeReply(messageWith(v, little, MsgReply, body))
		if err != nil {
			if !isWireErr(err) || d != nil {
				t.Fatalf("DecodeReply = (%v, %v, %v)", h, d, err)
			}
		} else {
			rest := d.Rest()
			switch h.Status {
			case ReplySystemException:
				if x := d.SystemException(); x != nil {
					e := NewEncoder(v, little)
					e.WriteSystemException(x)
					y := NewDecoder(e.Bytes(), v, little).SystemException()
					if y == nil || *y != *x {
						t.Fatalf("system exception round trip: %v -> %v", x, y)
					}
				}
			case ReplyUserException:
				d.BoundedString(maxRepoIDLen, "exception id")
			case ReplyLocationForward, ReplyLocationForwardPerm:
				d.IOR()
			case ReplyNeedsAddressingMode:
				d.Short()
			}
			if err := d.Err(); err != nil && !isWireErr(err) {
				t.Fatalf("reply body: %v", err)
			}
			e := NewEncoder(v, little)
			e.StartReply(v, h)
			e.WriteRaw(rest)
			h2, d2, err := DecodeReply(messageWith(v, little, MsgReply, e.FinishMessage()[HeaderSize:]))
			if err != nil || h2.RequestID != h.RequestID || h2.Status != h.Status ||
				len(h2.ServiceContexts) != len(h.ServiceContexts) || !bytes.Equal(d2.Rest(), rest) {
				t.Fatalf("reply round trip: %+v -> %+v, %v", h, h2, err)
			}
		}

		lh, ld, err := DecodeLocateReply(messageWith(v, little, MsgLocateReply, body))
		if err != nil {
			if !isWireErr(err) {
				t.Fatalf("DecodeLocateReply: %v", err)
			}
			return
		}
		if ld.Pos() != HeaderSize+8 {
			t.Fatalf("LocateReply body at %d, want %d: it is not 8-aligned (§15.4.6.2)", ld.Pos(), HeaderSize+8)
		}
		switch lh.Status {
		case ObjectForward, ObjectForwardPerm:
			ld.IOR()
		case LocSystemException:
			ld.SystemException()
		case LocNeedsAddressingMode:
			ld.Short()
		}
		if err := ld.Err(); err != nil && !isWireErr(err) {
			t.Fatalf("locate reply body: %v", err)
		}
	})
}

// FuzzDecoder drives every Decoder method from a fuzzed script of
// operations over fuzzed data, entering and leaving encapsulations.
// Properties: no panic; Remaining never negative and Pos within the
// buffer; the first error sticks (later calls neither clear nor replace
// it) and wraps a sentinel; failed reads return zero values.
func FuzzDecoder(f *testing.F) {
	all := make([]byte, 64)
	for i := range all {
		all[i] = byte(i)
	}
	for _, b := range goldenCaptures(f) {
		f.Add(all, b[HeaderSize:], b[5], b[6]&1 == 1)
	}
	f.Add([]byte{5, 5, 13, 14, 22, 5, 23, 5, 24}, []byte("\x0c\x00\x00\x00\x01\x00\x00\x00\x01\x00\x01\x00\x09\x01\x01\x00"), uint8(2), true)
	f.Fuzz(func(t *testing.T, ops, data []byte, minor uint8, little bool) {
		v := Version{1, minor % 3}
		stack := []*Decoder{NewDecoder(data, v, little)}
		for i, op := range ops {
			if i >= 512 {
				break
			}
			d := stack[len(stack)-1]
			root := len(stack) == 1
			before := d.Err()
			zero := true // whether a failed read's result was zero
			switch op % 36 {
			case 0:
				zero = d.Octet() == 0
			case 1:
				zero = !d.Bool()
			case 2:
				zero = d.Char() == 0
			case 3:
				zero = d.UShort() == 0
			case 4:
				zero = d.Short() == 0
			case 5:
				zero = d.ULong() == 0
			case 6:
				zero = d.Long() == 0
			case 7:
				zero = d.ULongLong() == 0
			case 8:
				zero = d.LongLong() == 0
			case 9:
				zero = d.Float() == 0
			case 10:
				zero = d.Double() == 0
			case 11:
				zero = d.SeqLen(int(op>>6)*4) == 0
			case 12:
				zero = d.StringBytes() == nil
			case 13:
				zero = d.String() == ""
			case 14:
				zero = d.BoundedString(int(op>>6)*8, "fuzz string") == ""
			case 15:
				zero = d.OctetsNoCopy() == nil
			case 16:
				zero = d.Octets() == nil
			case 17:
				zero = d.BoundedOctets(int(op>>6)*8, "fuzz octets") == nil
			case 18:
				zero = d.Raw(int(op>>6)*3) == nil
			case 19:
				zero = d.WChar() == 0
			case 20:
				zero = d.WString() == ""
			case 21:
				d.Align(1 << (op >> 6))
			case 22:
				d.AlignIfMore(8)
			case 23:
				if len(stack) < 8 {
					stack = append(stack, d.Encapsulation())
				}
			case 24:
				if len(stack) > 1 {
					stack = stack[:len(stack)-1]
				}
			case 25:
				zero = d.TypeCode() == nil
			case 26:
				a := d.Any()
				zero = a.Type == nil && a.Value == nil
			case 27:
				zero = d.SystemException() == nil
			case 28:
				zero = d.IOR() == nil
			case 29:
				d.Done("fuzz")
			case 30:
				zero = d.serviceContexts() == nil
			case 31:
				_, key := d.targetAddress()
				zero = key == nil
			case 32:
				if len(d.Rest()) != d.Remaining() {
					t.Fatalf("Rest has %d bytes, Remaining says %d", len(d.Rest()), d.Remaining())
				}
			case 33:
				if op>>6&1 == 0 {
					zero = d.components() == nil
				} else {
					c := d.codeSetComponent()
					zero = c.Native == 0 && c.Conversion == nil
				}
			case 34:
				if b := d.OctetsNoCopy(); len(stack) < 8 {
					if op>>6&1 == 0 {
						stack = append(stack, d.OpenEncapsulation(b))
					} else if b != nil {
						stack = append(stack, DecodeEncapsulation(b, v))
					}
				}
			case 35:
				d.SetErr(nil) // must not clear a recorded error
			}
			if root && d.LittleEndian() != little || d.Version() != v {
				t.Fatalf("op %d changed the byte order or version", op%36)
			}
			if d.Remaining() < 0 || d.Pos() < 0 || d.Pos() > len(d.buf) {
				t.Fatalf("op %d: pos %d, remaining %d of %d", op%36, d.Pos(), d.Remaining(), len(d.buf))
			}
			after := d.Err()
			if before != nil && after != before {
				t.Fatalf("op %d: error %v replaced by %v", op%36, before, after)
			}
			if before != nil && !zero {
				t.Fatalf("op %d returned a non-zero value after error %v", op%36, before)
			}
			if after != nil && !isWireErr(after) {
				t.Fatalf("op %d: error %v wraps no sentinel", op%36, after)
			}
		}
	})
}

// FuzzServiceContexts parses arbitrary bytes as a ServiceContextList and as
// the data of the two contexts we interpret: CodeSets (id 1) and
// BI_DIR_IIOP (id 5), §2.6 and §3. What parses re-encodes to the same
// values; BI_DIR_IIOP never yields more than the listen point limit.
func FuzzServiceContexts(f *testing.F) {
	for name, b := range goldenCaptures(f) {
		if name == "request12_codesets_bidir" {
			f.Add(b[60:116], true)                        // the captured list
			f.Add(b[72:84], true)                         // CodeSets data
			f.Add(b[92:116], true)                        // BI_DIR_IIOP data
			f.Add(append([]byte{0}, b[93:116]...), false) // byte order octet flipped: the count reads 0x01000000
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, little bool) {
		d := NewDecoder(data, V1_2, little)
		l := d.serviceContexts()
		if err := d.Err(); err != nil && !isWireErr(err) {
			t.Fatalf("serviceContexts: %v", err)
		}
		if len(l) > maxServiceContexts {
			t.Fatalf("%d contexts, limit %d", len(l), maxServiceContexts)
		}
		datas := [][]byte{data}
		for _, c := range l {
			datas = append(datas, c.Data)
		}
		for _, b := range datas {
			if cs, err := ParseCodeSetContext(b); err != nil {
				if !isWireErr(err) {
					t.Fatalf("ParseCodeSetContext: %v", err)
				}
			} else if cs2, err := ParseCodeSetContext(cs.ServiceContext().Data); err != nil || cs2 != cs {
				t.Fatalf("CodeSets round trip: %+v -> %+v, %v", cs, cs2, err)
			}
			pts, err := ParseBiDirContext(b)
			if err != nil {
				if !isWireErr(err) || pts != nil {
					t.Fatalf("ParseBiDirContext = (%v, %v)", pts, err)
				}
				continue
			}
			if len(pts) > maxListenPoints {
				t.Fatalf("%d listen points, limit %d", len(pts), maxListenPoints)
			}
			pts2, err := ParseBiDirContext(BiDirContext(pts).Data)
			if err != nil || !reflect.DeepEqual(pts, pts2) {
				t.Fatalf("BI_DIR_IIOP round trip: %v -> %v, %v", pts, pts2, err)
			}
		}
	})
}

// FuzzTypeCodeAny decodes arbitrary bytes with Decoder.Any. What decodes
// either fails to re-encode with ErrMarshal or re-encodes to bytes that
// decode and re-encode to the very same bytes (a fixed point: the first
// pass may normalise, e.g. lone surrogates to U+FFFD).
func FuzzTypeCodeAny(f *testing.F) {
	seed := func(v Version, a Any) {
		e := NewEncoder(v, true)
		if err := e.WriteAny(a); err != nil {
			f.Fatal(err)
		}
		f.Add(e.Bytes(), v.Minor, true)
	}
	seed(V1_2, Any{Type: TCString, Value: "IDL:Demo/Echo:1.0"})
	seed(V1_2, Any{Type: &TypeCode{Kind: TkAlias, ID: "IDL:Demo/Blob:1.0", Name: "Blob", Content: TCOctetSeq}, Value: []byte("Echo")})
	seed(V1_2, Any{Type: &TypeCode{Kind: TkSequence, Content: TCDouble}, Value: []any{3.25, -1.0}})
	seed(V1_1, Any{Type: TCWString, Value: "h\u00e9llo"})
	seed(V1_2, Any{Type: TCWChar, Value: rune('\u00e9')})
	f.Add([]byte("\x13\x00\x00\x00\x10\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\x7f"), uint8(2), true)
	f.Fuzz(func(t *testing.T, data []byte, minor uint8, little bool) {
		v := Version{1, minor % 3}
		d := NewDecoder(data, v, little)
		a := d.Any()
		if err := d.Err(); err != nil {
			if !isWireErr(err) {
				t.Fatalf("Any: %v", err)
			}
			return
		}
		if n := valueNodes(a.Value); n > len(data) {
			t.Fatalf("%d input bytes decoded to %d values: allocation not bounded by the input", len(data), n)
		}
		e := NewEncoder(v, little)
		if err := e.WriteAny(a); err != nil {
			if !errors.Is(err, ErrMarshal) {
				t.Fatalf("WriteAny(%v): %v", a, err)
			}
			return
		}
		d2 := NewDecoder(e.Bytes(), v, little)
		a2 := d2.Any()
		if d2.Err() != nil || d2.Remaining() != 0 {
			t.Fatalf("re-encoded any %v does not decode: %v (%d left)", a, d2.Err(), d2.Remaining())
		}
		e2 := NewEncoder(v, little)
		if err := e2.WriteAny(a2); err != nil || !bytes.Equal(e.Bytes(), e2.Bytes()) {
			t.Fatalf("any is not a fixed point after one round trip (%v):\n% x\n% x", err, e.Bytes(), e2.Bytes())
		}
	})
}

// valueNodes counts the values in a decoded any's value tree: every value
// takes at least one byte of input, and a sequence four, so the count is
// bounded by the input size (what makes decoding O(n) in allocations).
func valueNodes(v any) int {
	xs, ok := v.([]any)
	if !ok {
		return 1
	}
	n := 1
	for _, x := range xs {
		n += valueNodes(x)
	}
	return n
}

// TestDecode_HugeDeclaredLengths feeds small inputs that declare huge
// lengths and counts to each decoder. Each must fail with a sentinel error
// and allocate O(input), never from the declared length (SPEC.md,
// "CDR": never allocate from a length or offset the peer chose before
// checking it against the bytes actually left and a global cap).
func TestDecode_HugeDeclaredLengths(t *testing.T) {
	le := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return b
	}
	typeCode := func(tc *TypeCode) []byte {
		e := NewEncoder(V1_2, true)
		e.WriteTypeCode(tc)
		return e.Bytes()
	}
	pad := func(b []byte, n int) []byte { return append(b, make([]byte, n)...) }
	seqSeqVoid := func() []byte {
		b := typeCode(&TypeCode{Kind: TkSequence, Content: &TypeCode{Kind: TkSequence, Content: &TypeCode{Kind: TkVoid}}})
		b = append(b, le(1000)...)
		for range 1000 {
			b = append(b, le(2000)...)
		}
		return b
	}
	deepAlias := func() []byte {
		tc := TCLong
		for range 40 {
			tc = &TypeCode{Kind: TkAlias, ID: "IDL:a:1.0", Name: "a", Content: tc}
		}
		return append(typeCode(tc), le(7)...)
	}
	cases := []struct {
		name   string
		v      Version
		in     []byte
		decode func(d *Decoder) error
	}{
		{"string_ffffffff", V1_2, pad(le(0xFFFFFFFF), 64), func(d *Decoder) error { _ = d.String(); return d.Err() }},
		{"string_7fffffff", V1_2, pad(le(0x7FFFFFFF), 64), func(d *Decoder) error { _ = d.String(); return d.Err() }},
		{"octets_ffffffff", V1_2, pad(le(0xFFFFFFFF), 64), func(d *Decoder) error { d.Octets(); return d.Err() }},
		{"wstring12_fffffffe", V1_2, pad(le(0xFFFFFFFE), 64), func(d *Decoder) error { d.WString(); return d.Err() }},
		{"wstring11_7fffffff", V1_1, pad(le(0x7FFFFFFF), 64), func(d *Decoder) error { d.WString(); return d.Err() }},
		{"service_contexts_ffffffff", V1_2, pad(le(0xFFFFFFFF), 64), func(d *Decoder) error { d.serviceContexts(); return d.Err() }},
		{"service_contexts_1000", V1_2, pad(le(1000), 8000), func(d *Decoder) error { d.serviceContexts(); return d.Err() }},
		{"typecode_params_ffffffff", V1_2, pad(le(uint32(TkStruct), 0xFFFFFFFF), 64), func(d *Decoder) error { d.TypeCode(); return d.Err() }},
		{"any_sequence_long_40000000", V1_2, pad(append(typeCode(&TypeCode{Kind: TkSequence, Content: TCLong}), le(0x40000000)...), 64), func(d *Decoder) error { d.Any(); return d.Err() }},
		{"any_sequence_sequence_void", V1_2, seqSeqVoid(), func(d *Decoder) error { d.Any(); return d.Err() }},
		{"typecode_alias_depth_40", V1_2, deepAlias(), func(d *Decoder) error { d.Any(); return d.Err() }},
		{"ior_profiles_ffffffff", V1_2, pad(append(le(1, 0), le(0xFFFFFFFF)...), 64), func(d *Decoder) error { d.IOR(); return d.Err() }},
		{"bidir_listen_points_ffffffff", V1_2, pad(le(1, 0xFFFFFFFF), 64), func(d *Decoder) error {
			_, err := ParseBiDirContext(d.Rest())
			return err
		}},
		{"target_address_ior_ffffffff", V1_2, pad(append([]byte{2, 0, 0, 0}, le(0, 1, 0, 0xFFFFFFFF)...), 64), func(d *Decoder) error { d.targetAddress(); return d.Err() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			alloc := allocatedBytes(func() { err = tc.decode(NewDecoder(tc.in, tc.v, true)) })
			if !isWireErr(err) {
				t.Fatalf("error %v, want a MARSHAL or limit error", err)
			}
			if limit := uint64(32*len(tc.in) + 64<<10); alloc > limit {
				t.Fatalf("%d input bytes allocated %d bytes (bound %d)", len(tc.in), alloc, limit)
			}
		})
	}
}

// TestAny_SequenceOfVoidRejected is the regression test for a quadratic
// allocation: a sequence<void> element takes no bytes on the wire, so the
// old bound (count × 1 byte ≤ bytes left) let every nested
// sequence<sequence<void>> element allocate as many values as the message
// has bytes — n²·16 bytes from an n-byte any. IDL has no sequence of void
// or null, so such a TypeCode's value is now a MARSHAL error.
func TestAny_SequenceOfVoidRejected(t *testing.T) {
	for _, elem := range []*TypeCode{{Kind: TkVoid}, TCNull, {Kind: TkAlias, ID: "IDL:v:1.0", Name: "v", Content: &TypeCode{Kind: TkVoid}}} {
		e := NewEncoder(V1_2, true)
		e.WriteTypeCode(&TypeCode{Kind: TkSequence, Content: elem})
		e.WriteULong(3)
		e.WriteRaw([]byte{0, 0, 0}) // enough bytes that the count alone passes SeqLen
		d := NewDecoder(e.Bytes(), V1_2, true)
		if a := d.Any(); !errors.Is(d.Err(), ErrMarshal) {
			t.Fatalf("sequence<%v> decoded to %v (err %v), want MARSHAL", elem, a, d.Err())
		}
	}
}

// TestDecoder_StringLengthEdges covers the §2.2 string rules at the edges:
// length 0 is invalid (omniORB: MARSHAL_InvalidVariableLenComponentSize),
// the last byte must be NUL, and a length one past the data fails.
func TestDecoder_StringLengthEdges(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want string
		ok   bool
	}{
		{"empty_string", []byte{1, 0, 0, 0, 0}, "", true},
		{"length_0", []byte{0, 0, 0, 0, 0}, "", false},
		{"no_nul", []byte{2, 0, 0, 0, 'a', 'b'}, "", false},
		{"one_past_end", []byte{3, 0, 0, 0, 'a', 0}, "", false},
		{"inner_nul_kept", []byte{3, 0, 0, 0, 'a', 0, 0}, "a\x00", true},
		{"max_uint32", []byte{0xff, 0xff, 0xff, 0xff, 'a', 0}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.in, V1_2, true)
			got := d.String()
			if (d.Err() == nil) != tc.ok || got != tc.want || (!tc.ok && !errors.Is(d.Err(), ErrMarshal)) {
				t.Fatalf("String() = %q, %v; want %q ok=%v", got, d.Err(), tc.want, tc.ok)
			}
		})
	}
}

// TestTypeCode_FixedRoundTrip is the regression test for the
// FuzzTypeCodeAny input testdata/fuzz/FuzzTypeCodeAny/9f07acc3bb393eeb: the
// decoder read a tk_fixed TypeCode's digits and scale (§15.3.5.1) and
// dropped them, so re-encoding the TypeCode — as for an any passed on
// unchanged, here a sequence<fixed> with no elements — left them out and
// corrupted everything after it. They are now kept and written back.
func TestTypeCode_FixedRoundTrip(t *testing.T) {
	in := &TypeCode{Kind: TkSequence, Content: &TypeCode{Kind: TkFixed, Digits: 10, Scale: -2}}
	e := NewEncoder(V1_2, true)
	e.WriteTypeCode(in)
	e.WriteULong(0) // no elements
	e.WriteString("after")
	d := NewDecoder(e.Bytes(), V1_2, true)
	a := d.Any()
	if d.Err() != nil || a.Type.Content.Digits != 10 || a.Type.Content.Scale != -2 {
		t.Fatalf("decoded %+v (content %+v), %v", a.Type, a.Type.Content, d.Err())
	}
	e2 := NewEncoder(V1_2, true)
	if err := e2.WriteAny(a); err != nil {
		t.Fatal(err)
	}
	e2.WriteString("after")
	if !bytes.Equal(e.Bytes(), e2.Bytes()) {
		t.Fatalf("re-encoded\n% x\nwant\n% x", e2.Bytes(), e.Bytes())
	}
}

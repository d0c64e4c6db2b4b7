package giop

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf16"
)

// Decoder reads CDR-encoded values from a byte slice (CORBA 3.0 §15.3).
//
// Errors are sticky, as in bufio.Scanner: the first failure is kept, every
// later read returns a zero value, and Err reports it. A Decoder never panics
// and never allocates more than the bytes it was given: every length read
// from the wire is checked against the bytes left before anything is
// allocated.
type Decoder struct {
	buf    []byte
	pos    int
	origin int  // index in buf that counts as offset 0 for alignment
	little bool // byte order of the values being read
	ver    Version
	err    error

	// segs lists where GIOP 1.1 fragment data starts inside buf. Data of a
	// 1.1 fragment is aligned relative to its own fragment header
	// (§15.4.9), so alignment restarts at each such point. Empty otherwise.
	segs []segment
}

// segment records that from index start on, alignment counts from origin.
type segment struct{ start, origin int }

// NewDecoder returns a decoder over b whose alignment counts from b[0].
// Messages built by this package return decoders whose origin is the start
// of the GIOP header; use this for standalone buffers.
func NewDecoder(b []byte, v Version, littleEndian bool) *Decoder {
	return &Decoder{buf: b, little: littleEndian, ver: v}
}

// newDecoderAt returns a decoder over msg positioned at pos, with alignment
// counted from msg[0] (the 'G' of the GIOP header).
func newDecoderAt(msg []byte, pos int, v Version, little bool, segs []segment) *Decoder {
	return &Decoder{buf: msg, pos: pos, little: little, ver: v, segs: segs}
}

// Err returns the first error the decoder met, or nil.
func (d *Decoder) Err() error { return d.err }

// SetErr records err as the decoder's error unless one is already recorded,
// so that higher-level decoders can report semantic errors the same way.
func (d *Decoder) SetErr(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Remaining returns the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.pos }

// Pos returns the read position within the decoder's buffer.
func (d *Decoder) Pos() int { return d.pos }

// LittleEndian reports the byte order being read.
func (d *Decoder) LittleEndian() bool { return d.little }

// Version returns the GIOP version whose rules the decoder follows.
func (d *Decoder) Version() Version { return d.ver }

// Rest returns the unread bytes without consuming them. The slice aliases
// the decoder's buffer.
func (d *Decoder) Rest() []byte { return d.buf[d.pos:] }

func (d *Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMarshal}, args...)...)
	}
}

func (d *Decoder) order() binary.ByteOrder {
	if d.little {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// alignOrigin returns the alignment origin in force at the read position.
func (d *Decoder) alignOrigin() int {
	o := d.origin
	for _, s := range d.segs {
		if s.start <= d.pos && s.origin > o {
			o = s.origin
		}
	}
	return o
}

// Align skips padding so that the next read is n-aligned. Padding bytes are
// not checked: omniORB sends whatever its reused buffers held.
func (d *Decoder) Align(n int) {
	if d.err != nil {
		return
	}
	pad := padding(d.pos-d.alignOrigin(), n)
	if pad > d.Remaining() {
		d.fail("alignment padding past end of data at offset %d", d.pos)
		return
	}
	d.pos += pad
}

// AlignIfMore aligns to n only when bytes remain. GIOP 1.2 bodies are
// 8-aligned only when there is a body; omniORB omits the padding otherwise.
func (d *Decoder) AlignIfMore(n int) {
	if d.err != nil {
		return
	}
	if d.Remaining() > 0 {
		d.Align(n)
	}
}

// take returns the next n bytes, or nil after recording an error.
func (d *Decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > d.Remaining() {
		d.fail("%s needs %d bytes, %d left at offset %d", what, n, d.Remaining(), d.pos)
		return nil
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b
}

// Octet reads one octet.
func (d *Decoder) Octet() byte {
	b := d.take(1, "octet")
	if b == nil {
		return 0
	}
	return b[0]
}

// Bool reads a CDR boolean. Values other than 0 and 1 are a MARSHAL error.
func (d *Decoder) Bool() bool {
	b := d.take(1, "boolean")
	if b == nil {
		return false
	}
	if b[0] > 1 {
		d.fail("boolean value %d", b[0])
		return false
	}
	return b[0] == 1
}

// Char reads a narrow char.
func (d *Decoder) Char() byte { return d.Octet() }

// UShort reads an aligned unsigned short.
func (d *Decoder) UShort() uint16 {
	d.Align(2)
	b := d.take(2, "ushort")
	if b == nil {
		return 0
	}
	return d.order().Uint16(b)
}

// Short reads an aligned short.
func (d *Decoder) Short() int16 { return int16(d.UShort()) }

// ULong reads an aligned unsigned long.
func (d *Decoder) ULong() uint32 {
	d.Align(4)
	b := d.take(4, "ulong")
	if b == nil {
		return 0
	}
	return d.order().Uint32(b)
}

// Long reads an aligned long.
func (d *Decoder) Long() int32 { return int32(d.ULong()) }

// ULongLong reads an aligned unsigned long long.
func (d *Decoder) ULongLong() uint64 {
	d.Align(8)
	b := d.take(8, "ulonglong")
	if b == nil {
		return 0
	}
	return d.order().Uint64(b)
}

// LongLong reads an aligned long long.
func (d *Decoder) LongLong() int64 { return int64(d.ULongLong()) }

// Float reads an IEEE single-precision float.
func (d *Decoder) Float() float32 { return math.Float32frombits(d.ULong()) }

// Double reads an IEEE double-precision float.
func (d *Decoder) Double() float64 { return math.Float64frombits(d.ULongLong()) }

// SeqLen reads a sequence length and checks that count elements of at least
// minSize bytes each fit in the bytes left, so that a hostile length cannot
// make the caller allocate. minSize 0 is treated as 1.
func (d *Decoder) SeqLen(minSize int) int {
	n := d.ULong()
	if d.err != nil {
		return 0
	}
	if minSize < 1 {
		minSize = 1
	}
	if uint64(n)*uint64(minSize) > uint64(d.Remaining()) {
		d.fail("sequence of %d elements of %d bytes exceeds the %d bytes left", n, minSize, d.Remaining())
		return 0
	}
	return int(n)
}

// StringBytes reads a CDR string and returns its bytes without the NUL. The
// slice aliases the decoder's buffer, so it costs no allocation. A length of
// zero or a missing terminator is a MARSHAL error (omniORB raises
// MARSHAL_StringNotEndWithNull for the same).
func (d *Decoder) StringBytes() []byte {
	n := d.ULong()
	if d.err != nil {
		return nil
	}
	if n == 0 {
		d.fail("string length 0 (it must count the terminating NUL)")
		return nil
	}
	b := d.take(int(min(n, uint32(math.MaxInt32))), "string")
	if b == nil {
		return nil
	}
	if b[len(b)-1] != 0 {
		d.fail("string not terminated by NUL")
		return nil
	}
	return b[:len(b)-1]
}

// String reads a CDR string.
func (d *Decoder) String() string { return string(d.StringBytes()) }

// BoundedString reads a CDR string of at most max bytes (NUL excluded).
func (d *Decoder) BoundedString(max int, what string) string {
	b := d.StringBytes()
	if len(b) > max {
		d.fail("%s of %d bytes exceeds the limit of %d", what, len(b), max)
		return ""
	}
	return string(b)
}

// internedString is BoundedString for names that repeat, such as
// operation names: one already in names is returned without allocating (a
// map lookup by string([]byte) builds no string), a new one is added while
// names holds fewer than maxInterned. names may be nil.
func (d *Decoder) internedString(max int, what string, names map[string]string) string {
	b := d.StringBytes()
	if len(b) > max {
		d.fail("%s of %d bytes exceeds the limit of %d", what, len(b), max)
		return ""
	}
	if s, ok := names[string(b)]; ok {
		return s
	}
	s := string(b)
	if names != nil && len(names) < maxInterned {
		names[s] = s
	}
	return s
}

// maxInterned bounds the names a connection remembers: a peer sending
// ever new operation names costs at most this much.
const maxInterned = 64

// OctetsNoCopy reads a sequence<octet> and returns a slice aliasing the
// decoder's buffer.
func (d *Decoder) OctetsNoCopy() []byte {
	n := d.SeqLen(1)
	return d.take(n, "sequence<octet>")
}

// Octets reads a sequence<octet> into a new slice.
func (d *Decoder) Octets() []byte {
	b := d.OctetsNoCopy()
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// BoundedOctets reads a sequence<octet> of at most max bytes, aliasing the buffer.
func (d *Decoder) BoundedOctets(max int, what string) []byte {
	n := d.SeqLen(1)
	if n > max {
		d.fail("%s of %d bytes exceeds the limit of %d", what, n, max)
		return nil
	}
	return d.take(n, what)
}

// Raw returns the next n bytes, aliasing the decoder's buffer.
func (d *Decoder) Raw(n int) []byte { return d.take(n, "raw bytes") }

// WChar reads one UTF-16 wide character (see Encoder.WriteWChar).
func (d *Decoder) WChar() rune {
	if d.ver.AtLeast(V1_2) {
		switch n := d.Octet(); n {
		case 2:
			b := d.take(2, "wchar")
			if b == nil {
				return 0
			}
			return rune(binary.BigEndian.Uint16(b))
		case 4:
			b := d.take(4, "wchar")
			if b == nil {
				return 0
			}
			switch binary.BigEndian.Uint16(b) {
			case 0xFEFF:
				return rune(binary.BigEndian.Uint16(b[2:]))
			case 0xFFFE:
				return rune(binary.LittleEndian.Uint16(b[2:]))
			}
			d.fail("wchar with an invalid byte order mark")
			return 0
		default:
			d.fail("wchar of %d octets", n)
			return 0
		}
	}
	return rune(d.UShort())
}

// WString reads a UTF-16 wide string and returns it as UTF-8 (see
// Encoder.WriteWString). In GIOP 1.2 a leading byte order mark decides the
// order of the units; without one they are big-endian (§15.3.1.6).
func (d *Decoder) WString() string {
	if d.ver.AtLeast(V1_2) {
		n := d.ULong()
		if d.err != nil {
			return ""
		}
		if n%2 != 0 {
			d.fail("wstring of odd octet length %d", n)
			return ""
		}
		b := d.take(int(min(n, uint32(math.MaxInt32))), "wstring")
		if b == nil {
			return ""
		}
		var order binary.ByteOrder = binary.BigEndian
		if len(b) >= 2 {
			switch binary.BigEndian.Uint16(b) {
			case 0xFEFF:
				b = b[2:]
			case 0xFFFE:
				order, b = binary.LittleEndian, b[2:]
			}
		}
		units := make([]uint16, len(b)/2)
		for i := range units {
			units[i] = order.Uint16(b[2*i:])
		}
		return string(utf16.Decode(units))
	}
	n := d.SeqLen(2)
	if d.err != nil {
		return ""
	}
	if n == 0 {
		d.fail("wstring length 0 (it must count the terminating NUL)")
		return ""
	}
	units := make([]uint16, n)
	for i := range units {
		units[i] = d.UShort()
	}
	if d.err != nil {
		return ""
	}
	if units[n-1] != 0 {
		d.fail("wstring not terminated by NUL")
		return ""
	}
	return string(utf16.Decode(units[:n-1]))
}

// Encapsulation reads a sequence<octet> holding a CDR encapsulation and
// returns a decoder for its contents, in the byte order its first octet
// names, with alignment restarting at that octet (§15.3.3). The contents are
// bounded by the sequence length, so a nested reader cannot run past it.
func (d *Decoder) Encapsulation() *Decoder {
	b := d.OctetsNoCopy()
	return d.OpenEncapsulation(b)
}

// OpenEncapsulation returns a decoder over the encapsulation held in b (as
// read by OctetsNoCopy). Errors are reported through the returned decoder
// and also recorded on d.
func (d *Decoder) OpenEncapsulation(b []byte) *Decoder {
	inner := &Decoder{ver: d.ver}
	if d.err != nil {
		inner.err = d.err
		return inner
	}
	inner.ResetEncapsulation(b, d.ver)
	d.SetErr(inner.err)
	return inner
}

// DecodeEncapsulation returns a decoder over a standalone encapsulation,
// such as the contents of a stringified IOR or of a tagged component.
func DecodeEncapsulation(b []byte, v Version) *Decoder {
	inner := new(Decoder)
	inner.ResetEncapsulation(b, v)
	return inner
}

// ResetEncapsulation makes d a decoder over the standalone encapsulation
// b, as DecodeEncapsulation returns, so that a caller can keep its decoder
// in a variable rather than allocate one per message.
func (d *Decoder) ResetEncapsulation(b []byte, v Version) {
	*d = Decoder{ver: v}
	switch {
	case len(b) == 0:
		d.err = fmt.Errorf("%w: empty encapsulation", ErrMarshal)
	case b[0] > 1:
		d.err = fmt.Errorf("%w: encapsulation byte order octet %d", ErrMarshal, b[0])
	default:
		d.buf, d.pos, d.little = b, 1, b[0] == 1
	}
}

// Done records an error if bytes are left unread. Use it where the format
// says the data ends, so trailing garbage is not silently accepted.
func (d *Decoder) Done(what string) {
	if d.err == nil && d.Remaining() > 0 {
		d.fail("%d unexpected bytes after %s", d.Remaining(), what)
	}
}

package giop

import (
	"encoding/binary"
	"math"
	"unicode/utf16"
)

// Encoder appends CDR-encoded values to a byte slice (CORBA 3.0 §15.3).
//
// Alignment is counted from an origin: for a GIOP message the origin is the
// first byte of the 12-byte header, for an encapsulation the byte-order octet
// (§15.3.3). An Encoder can be reset and reused so that a connection's hot
// path does not allocate.
type Encoder struct {
	buf    []byte
	origin int  // index in buf that counts as offset 0 for alignment
	little bool // byte order of the values being written
	ver    Version

	// hdrEnd and bodyStart delimit the body padding of a message begun with
	// StartRequest or StartReply (see FinishMessage).
	hdrEnd, bodyStart int
	// padAt is where AlignBodyTo may insert a padding context: the
	// 4-aligned offset right after the service context list of a GIOP
	// 1.0/1.1 Request or Reply header; 0 for any other message.
	padAt int

	// frame carries the finished message to a connection's writer (see
	// frameOf), so that queueing it allocates nothing.
	frame outFrame
}

// NewEncoder returns an encoder that writes in the given byte order for GIOP
// version v, with alignment counted from the start of the buffer.
func NewEncoder(v Version, littleEndian bool) *Encoder {
	return &Encoder{ver: v, little: littleEndian}
}

// Grow makes room for n more bytes, so that an encoding whose size is
// known roughly costs one allocation instead of one per doubling.
func (e *Encoder) Grow(n int) {
	if cap(e.buf)-len(e.buf) < n {
		e.buf = append(make([]byte, 0, len(e.buf)+n), e.buf...)
	}
}

// Reset empties the encoder, keeping its buffer, and sets version and byte order.
func (e *Encoder) Reset(v Version, littleEndian bool) {
	e.buf = e.buf[:0]
	e.origin = 0
	e.padAt = 0
	e.little = littleEndian
	e.ver = v
}

// Bytes returns the encoded bytes. The slice aliases the encoder's buffer.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len returns the number of bytes written so far.
func (e *Encoder) Len() int { return len(e.buf) }

// Truncate drops everything after the first n bytes.
func (e *Encoder) Truncate(n int) { e.buf = e.buf[:n] }

// LittleEndian reports the byte order being written.
func (e *Encoder) LittleEndian() bool { return e.little }

// Version returns the GIOP version whose rules (wchar, wstring) the encoder follows.
func (e *Encoder) Version() Version { return e.ver }

// byteOrder is what binary.LittleEndian and binary.BigEndian both implement.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func (e *Encoder) order() byteOrder {
	if e.little {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// Align pads with zero bytes until the next write is n-aligned relative to the origin.
func (e *Encoder) Align(n int) {
	if pad := padding(len(e.buf)-e.origin, n); pad > 0 {
		e.buf = append(e.buf, zeros[:pad]...)
	}
}

var zeros [8]byte

// padding returns how many bytes bring off up to a multiple of n (n a power of two).
func padding(off, n int) int { return (n - off&(n-1)) & (n - 1) }

// WriteOctet writes one octet.
func (e *Encoder) WriteOctet(v byte) { e.buf = append(e.buf, v) }

// WriteBool writes a CDR boolean (one octet, 0 or 1).
func (e *Encoder) WriteBool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// WriteChar writes a narrow char as one octet of the negotiated char code set.
func (e *Encoder) WriteChar(v byte) { e.buf = append(e.buf, v) }

// WriteUShort writes an aligned unsigned short.
func (e *Encoder) WriteUShort(v uint16) {
	e.Align(2)
	e.buf = e.order().AppendUint16(e.buf, v)
}

// WriteShort writes an aligned short.
func (e *Encoder) WriteShort(v int16) { e.WriteUShort(uint16(v)) }

// WriteULong writes an aligned unsigned long.
func (e *Encoder) WriteULong(v uint32) {
	e.Align(4)
	e.buf = e.order().AppendUint32(e.buf, v)
}

// WriteLong writes an aligned long.
func (e *Encoder) WriteLong(v int32) { e.WriteULong(uint32(v)) }

// WriteULongLong writes an aligned unsigned long long.
func (e *Encoder) WriteULongLong(v uint64) {
	e.Align(8)
	e.buf = e.order().AppendUint64(e.buf, v)
}

// WriteLongLong writes an aligned long long.
func (e *Encoder) WriteLongLong(v int64) { e.WriteULongLong(uint64(v)) }

// WriteFloat writes an IEEE single-precision float.
func (e *Encoder) WriteFloat(v float32) { e.WriteULong(math.Float32bits(v)) }

// WriteDouble writes an IEEE double-precision float.
func (e *Encoder) WriteDouble(v float64) { e.WriteULongLong(math.Float64bits(v)) }

// WriteString writes a CDR string: a ulong length counting the terminating NUL,
// the bytes, then NUL. The bytes are written as given; the caller is
// responsible for the negotiated char code set (UTF-8 for our IORs).
func (e *Encoder) WriteString(s string) {
	e.WriteULong(uint32(len(s) + 1))
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, 0)
}

// WriteOctets writes a sequence<octet>: a ulong count then the bytes.
func (e *Encoder) WriteOctets(b []byte) {
	e.WriteULong(uint32(len(b)))
	e.buf = append(e.buf, b...)
}

// WriteRaw appends bytes with no length and no alignment (for pass-through bodies).
func (e *Encoder) WriteRaw(b []byte) { e.buf = append(e.buf, b...) }

// WriteRawString appends the bytes of s, as WriteRaw does, without
// converting s to a slice first.
func (e *Encoder) WriteRawString(s string) { e.buf = append(e.buf, s...) }

// WriteWChar writes one wide character in UTF-16 (the wchar code set our IORs
// advertise). GIOP 1.2 writes it as an octet length then big-endian units
// (§15.3.1.6); GIOP 1.1 as one aligned ushort in the stream's byte order.
// Characters outside the BMP do not fit one wchar and are written as U+FFFD.
func (e *Encoder) WriteWChar(r rune) {
	if r > 0xFFFF || (r >= 0xD800 && r < 0xE000) {
		r = 0xFFFD
	}
	if e.ver.AtLeast(V1_2) {
		e.buf = append(e.buf, 2, byte(r>>8), byte(r))
		return
	}
	e.WriteUShort(uint16(r))
}

// WriteWString writes a wide string in UTF-16. In GIOP 1.2 the length is in
// octets, there is no terminator, and units are big-endian with no BOM
// (§15.3.1.6). In GIOP 1.0/1.1 the length counts UTF-16 units including a
// terminating NUL, each unit an aligned ushort in the stream's byte order.
func (e *Encoder) WriteWString(s string) {
	units := utf16.Encode([]rune(s))
	if e.ver.AtLeast(V1_2) {
		e.WriteULong(uint32(2 * len(units)))
		for _, u := range units {
			e.buf = append(e.buf, byte(u>>8), byte(u))
		}
		return
	}
	e.WriteULong(uint32(len(units) + 1))
	for _, u := range units {
		e.WriteUShort(u)
	}
	e.WriteUShort(0)
}

// EncapsulationMark remembers the state to restore when an encapsulation ends.
type EncapsulationMark struct {
	lenPos     int
	prevOrigin int
	prevLittle bool
}

// BeginEncapsulation starts a CDR encapsulation (§15.3.3): a ulong length
// placeholder, then a byte-order octet from which the nested alignment counts.
// The encapsulation is written in the encoder's current byte order.
func (e *Encoder) BeginEncapsulation() EncapsulationMark {
	e.WriteULong(0)
	m := EncapsulationMark{lenPos: len(e.buf) - 4, prevOrigin: e.origin, prevLittle: e.little}
	e.origin = len(e.buf)
	e.WriteBool(e.little)
	return m
}

// EndEncapsulation patches the encapsulation's length and restores the outer
// alignment origin.
func (e *Encoder) EndEncapsulation(m EncapsulationMark) {
	n := len(e.buf) - m.lenPos - 4
	e.little = m.prevLittle
	e.order().PutUint32(e.buf[m.lenPos:], uint32(n))
	e.origin = m.prevOrigin
}

// PutULongAt overwrites a ulong previously written at byte index pos, in the
// encoder's byte order (used to patch message sizes).
func (e *Encoder) PutULongAt(pos int, v uint32) { e.order().PutUint32(e.buf[pos:], v) }

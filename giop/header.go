package giop

import (
	"encoding/binary"
	"fmt"
)

// MsgType is a GIOP message type (CORBA 3.0 §15.4.1, Table 15-3).
type MsgType uint8

// GIOP message types, in their wire order.
const (
	MsgRequest MsgType = iota
	MsgReply
	MsgCancelRequest
	MsgLocateRequest
	MsgLocateReply
	MsgCloseConnection
	MsgMessageError
	MsgFragment // GIOP 1.1 and later
)

var msgTypeNames = [...]string{"Request", "Reply", "CancelRequest", "LocateRequest",
	"LocateReply", "CloseConnection", "MessageError", "Fragment"}

// String returns the message type's spec name.
func (t MsgType) String() string {
	if int(t) < len(msgTypeNames) {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// HeaderSize is the size of the GIOP message header; message_size excludes it.
const HeaderSize = 12

// Header flag bits (GIOP 1.1 and later; in 1.0 the flags octet is the
// byte_order boolean, which is the same bit).
const (
	flagLittleEndian  = 0x01
	flagMoreFragments = 0x02
)

// Header is a decoded GIOP message header (§15.4.1).
type Header struct {
	Version       Version
	LittleEndian  bool
	MoreFragments bool
	Type          MsgType
	Size          uint32 // body size, the 12 header bytes excluded
}

// ParseHeader decodes and checks a 12-byte GIOP header: magic first, then
// the version, then the message type for that version (SPEC.md:
// check magic and version before anything else). Errors wrap ErrProtocol.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: header of %d bytes", ErrProtocol, len(b))
	}
	if b[0] != 'G' || b[1] != 'I' || b[2] != 'O' || b[3] != 'P' {
		return Header{}, fmt.Errorf("%w: bad magic %q", ErrProtocol, b[:4])
	}
	h := Header{Version: Version{b[4], b[5]}, Type: MsgType(b[7])}
	if !h.Version.Supported() {
		return h, fmt.Errorf("%w: unsupported GIOP version %s", ErrProtocol, h.Version)
	}
	flags := b[6]
	h.LittleEndian = flags&flagLittleEndian != 0
	if h.Version.Minor == 0 {
		if flags > 1 {
			return h, fmt.Errorf("%w: GIOP 1.0 byte order octet %d", ErrProtocol, flags)
		}
	} else {
		// Reserved bits must be zero (§15.4.1) but rejecting a peer for
		// them buys nothing; they are ignored.
		h.MoreFragments = flags&flagMoreFragments != 0
	}
	maxType := MsgFragment
	if h.Version.Minor == 0 {
		maxType = MsgMessageError
	}
	if h.Type > maxType {
		return h, fmt.Errorf("%w: message type %d in GIOP %s", ErrProtocol, b[7], h.Version)
	}
	if h.LittleEndian {
		h.Size = binary.LittleEndian.Uint32(b[8:])
	} else {
		h.Size = binary.BigEndian.Uint32(b[8:])
	}
	return h, nil
}

// beginMessage starts a GIOP message in e (which must be empty): the header
// with a size placeholder. finishMessage patches the size.
func beginMessage(e *Encoder, v Version, t MsgType, more bool) {
	var flags byte
	if e.little {
		flags |= flagLittleEndian
	}
	if more && v.Minor > 0 {
		flags |= flagMoreFragments
	}
	e.buf = append(e.buf, 'G', 'I', 'O', 'P', v.Major, v.Minor, flags, byte(t), 0, 0, 0, 0)
}

// finishMessage writes the body size into the header begun by beginMessage.
func finishMessage(e *Encoder) {
	e.PutULongAt(8, uint32(len(e.buf)-HeaderSize))
}

// EncodeHeaderOnly returns a complete header-only message (CloseConnection
// or MessageError) in version v.
func EncodeHeaderOnly(v Version, t MsgType) []byte {
	e := NewEncoder(v, true)
	beginMessage(e, v, t, false)
	finishMessage(e)
	return e.Bytes()
}

package giop

import "fmt"

// Message is one complete GIOP message as read from a connection, with any
// fragments already reassembled: Buf holds the 12-byte header followed by
// the body, so CDR alignment counts from Buf[0] (§15.3.1.1).
type Message struct {
	Header
	// held is how many bytes of a server's byte budget Buf stands for;
	// whoever ends up owning the message gives them back (frame.go). An
	// int32 (messages are at most 1 GiB) in the padding after Header, so
	// a message is no larger for it.
	held int32
	Buf  []byte

	// segs records where GIOP 1.1 fragment data restarts alignment.
	segs []segment
}

// Body returns the message body (the bytes after the 12-byte header).
func (m *Message) Body() []byte { return m.Buf[HeaderSize:] }

// Decoder returns a decoder positioned at the start of the body, with
// alignment counted from the start of the header.
func (m *Message) Decoder() *Decoder {
	return newDecoderAt(m.Buf, HeaderSize, m.Version, m.LittleEndian, m.segs)
}

// relayAlign returns the offset modulo 8 at which the bytes of Buf from
// start on were encoded, or -1 if they were not encoded as one piece.
// Data of a GIOP 1.1 Fragment aligns relative to that fragment (§15.4.9),
// so once reassembled it lies where its alignment may differ from the
// data before it. The reassembled bytes still relay as one body when
// every fragment after start restarts alignment at the same offset modulo
// 8 as the part start lies in: then each byte sits at the same offset
// modulo 8, relative to where the body starts, as when it was encoded.
func (m *Message) relayAlign(start int) int {
	o := 0
	for _, s := range m.segs {
		if s.start <= start && s.origin > o {
			o = s.origin
		}
	}
	for _, s := range m.segs {
		if s.start > start && ((s.origin-o)%8+8)%8 != 0 {
			return -1
		}
	}
	return (start - o) % 8
}

// decoderInto sets d to what Decoder returns, without allocating.
func (m *Message) decoderInto(d *Decoder) {
	*d = Decoder{buf: m.Buf, pos: HeaderSize, little: m.LittleEndian, ver: m.Version, segs: m.segs}
}

// AddressingDisposition selects the form of a GIOP 1.2 TargetAddress (§15.4.2).
type AddressingDisposition int16

// Addressing dispositions, in their wire order.
const (
	KeyAddr       AddressingDisposition = 0
	ProfileAddr   AddressingDisposition = 1
	ReferenceAddr AddressingDisposition = 2
)

// Response flags of a GIOP 1.2 request (§15.4.2). A 1.0/1.1
// response_expected=TRUE maps to ResponseTarget, FALSE to ResponseNone.
const (
	ResponseNone   uint8 = 0x00 // oneway: no reply, not even for errors
	ResponseServer uint8 = 0x01 // SYNC_WITH_SERVER: empty reply before the call runs
	ResponseTarget uint8 = 0x03 // an ordinary two-way call
)

// maxObjectKey caps object keys read from the wire (SPEC.md).
const maxObjectKey = 4 << 10

// maxOperationName caps operation names read from the wire.
const maxOperationName = 1 << 10

// RequestHeader is the header of a Request message in any GIOP version.
type RequestHeader struct {
	RequestID     uint32
	ResponseFlags uint8
	// ObjectKey is the target's key; for a 1.2 ProfileAddr or ReferenceAddr
	// target it is taken from the IIOP profile named.
	ObjectKey []byte
	// Addressing is the TargetAddress form the request used (1.2 only).
	Addressing      AddressingDisposition
	Operation       string
	ServiceContexts ServiceContextList
}

// ResponseExpected reports whether the client waits for a reply.
func (h *RequestHeader) ResponseExpected() bool { return h.ResponseFlags&ResponseServer != 0 }

// DecodeRequest decodes the header of a Request and returns a decoder
// positioned at the first argument. Errors wrap ErrMarshal or ErrLimit; the
// request id is returned even then when it could be read, so the caller can
// answer with a MARSHAL system exception.
func DecodeRequest(m *Message) (*RequestHeader, *Decoder, error) {
	h, d := new(RequestHeader), new(Decoder)
	if err := decodeRequestInto(m, h, d, nil, nil); err != nil {
		return h, nil, err
	}
	return h, d, nil
}

// decodeRequestInto is DecodeRequest into h and d, which the reader
// allocates with the ServerRequest they belong to.
//
// ops, if not nil, interns operation names (see internedString); the
// service context list goes into scBuf when it has room.
func decodeRequestInto(m *Message, h *RequestHeader, d *Decoder, ops map[string]string, scBuf []ServiceContext) error {
	m.decoderInto(d)
	if m.Version.Minor < 2 {
		h.ServiceContexts = d.serviceContextsInto(scBuf)
		h.RequestID = d.ULong()
		if d.Bool() {
			h.ResponseFlags = ResponseTarget
		}
		if m.Version.Minor == 1 {
			d.Raw(3) // reserved
		}
		h.ObjectKey = d.BoundedOctets(maxObjectKey, "object key")
		h.Operation = d.internedString(maxOperationName, "operation name", ops)
		d.BoundedOctets(maxObjectKey, "requesting principal")
	} else {
		h.RequestID = d.ULong()
		h.ResponseFlags = d.Octet()
		d.Raw(3) // reserved
		h.Addressing, h.ObjectKey = d.targetAddress()
		h.Operation = d.internedString(maxOperationName, "operation name", ops)
		h.ServiceContexts = d.serviceContextsInto(scBuf)
		d.AlignIfMore(8)
	}
	return d.Err()
}

// targetAddress reads a GIOP 1.2 TargetAddress and returns the object key it
// designates.
func (d *Decoder) targetAddress() (AddressingDisposition, []byte) {
	disp := AddressingDisposition(d.Short())
	switch disp {
	case KeyAddr:
		return disp, d.BoundedOctets(maxObjectKey, "object key")
	case ProfileAddr:
		p := TaggedProfile{Tag: d.ULong(), Data: d.BoundedOctets(maxProfileData, "tagged profile")}
		return disp, d.keyFromProfile(p)
	case ReferenceAddr:
		idx := d.ULong()
		ior := d.IOR()
		if d.err != nil {
			return disp, nil
		}
		if idx >= uint32(len(ior.Profiles)) {
			d.fail("selected profile index %d of %d", idx, len(ior.Profiles))
			return disp, nil
		}
		return disp, d.keyFromProfile(ior.Profiles[idx])
	}
	d.fail("TargetAddress disposition %d", disp)
	return disp, nil
}

func (d *Decoder) keyFromProfile(p TaggedProfile) []byte {
	if d.err != nil {
		return nil
	}
	ip, err := ParseIIOPProfile(p)
	if err != nil {
		d.SetErr(fmt.Errorf("%w: target profile: %v", ErrMarshal, err))
		return nil
	}
	return ip.ObjectKey
}

// maxProfileData caps a tagged profile read inside a request header.
const maxProfileData = 64 << 10

// StartRequest resets e and writes the GIOP header and the Request header
// for version v; the caller then writes the arguments and calls
// FinishMessage. Version 1.2 requests use KeyAddr.
func (e *Encoder) StartRequest(v Version, h *RequestHeader) {
	e.Reset(v, e.little)
	beginMessage(e, v, MsgRequest, false)
	if v.Minor < 2 {
		e.writeServiceContexts(h.ServiceContexts)
		e.markPadding()
		e.WriteULong(h.RequestID)
		e.WriteBool(h.ResponseExpected())
		if v.Minor == 1 {
			e.WriteRaw(zeros[:3])
		}
		e.WriteOctets(h.ObjectKey)
		e.WriteString(h.Operation)
		e.WriteOctets(nil) // requesting_principal, empty as omniORB sends it
		e.markBody(false)
		return
	}
	e.WriteULong(h.RequestID)
	e.WriteOctet(h.ResponseFlags)
	e.WriteRaw(zeros[:3])
	e.WriteShort(int16(KeyAddr))
	e.WriteOctets(h.ObjectKey)
	e.WriteString(h.Operation)
	e.writeServiceContexts(h.ServiceContexts)
	e.markBody(true)
}

// markBody records where the header ends and, in GIOP 1.2, aligns the body
// to 8 (§15.4.2.1). FinishMessage drops that padding again when no body
// follows, as the spec and omniORB do.
func (e *Encoder) markBody(align8 bool) {
	e.hdrEnd = len(e.buf)
	if align8 {
		e.Align(8)
	}
	e.bodyStart = len(e.buf)
}

// markPadding records, in a GIOP 1.0/1.1 Request or Reply header just
// past its service context list (which comes first, at offset 12), where
// AlignBodyTo may insert a padding context: the 4-aligned offset where the
// request id goes, so the header's bytes are what they would be anyway.
func (e *Encoder) markPadding() {
	e.Align(4)
	e.padAt = len(e.buf)
}

// AlignBodyTo makes the body of a message begun with StartRequest or
// StartReply start at offset k modulo 8, so that a body encoded at that
// offset in another message can follow unchanged (SPEC.md, "Relaying
// bodies across GIOP versions"). It must be called before any of the body
// is written, and reports whether the body now starts there.
//
// A GIOP 1.2 body always starts 8-aligned, so only k = 0 fits. A 1.0/1.1
// header written here ends 4-aligned (its last field is the empty
// principal or the reply status), so k = 0 and k = 4 fit: when the body
// starts at the other one, a padding context (ServicePadding, 12 bytes)
// goes at the end of the service context list. Everything after it moves
// by 12, a multiple of 4, and the fields that follow are at most 4-aligned,
// so the rest of the header is unchanged.
func (e *Encoder) AlignBodyTo(k int) bool {
	if k < 0 || k > 7 || len(e.buf) != e.bodyStart {
		return false
	}
	r := e.bodyStart % 8
	if r == k {
		return true
	}
	if e.padAt == 0 || (k-r+8)%8 != paddingContextLen%8 {
		return false
	}
	at, n := e.padAt, len(e.buf)
	e.buf = append(e.buf, make([]byte, paddingContextLen)...)
	copy(e.buf[at+paddingContextLen:], e.buf[at:n])
	o := e.order()
	o.PutUint32(e.buf[at:], ServicePadding)
	o.PutUint32(e.buf[at+4:], paddingContextLen-8)
	clear(e.buf[at+8 : at+paddingContextLen])
	// The list's count is the first field after the GIOP header.
	o.PutUint32(e.buf[HeaderSize:], o.Uint32(e.buf[HeaderSize:])+1)
	e.padAt += paddingContextLen
	e.hdrEnd += paddingContextLen
	e.bodyStart += paddingContextLen
	return true
}

// FinishMessage ends a message begun with StartRequest, StartReply or
// StartLocateReply: it drops body padding if no body was written, patches
// the message size and returns the encoded message (aliasing e's buffer).
func (e *Encoder) FinishMessage() []byte {
	if len(e.buf) == e.bodyStart {
		e.buf = e.buf[:e.hdrEnd]
	}
	finishMessage(e)
	return e.buf
}

// BodyLen returns how many body bytes have been written after the header.
func (e *Encoder) BodyLen() int { return len(e.buf) - e.bodyStart }

// ReplyStatus is the status of a Reply (§15.4.3.1).
type ReplyStatus uint32

// Reply statuses, in their wire order.
const (
	ReplyNoException         ReplyStatus = 0
	ReplyUserException       ReplyStatus = 1
	ReplySystemException     ReplyStatus = 2
	ReplyLocationForward     ReplyStatus = 3
	ReplyLocationForwardPerm ReplyStatus = 4 // GIOP 1.2
	ReplyNeedsAddressingMode ReplyStatus = 5 // GIOP 1.2
)

var replyStatusNames = [...]string{"NO_EXCEPTION", "USER_EXCEPTION", "SYSTEM_EXCEPTION",
	"LOCATION_FORWARD", "LOCATION_FORWARD_PERM", "NEEDS_ADDRESSING_MODE"}

// String returns the spec name of the status.
func (s ReplyStatus) String() string {
	if int(s) < len(replyStatusNames) {
		return replyStatusNames[s]
	}
	return fmt.Sprintf("ReplyStatus(%d)", uint32(s))
}

// ReplyHeader is the header of a Reply message in any GIOP version.
type ReplyHeader struct {
	RequestID       uint32
	Status          ReplyStatus
	ServiceContexts ServiceContextList
}

// DecodeReply decodes the header of a Reply and returns a decoder
// positioned at the body.
func DecodeReply(m *Message) (*ReplyHeader, *Decoder, error) {
	h, d := new(ReplyHeader), new(Decoder)
	if err := decodeReplyInto(m, h, d, nil); err != nil {
		return h, nil, err
	}
	return h, d, nil
}

// decodeReplyInto is DecodeReply into h and d, which the reader allocates
// with the Response they belong to, and the service contexts into scBuf
// when they fit.
func decodeReplyInto(m *Message, h *ReplyHeader, d *Decoder, scBuf []ServiceContext) error {
	m.decoderInto(d)
	if m.Version.Minor < 2 {
		h.ServiceContexts = d.serviceContextsInto(scBuf)
		h.RequestID = d.ULong()
		h.Status = ReplyStatus(d.ULong())
	} else {
		h.RequestID = d.ULong()
		h.Status = ReplyStatus(d.ULong())
		h.ServiceContexts = d.serviceContextsInto(scBuf)
		d.AlignIfMore(8)
	}
	if d.err == nil {
		max := ReplyLocationForwardPerm + 1
		if m.Version.Minor < 2 {
			max = ReplyLocationForward
		}
		if h.Status > max {
			d.fail("reply status %d in GIOP %s", uint32(h.Status), m.Version)
		}
	}
	return d.Err()
}

// StartReply resets e and writes the GIOP header and Reply header for
// version v; the caller writes the body and calls FinishMessage.
func (e *Encoder) StartReply(v Version, h *ReplyHeader) {
	e.Reset(v, e.little)
	beginMessage(e, v, MsgReply, false)
	if v.Minor < 2 {
		e.writeServiceContexts(h.ServiceContexts)
		e.markPadding()
		e.WriteULong(h.RequestID)
		e.WriteULong(uint32(h.Status))
		e.markBody(false)
		return
	}
	e.WriteULong(h.RequestID)
	e.WriteULong(uint32(h.Status))
	e.writeServiceContexts(h.ServiceContexts)
	e.markBody(true)
}

// LocateStatus is the status of a LocateReply (§15.4.6.1).
type LocateStatus uint32

// Locate statuses, in their wire order.
const (
	UnknownObject          LocateStatus = 0
	ObjectHere             LocateStatus = 1
	ObjectForward          LocateStatus = 2
	ObjectForwardPerm      LocateStatus = 3 // GIOP 1.2
	LocSystemException     LocateStatus = 4 // GIOP 1.2
	LocNeedsAddressingMode LocateStatus = 5 // GIOP 1.2
)

// LocateRequestHeader is the body of a LocateRequest.
type LocateRequestHeader struct {
	RequestID uint32
	ObjectKey []byte
}

// DecodeLocateRequest decodes a LocateRequest (§15.4.5).
func DecodeLocateRequest(m *Message) (*LocateRequestHeader, error) {
	d := m.Decoder()
	h := &LocateRequestHeader{RequestID: d.ULong()}
	if m.Version.Minor < 2 {
		h.ObjectKey = d.BoundedOctets(maxObjectKey, "object key")
	} else {
		_, h.ObjectKey = d.targetAddress()
	}
	return h, d.Err()
}

// EncodeLocateRequest resets e and encodes a complete LocateRequest.
func (e *Encoder) EncodeLocateRequest(v Version, id uint32, key []byte) []byte {
	e.Reset(v, e.little)
	beginMessage(e, v, MsgLocateRequest, false)
	e.WriteULong(id)
	if v.Minor >= 2 {
		e.WriteShort(int16(KeyAddr))
	}
	e.WriteOctets(key)
	e.markBody(false)
	return e.FinishMessage()
}

// StartLocateReply resets e and writes a LocateReply header. The body that
// some statuses carry follows immediately, without 8-alignment (§15.4.6.2).
func (e *Encoder) StartLocateReply(v Version, id uint32, status LocateStatus) {
	e.Reset(v, e.little)
	beginMessage(e, v, MsgLocateReply, false)
	e.WriteULong(id)
	e.WriteULong(uint32(status))
	e.markBody(false)
}

// LocateReplyHeader is the header of a LocateReply.
type LocateReplyHeader struct {
	RequestID uint32
	Status    LocateStatus
}

// DecodeLocateReply decodes a LocateReply header and returns a decoder at its body.
func DecodeLocateReply(m *Message) (*LocateReplyHeader, *Decoder, error) {
	d := m.Decoder()
	h := &LocateReplyHeader{RequestID: d.ULong(), Status: LocateStatus(d.ULong())}
	if d.err == nil && h.Status > LocNeedsAddressingMode {
		d.fail("locate status %d", uint32(h.Status))
	}
	if err := d.Err(); err != nil {
		return h, nil, err
	}
	return h, d, nil
}

// DecodeCancelRequest returns the request id a CancelRequest names.
func DecodeCancelRequest(m *Message) (uint32, error) {
	d := m.Decoder()
	id := d.ULong()
	return id, d.Err()
}

// EncodeCancelRequest resets e and encodes a complete CancelRequest.
func (e *Encoder) EncodeCancelRequest(v Version, id uint32) []byte {
	e.Reset(v, e.little)
	beginMessage(e, v, MsgCancelRequest, false)
	e.WriteULong(id)
	e.markBody(false)
	return e.FinishMessage()
}

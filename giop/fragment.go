package giop

import (
	"encoding/binary"
	"fmt"
	"time"
)

// reassembler joins fragmented GIOP messages (CORBA 3.0 §15.4.9) under
// limits, so that a peer cannot make the connection hold more than
// maxBytes (and the server more than its budget), nor loop over endless
// empty fragments.
//
// GIOP 1.1 allows one fragmented message at a time, continued by Fragment
// messages that carry no request id. GIOP 1.2 Fragments start with the
// request id, so several fragmented messages may interleave.
//
// Every message handed to add comes with what it took from budget
// (Message.held); the reassembler keeps that with the message in
// progress, gives back what a consumed Fragment held, and hands the total
// on with the completed message. Buffers grow only through budget.
//
// A reassembler is used by one connection reader goroutine only.
type reassembler struct {
	maxSize      int // total bytes of a message, header included
	maxFragments int // Fragment messages per message
	maxPartial   int // GIOP 1.2 messages being reassembled at once
	// maxBytes bounds the bytes of all messages in progress (their
	// lengths, headers included); zero or less means no bound.
	maxBytes int
	budget   *share // the connection's part of the server's byte budget; nil for none

	v11   *partial            // the GIOP 1.1 message in progress
	byID  map[uint32]*partial // GIOP 1.2 messages in progress, by request id
	bytes int                 // the lengths of the messages in progress
}

type partial struct {
	msg       *Message
	fragments int
	started   time.Time
}

// oldest returns when the oldest message in progress started, if any.
func (r *reassembler) oldest() (time.Time, bool) {
	var t time.Time
	found := false
	consider := func(p *partial) {
		if p != nil && (!found || p.started.Before(t)) {
			t, found = p.started, true
		}
	}
	consider(r.v11)
	for _, p := range r.byID {
		consider(p)
	}
	return t, found
}

// pending reports how many messages are being reassembled.
func (r *reassembler) pending() int {
	n := len(r.byID)
	if r.v11 != nil {
		n++
	}
	return n
}

// fragmentable reports whether a message type may start a fragment chain.
func fragmentable(h Header) bool {
	switch h.Type {
	case MsgRequest, MsgReply:
		return true
	case MsgLocateRequest, MsgLocateReply:
		return h.Version.Minor >= 2
	}
	return false
}

// add takes one message as read from the wire. It returns the complete
// message when m completes one (m itself when it is not fragmented), or
// nil when more fragments are needed. Errors wrap ErrProtocol, ErrLimit
// or ErrMessageTooLarge and end the connection.
//
// add owns what m holds of the budget: it keeps it, hands it on with the
// message returned, or gives it back (also on error).
func (r *reassembler) add(m *Message, now time.Time) (*Message, error) {
	if m.Type == MsgFragment {
		out, err := r.addFragment(m)
		r.budget.give(int(m.held)) // the Fragment's data is copied, or refused
		m.held = 0
		return out, err
	}
	if !m.MoreFragments {
		if m.Type == MsgCancelRequest {
			r.cancel(m)
		}
		return m, nil
	}
	err := r.start(m, now)
	if err != nil {
		r.budget.give(int(m.held))
		m.held = 0
	}
	return nil, err
}

// start records m, a first message with MORE_FRAGMENTS, as in progress.
func (r *reassembler) start(m *Message, now time.Time) error {
	if !fragmentable(m.Header) {
		return fmt.Errorf("%w: %s in GIOP %s cannot be fragmented", ErrProtocol, m.Type, m.Version)
	}
	if err := r.reserve(len(m.Buf)); err != nil {
		return err
	}
	p := &partial{msg: m, started: now}
	if m.Version.Minor == 1 {
		if r.v11 != nil {
			return fmt.Errorf("%w: new fragmented GIOP 1.1 message before the last one ended", ErrProtocol)
		}
		r.v11 = p
		r.bytes += len(m.Buf)
		return nil
	}
	id, ok := firstULong(m.Buf[HeaderSize:], m.LittleEndian)
	if !ok {
		return fmt.Errorf("%w: fragmented %s without a request id", ErrProtocol, m.Type)
	}
	if _, dup := r.byID[id]; dup {
		return fmt.Errorf("%w: second fragmented message with request id %d", ErrProtocol, id)
	}
	if len(r.byID) >= r.maxPartial {
		return fmt.Errorf("%w: more than %d fragmented messages in progress", ErrLimit, r.maxPartial)
	}
	if r.byID == nil {
		r.byID = make(map[uint32]*partial)
	}
	r.byID[id] = p
	r.bytes += len(m.Buf)
	return nil
}

// reserve checks that n more bytes in progress stay within maxBytes.
func (r *reassembler) reserve(n int) error {
	if r.maxBytes > 0 && r.bytes+n > r.maxBytes {
		return fmt.Errorf("%w: more than %d bytes of fragmented messages in progress (MaxReassemblyBytes)", ErrLimit, r.maxBytes)
	}
	return nil
}

// addFragment appends a Fragment's data to its message. It never keeps f.
func (r *reassembler) addFragment(f *Message) (*Message, error) {
	var (
		p    *partial
		data = f.Buf[HeaderSize:]
		id   uint32
	)
	if f.Version.Minor == 1 {
		p = r.v11
	} else {
		var ok bool
		if id, ok = firstULong(data, f.LittleEndian); !ok {
			return nil, fmt.Errorf("%w: GIOP 1.2 Fragment without a request id", ErrProtocol)
		}
		p = r.byID[id]
		data = data[4:]
	}
	if p == nil {
		return nil, fmt.Errorf("%w: Fragment with no fragmented message in progress", ErrProtocol)
	}
	m := p.msg
	if f.Version != m.Version || f.LittleEndian != m.LittleEndian {
		return nil, fmt.Errorf("%w: Fragment version or byte order differs from its message", ErrProtocol)
	}
	p.fragments++
	if p.fragments > r.maxFragments {
		return nil, fmt.Errorf("%w: more than %d fragments in one message", ErrLimit, r.maxFragments)
	}
	if len(m.Buf)+len(data) > r.maxSize {
		return nil, fmt.Errorf("%w: fragmented message exceeds %d bytes", ErrMessageTooLarge, r.maxSize)
	}
	if err := r.reserve(len(data)); err != nil {
		return nil, err
	}
	if need := len(m.Buf) + len(data); need > cap(m.Buf) {
		// Doubling, as append would, but never past the largest message,
		// to the exact size with the last Fragment, and only with the
		// budget's leave.
		n := need
		if f.MoreFragments {
			n = min(r.maxSize, max(2*cap(m.Buf), need))
		}
		if !r.budget.take(n - cap(m.Buf)) {
			return nil, errBudget
		}
		m.held += int32(n - cap(m.Buf))
		nb := make([]byte, len(m.Buf), n)
		copy(nb, m.Buf)
		m.Buf = nb
	}
	if f.Version.Minor == 1 && len(data) > 0 {
		// 1.1 fragment data aligns relative to its own header (§15.4.9);
		// in message coordinates it starts at len(m.Buf) where the fragment
		// would have it at offset 12.
		m.segs = append(m.segs, segment{start: len(m.Buf), origin: len(m.Buf) - HeaderSize})
	}
	m.Buf = append(m.Buf, data...)
	r.bytes += len(data)
	if f.MoreFragments {
		return nil, nil
	}
	if f.Version.Minor == 1 {
		r.v11 = nil
	} else {
		delete(r.byID, id)
	}
	r.bytes -= len(m.Buf)
	m.MoreFragments = false
	m.Size = uint32(len(m.Buf) - HeaderSize)
	m.Buf[6] &^= flagMoreFragments
	if m.LittleEndian {
		binary.LittleEndian.PutUint32(m.Buf[8:], m.Size)
	} else {
		binary.BigEndian.PutUint32(m.Buf[8:], m.Size)
	}
	return m, nil
}

// cancel drops a message being reassembled when its request is cancelled
// before the last fragment (§15.4.9): a GIOP 1.2 one by the id its
// Fragments carry, the GIOP 1.1 one by the request id in its header, so
// that the peer may start its next fragmented 1.1 message.
func (r *reassembler) cancel(m *Message) {
	id, ok := firstULong(m.Buf[HeaderSize:], m.LittleEndian)
	if !ok {
		return
	}
	if p := r.byID[id]; p != nil {
		delete(r.byID, id)
		r.drop(p)
	}
	if p := r.v11; p != nil {
		if pid, ok := requestID11(p.msg); ok && pid == id {
			r.v11 = nil
			r.drop(p)
		}
	}
}

// requestID11 reads the request id of a GIOP 1.0/1.1 Request or Reply,
// which follows the service contexts, from as much of it as has arrived.
func requestID11(m *Message) (uint32, bool) {
	var d Decoder
	m.decoderInto(&d)
	d.serviceContextsInto(nil)
	id := d.ULong()
	return id, d.Err() == nil
}

// drop forgets a message in progress and gives back what it holds.
func (r *reassembler) drop(p *partial) {
	r.bytes -= len(p.msg.Buf)
	r.budget.give(int(p.msg.held))
	p.msg.held = 0
}

// dropAll forgets every message in progress (the connection is done).
func (r *reassembler) dropAll() {
	if r.v11 != nil {
		r.drop(r.v11)
		r.v11 = nil
	}
	for id, p := range r.byID {
		delete(r.byID, id)
		r.drop(p)
	}
}

func firstULong(b []byte, little bool) (uint32, bool) {
	if len(b) < 4 {
		return 0, false
	}
	if little {
		return binary.LittleEndian.Uint32(b), true
	}
	return binary.BigEndian.Uint32(b), true
}

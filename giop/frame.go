package giop

import (
	"bufio"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// minBodyChunk is how far a body buffer may run ahead of the bytes that
// have arrived, besides four times those bytes: a peer that announces
// 2 MiB and sends 13 bytes costs 4 KiB, not 2 MiB, and a message whose
// bytes are all there is read into one buffer of its exact size.
const minBodyChunk = 4 << 10

// deadliner is the part of net.Conn the frame reader needs.
type deadliner interface {
	SetReadDeadline(time.Time) error
}

// budget is a count of units (bytes, or requests) shared by goroutines,
// with a limit: MaxBufferedBytes and MaxServerInFlight of a Server. A nil
// budget has no limit and counts nothing, which is what dialled
// connections of a Client use.
type budget struct {
	limit   int64
	used    atomic.Int64
	refused atomic.Uint64 // takes refused for the limit
}

func newBudget(limit int) *budget { return &budget{limit: int64(limit)} }

// take reserves n units, or reports false (and counts the refusal) when
// that would go over the limit. A compare-and-swap, rather than an add
// undone on failure, so that a large refused take never makes a small
// concurrent one fail.
func (b *budget) take(n int) bool {
	if b == nil || n <= 0 {
		return true
	}
	for {
		u := b.used.Load()
		if u+int64(n) > b.limit {
			b.refused.Add(1)
			return false
		}
		if b.used.CompareAndSwap(u, u+int64(n)) {
			return true
		}
	}
}

// give returns n units taken before.
func (b *budget) give(n int) {
	if b != nil && n > 0 {
		b.used.Add(-int64(n))
	}
}

// inUse is how many units are taken now.
func (b *budget) inUse() uint64 {
	if b == nil {
		return 0
	}
	return uint64(max(b.used.Load(), 0))
}

// reservedBufferedBytes is how many bytes of incoming messages a
// connection may always hold, beyond the server's MaxBufferedBytes
// (giop/SPEC.md "Limits"): while peers that reassemble large messages
// hold the whole budget, an unrelated client's small messages are still
// read rather than closed. MaxConnections bounds what this adds.
const reservedBufferedBytes = 16 << 10

// share is one connection's part of a server's byte budget. The first
// reserve bytes it holds are taken even when the server's budget is
// spent; beyond them every byte is taken from the server's budget, and
// never more than limit in all, if limit is set. held is atomic because
// several goroutines take and give: for incoming bytes the reader takes
// and the goroutines serving requests give; for outgoing ones (the
// connection's part of MaxQueuedBytes) whoever queues a message takes and
// the writer gives. A nil share counts nothing (dialled connections).
type share struct {
	server  *budget
	reserve int64
	limit   int64 // the most the connection may hold; 0 for no bound of its own
	held    atomic.Int64
}

func newShare(server *budget) *share { return &share{server: server, reserve: reservedBufferedBytes} }

// reservedQueuedBytes is how many bytes of messages queued for writing a
// connection may always hold, beyond the server's MaxQueuedBytes
// (giop/SPEC.md "Limits"): small replies — an echo, a TRANSIENT — still go
// out to a client that reads while other peers that read nothing hold the
// whole budget.
const reservedQueuedBytes = 16 << 10

// newQueuedShare is a server connection's part of MaxQueuedBytes: its
// reserve, then the server's budget, up to 4 × (MaxMessageSize + a
// header) of its own — several replies of the largest size, so a client
// that pipelines large calls and reads on a fast link is not closed,
// while one that reads nothing is closed after holding that much
// (giop/SPEC.md "Limits").
func newQueuedShare(server *budget, maxMessage int) *share {
	return &share{server: server, reserve: reservedQueuedBytes, limit: queuedBytesPerConn(maxMessage)}
}

// queuedBytesPerConn is the most bytes of messages queued for writing one
// server connection may hold.
func queuedBytesPerConn(maxMessage int) int64 { return 4 * int64(maxMessage+HeaderSize) }

// take reserves n bytes, or reports false when the connection's own limit
// has no room, or neither its reserve nor the server's budget has.
func (s *share) take(n int) bool {
	if s == nil || n <= 0 {
		return true
	}
	h := s.held.Add(int64(n))
	if s.limit > 0 && h > s.limit {
		s.held.Add(-int64(n))
		return false
	}
	if h <= s.reserve {
		s.server.used.Add(int64(n))
		return true
	}
	if !s.server.take(n) {
		s.held.Add(-int64(n))
		return false
	}
	return true
}

// takeBeyondOwn reserves n bytes from the server's budget alone, past
// the connection's own limit: for a connection whose writer is keeping
// up, which is busy rather than stalled (Conn.queue).
func (s *share) takeBeyondOwn(n int) bool {
	if s == nil || n <= 0 {
		return true
	}
	if !s.server.take(n) {
		return false
	}
	s.held.Add(int64(n))
	return true
}

// give returns n bytes taken before.
func (s *share) give(n int) {
	if s != nil && n > 0 {
		s.held.Add(-int64(n))
		s.server.give(n)
	}
}

// frameReader reads GIOP messages from a stream and reassembles fragments.
// It is owned by one connection's reader goroutine.
//
// Memory (giop/SPEC.md "Limits"): a body buffer grows with the bytes that
// have arrived, and every byte of it is taken from budget first — the
// server's MaxBufferedBytes, shared by all its connections. A message
// carries what it took (Message.held) to whoever ends up owning it, who
// gives it back: the reassembler for a fragment chain, the request being
// served, or the reader once it has handled the message.
type frameReader struct {
	r        *bufio.Reader
	dl       deadliner // may be nil (tests over plain readers)
	maxBody  int
	msgTime  time.Duration // a started message must arrive within this
	fragTime time.Duration // a fragment chain must complete within this
	now      func() time.Time
	asm      reassembler
	budget   *share // the connection's part of the server's byte budget; nil for none
	hdr      [HeaderSize]byte
	// dlSet is the read deadline last set on dl. Setting one updates a
	// runtime timer under a lock, so it is set only when it changes: a
	// message whose body is already buffered needs none.
	dlSet time.Time
	// lastVersion is the version of the latest header read, even one
	// that failed other checks.
	lastVersion Version
}

// newFrameReader reads from r through a bufio.Reader (r itself when it
// is one), whose buffered bytes tell how much of a body has arrived.
func newFrameReader(r io.Reader, dl deadliner, cfg *Config) *frameReader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, readBufferSize)
	}
	return &frameReader{
		r:        br,
		dl:       dl,
		maxBody:  cfg.MaxMessageSize,
		msgTime:  cfg.MessageTimeout,
		fragTime: cfg.FragmentTimeout,
		now:      time.Now,
		asm: reassembler{
			maxSize:      cfg.MaxMessageSize + HeaderSize,
			maxFragments: cfg.MaxFragments,
			maxPartial:   cfg.MaxPendingFragmented,
			maxBytes:     cfg.MaxReassemblyBytes,
		},
	}
}

// useBudget makes the reader take the bytes it holds from b. It is called
// before the reader starts.
func (f *frameReader) useBudget(b *share) {
	f.budget = b
	f.asm.budget = b
}

// release gives back what m holds of the budget; m no longer holds any.
func (f *frameReader) release(m *Message) {
	f.budget.give(int(m.held))
	m.held = 0
}

// close gives back what the messages in reassembly hold; the reader
// reads no more.
func (f *frameReader) close() { f.asm.dropAll() }

// read reads the next complete message into *dst. Errors wrapping
// ErrProtocol, ErrMessageTooLarge, ErrLimit or ErrMarshal deserve a
// MessageError before the connection closes; others are I/O errors.
//
// dst is the caller's: the connection's reader keeps it in a variable and
// copies it into the request or reply that holds on to it, so a message
// costs no allocation of its own. Only a message that takes part in
// fragment reassembly is allocated. The caller owns what dst.held took
// from the budget.
func (f *frameReader) read(dst *Message) error {
	for {
		// Between messages a connection may idle for ever, unless a
		// fragment chain is open: then it must finish in time.
		if f.dl != nil {
			var deadline time.Time
			if t, ok := f.asm.oldest(); ok && f.fragTime > 0 {
				deadline = t.Add(f.fragTime)
			}
			f.setDeadline(deadline)
		}
		if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
			if f.asm.pending() > 0 && isTimeout(err) {
				return fmt.Errorf("%w: fragmented message not completed within %v", ErrProtocol, f.fragTime)
			}
			return err
		}
		h, err := ParseHeader(f.hdr[:])
		f.lastVersion = h.Version
		if err != nil {
			return err
		}
		if int64(h.Size) > int64(f.maxBody) {
			return fmt.Errorf("%w: %s of %d bytes (limit %d)", ErrMessageTooLarge, h.Type, h.Size, f.maxBody)
		}
		if f.dl != nil && f.msgTime > 0 && f.r.Buffered() < int(h.Size) {
			f.setDeadline(f.now().Add(f.msgTime))
		}
		buf, err := f.readBody(int(h.Size))
		if err != nil {
			if isTimeout(err) {
				return fmt.Errorf("%w: %s body not received within %v", ErrProtocol, h.Type, f.msgTime)
			}
			return err
		}
		if h.Type != MsgFragment && !h.MoreFragments && h.Type != MsgCancelRequest {
			*dst = Message{Header: h, Buf: buf, held: int32(cap(buf))}
			return nil
		}
		m, err := f.asm.add(&Message{Header: h, Buf: buf, held: int32(cap(buf))}, f.now())
		if err != nil {
			return err
		}
		if m != nil {
			*dst = *m
			return nil
		}
	}
}

// setDeadline sets the read deadline unless it is set already.
func (f *frameReader) setDeadline(t time.Time) {
	if t.Equal(f.dlSet) {
		return
	}
	f.dlSet = t
	f.dl.SetReadDeadline(t)
}

// errBudget is why a connection that needs more of a server's byte
// budget than is left closes.
var errBudget = fmt.Errorf("%w: the server's buffer budget (MaxBufferedBytes) is spent", ErrLimit)

// readBody returns a new buffer holding the header and size body bytes,
// which it took from the budget. The buffer grows with the bytes that
// have arrived — to four times them plus minBodyChunk at most — rather
// than trusting the declared size: until the first body byte comes, the
// reader waits in the bufio.Reader's buffer and holds nothing more.
func (f *frameReader) readBody(size int) ([]byte, error) {
	total := HeaderSize + size
	if size > 0 && f.r.Buffered() == 0 {
		if _, err := f.r.Peek(1); err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	var buf []byte
	for {
		if len(buf) == total {
			return buf, nil
		}
		if len(buf) == cap(buf) {
			arrived := max(len(buf), HeaderSize) + f.r.Buffered()
			n := min(total, 4*arrived+minBodyChunk)
			if !f.budget.take(n - cap(buf)) {
				f.budget.give(cap(buf))
				return nil, errBudget
			}
			nb := make([]byte, max(len(buf), HeaderSize), n)
			if buf == nil {
				copy(nb, f.hdr[:])
			} else {
				copy(nb, buf)
			}
			buf = nb
			continue // a body of 0 bytes is complete already
		}
		k, err := f.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil && len(buf) < total {
			f.budget.give(cap(buf))
			return nil, unexpectedEOF(err)
		}
	}
}

// unexpectedEOF turns the end of the stream inside a message into
// io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func isTimeout(err error) bool {
	t, ok := err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

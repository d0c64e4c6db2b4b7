package giop

import (
	"fmt"
	"io"
	"time"
)

// readChunk is how much of a declared body is allocated before the bytes
// arrive: a peer that announces 2 MiB and sends nothing costs 64 KiB.
const readChunk = 64 << 10

// deadliner is the part of net.Conn the frame reader needs.
type deadliner interface {
	SetReadDeadline(time.Time) error
}

// frameReader reads GIOP messages from a stream and reassembles fragments.
// It is owned by one connection's reader goroutine.
type frameReader struct {
	r        io.Reader
	dl       deadliner // may be nil (tests over plain readers)
	maxBody  int
	msgTime  time.Duration // a started message must arrive within this
	fragTime time.Duration // a fragment chain must complete within this
	now      func() time.Time
	asm      reassembler
	hdr      [HeaderSize]byte
	// dlSet is the read deadline last set on dl. Setting one updates a
	// runtime timer under a lock, so it is set only when it changes: a
	// message whose body is already buffered needs none.
	dlSet time.Time
	// lastVersion is the version of the latest header read, even one
	// that failed other checks.
	lastVersion Version
}

func newFrameReader(r io.Reader, dl deadliner, cfg *Config) *frameReader {
	return &frameReader{
		r:        r,
		dl:       dl,
		maxBody:  cfg.MaxMessageSize,
		msgTime:  cfg.MessageTimeout,
		fragTime: cfg.FragmentTimeout,
		now:      time.Now,
		asm: reassembler{
			maxSize:      cfg.MaxMessageSize + HeaderSize,
			maxFragments: cfg.MaxFragments,
			maxPartial:   cfg.MaxPendingFragmented,
		},
	}
}

// read reads the next complete message into *dst. Errors wrapping
// ErrProtocol, ErrMessageTooLarge, ErrLimit or ErrMarshal deserve a
// MessageError before the connection closes; others are I/O errors.
//
// dst is the caller's: the connection's reader keeps it in a variable and
// copies it into the request or reply that holds on to it, so a message
// costs no allocation of its own. Only a message that takes part in
// fragment reassembly is allocated.
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
		if f.dl != nil && f.msgTime > 0 && f.buffered() < int(h.Size) {
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
			*dst = Message{Header: h, Buf: buf}
			return nil
		}
		m, err := f.asm.add(&Message{Header: h, Buf: buf}, f.now())
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

// buffered is how many bytes can be read without waiting for the peer.
func (f *frameReader) buffered() int {
	if b, ok := f.r.(interface{ Buffered() int }); ok {
		return b.Buffered()
	}
	return 0
}

// readBody returns a new buffer holding the header and size body bytes,
// growing it as bytes arrive rather than trusting the declared size.
func (f *frameReader) readBody(size int) ([]byte, error) {
	buf := make([]byte, HeaderSize, HeaderSize+min(size, readChunk))
	copy(buf, f.hdr[:])
	for len(buf) < HeaderSize+size {
		want := min(HeaderSize+size-len(buf), max(cap(buf)-len(buf), readChunk))
		if cap(buf)-len(buf) < want {
			nb := make([]byte, len(buf), min(HeaderSize+size, 2*cap(buf)+want))
			copy(nb, buf)
			buf = nb
		}
		n, err := io.ReadFull(f.r, buf[len(buf):len(buf)+want])
		buf = buf[:len(buf)+n]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

func isTimeout(err error) bool {
	t, ok := err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

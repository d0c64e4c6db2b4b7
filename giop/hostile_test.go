package giop_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/rawgiop"
)

// Hostile peers (SPEC.md): a raw-bytes client on
// loopback sends what a broken or malicious peer might, and the server must
// answer as omniORB does or as §6 recommends — MessageError then close for
// framing errors, a MARSHAL reply for a bad request body, silence where no
// reply is due — and close only that connection: a second, well-behaved
// client keeps being served before and after.
//
// Timing: nothing asserts how long anything takes. Reads wait up to
// ioBound, a generous bound for "eventually".

const ioBound = 10 * time.Second

// hostileConfig has limits small enough for the hostile inputs to reach
// them quickly.
func hostileConfig() *giop.Config {
	cfg := giop.DefaultConfig()
	cfg.MaxMessageSize = 64 << 10
	cfg.MaxFragments = 16
	cfg.MessageTimeout = 300 * time.Millisecond
	cfg.WriteTimeout = 300 * time.Millisecond
	return cfg
}

// rawClient speaks GIOP as bytes over one TCP connection.
type rawClient struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioBound)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc}
}

// write sends the messages in one write. Hostile writes may fail once the
// server has closed, so the error is returned rather than fatal.
func (c *rawClient) write(msgs ...[]byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(ioBound))
	_, err := c.nc.Write(bytes.Join(msgs, nil))
	return err
}

func (c *rawClient) mustWrite(msgs ...[]byte) {
	c.t.Helper()
	if err := c.write(msgs...); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads one message: the 12-byte header, then message_size bytes.
func (c *rawClient) next() (*giop.Message, error) {
	c.nc.SetReadDeadline(time.Now().Add(ioBound))
	hdr := make([]byte, giop.HeaderSize)
	if _, err := io.ReadFull(c.nc, hdr); err != nil {
		return nil, err
	}
	h, err := giop.ParseHeader(hdr)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, giop.HeaderSize+int(h.Size))
	copy(buf, hdr)
	if _, err := io.ReadFull(c.nc, buf[giop.HeaderSize:]); err != nil {
		return nil, err
	}
	return &giop.Message{Header: h, Buf: buf}, nil
}

// reply reads the next message, which must be the Reply to id.
func (c *rawClient) reply(id uint32) (*giop.ReplyHeader, *giop.Decoder) {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("waiting for the reply to %d: %v", id, err)
	}
	if m.Type != giop.MsgReply {
		c.t.Fatalf("got %s, want the Reply to %d", m.Type, id)
	}
	h, d, err := giop.DecodeReply(m)
	if err != nil || h.RequestID != id {
		c.t.Fatalf("reply %+v, %v; want request id %d", h, err, id)
	}
	return h, d
}

// echo calls echoString over GIOP 1.2 and checks the answer.
func (c *rawClient) echo(id uint32, s string) {
	c.t.Helper()
	c.mustWrite(echoRequest(giop.V1_2, id, s))
	h, d := c.reply(id)
	if got := d.String(); h.Status != giop.ReplyNoException || got != s || d.Err() != nil {
		c.t.Fatalf("echoString(%q) = %v %q, %v", s, h.Status, got, d.Err())
	}
}

// expectMessageErrorThenClose reads a MessageError — a bare 12-byte header,
// type 6 (§2.5, §2.9) — and then the end of the stream.
func (c *rawClient) expectMessageErrorThenClose() {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("want MessageError, got %v", err)
	}
	if m.Type != giop.MsgMessageError || m.Size != 0 || len(m.Buf) != giop.HeaderSize || m.Version.Major != 1 {
		c.t.Fatalf("want a header-only MessageError, got %s % x", m.Type, m.Buf)
	}
	c.expectClosed()
}

// expectClosed reads until the server closes the connection. Anything but
// a clean end of stream or a reset — in particular a message or the read
// deadline — fails.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioBound))
	var b [1]byte
	n, err := c.nc.Read(b[:])
	if n > 0 {
		c.t.Fatalf("want the connection closed, got more data (% x)", b[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v", ioBound)
	}
	if err == nil {
		c.t.Fatal("want the connection closed")
	}
}

// expectNothingBefore checks that no message arrives before the next one
// the caller provokes: it sends an echo and requires its reply to be the
// very next message.
func (c *rawClient) expectNothingBefore(id uint32, s string) {
	c.t.Helper()
	c.echo(id, s)
}

// expectSilence checks that no byte arrives within d. It can miss a late
// message but never fails a server that sends nothing.
func (c *rawClient) expectSilence(d time.Duration) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	n, err := c.nc.Read(b[:])
	var ne net.Error
	if n > 0 || !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("want silence, got %d bytes (%v)", n, err)
	}
}

func echoRequest(v giop.Version, id uint32, s string) []byte {
	return buildRequest(v, true, &giop.RequestHeader{RequestID: id, ResponseFlags: giop.ResponseTarget,
		ObjectKey: echoKey, Operation: "echoString"}, func(e *giop.Encoder) { e.WriteString(s) })
}

func blobRequest(id uint32, blob []byte) []byte {
	return buildRequest(giop.V1_2, true, &giop.RequestHeader{RequestID: id, ResponseFlags: giop.ResponseTarget,
		ObjectKey: echoKey, Operation: "echoBlob"}, func(e *giop.Encoder) { e.WriteOctets(blob) })
}

// hostile is one test's server, its address and a well-behaved client.
type hostile struct {
	t    *testing.T
	srv  *giop.Server
	addr string
	good *rawClient
}

// connGone waits until the server no longer lists c's connection.
func (h *hostile) connGone(c *rawClient) {
	h.t.Helper()
	local := c.nc.LocalAddr().String()
	deadline := time.Now().Add(ioBound)
	for time.Now().Before(deadline) {
		open := false
		for _, sc := range h.srv.Conns() {
			open = open || sc.RemoteAddr().String() == local
		}
		if !open {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("server still holds the connection from %s after %v", local, ioBound)
}

// serverConn waits until the server lists c's connection and returns it.
func (h *hostile) serverConn(c *rawClient) *giop.Conn {
	h.t.Helper()
	local := c.nc.LocalAddr().String()
	deadline := time.Now().Add(ioBound)
	for time.Now().Before(deadline) {
		for _, sc := range h.srv.Conns() {
			if sc.RemoteAddr().String() == local {
				return sc
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("server never listed the connection from %s", local)
	return nil
}

// TestHostile runs each hostile input against a fresh server, with a
// well-behaved client echoing before and after.
func TestHostile(t *testing.T) {
	cases := []struct {
		name string
		run  func(h *hostile, c *rawClient)
	}{
		// §2.1, §6 "Header": bad magic, version or type → MessageError, close.
		{"wrong_magic", func(h *hostile, c *rawClient) {
			c.mustWrite([]byte("GIOX\x01\x02\x01\x00\x00\x00\x00\x00"))
			c.expectMessageErrorThenClose()
		}},
		{"giop_1_3", func(h *hostile, c *rawClient) {
			c.mustWrite(rawgiop.Header(1, 3, 1, giop.MsgRequest, 0))
			c.expectMessageErrorThenClose()
		}},
		{"unknown_message_type", func(h *hostile, c *rawClient) {
			c.mustWrite(rawgiop.Header(1, 2, 1, 8, 0))
			c.expectMessageErrorThenClose()
		}},
		{"fragment_type_in_1_0", func(h *hostile, c *rawClient) {
			c.mustWrite(rawgiop.Header(1, 0, 1, giop.MsgFragment, 0))
			c.expectMessageErrorThenClose()
		}},
		// §6 "message_size": refused from the header, before any body.
		{"oversized_message_size", func(h *hostile, c *rawClient) {
			c.mustWrite(rawgiop.Header(1, 2, 1, giop.MsgRequest, 1<<20))
			c.expectMessageErrorThenClose()
		}},
		// §2.5: omniORB answers a header string of length 0x7fffffff with
		// MessageError and closes.
		{"header_string_length_7fffffff", func(h *hostile, c *rawClient) {
			e := giop.NewEncoder(giop.V1_2, true)
			e.StartRequest(giop.V1_2, &giop.RequestHeader{RequestID: 5, ResponseFlags: giop.ResponseTarget, ObjectKey: echoKey, Operation: "x"})
			b := bytes.Clone(e.FinishMessage()[:32]) // up to the operation name
			b = binary.LittleEndian.AppendUint32(b, 0x7fffffff)
			b = append(b, "echoString\x00"...)
			c.mustWrite(withSize(b))
			c.expectMessageErrorThenClose()
		}},
		// §6 "Sequences/strings": a bad argument is the request's problem,
		// not the connection's: MARSHAL, and the connection stays up.
		{"sequence_length_ffffffff_in_args", func(h *hostile, c *rawClient) {
			b := buildRequest(giop.V1_2, true, &giop.RequestHeader{RequestID: 5, ResponseFlags: giop.ResponseTarget,
				ObjectKey: echoKey, Operation: "echoBlob"}, func(e *giop.Encoder) {
				e.WriteULong(0xFFFFFFFF)
				e.WriteRaw([]byte("abcd"))
			})
			c.mustWrite(b)
			rh, d := c.reply(5)
			x := d.SystemException()
			if rh.Status != giop.ReplySystemException || x == nil || x.Name != giop.ExcMarshal || x.Completed != giop.CompletedNo {
				h.t.Fatalf("reply %v %v, want MARSHAL COMPLETED_NO", rh.Status, x)
			}
			c.echo(7, "still up")
		}},
		// §6 "Fragments": a Fragment without a fragmented message.
		{"fragment_without_message", func(h *hostile, c *rawClient) {
			c.mustWrite(append(rawgiop.Header(1, 2, 1, giop.MsgFragment, 8), 99, 0, 0, 0, 1, 2, 3, 4))
			c.expectMessageErrorThenClose()
		}},
		// §6 "Fragments": watch for floods of empty fragments.
		{"never_ending_fragment_chain", func(h *hostile, c *rawClient) {
			parts := giop.FragmentMessage(echoRequest(giop.V1_2, 5, "x"), 16, 24)
			msgs := [][]byte{parts[0]}
			empty := append(rawgiop.Header(1, 2, 1|2, giop.MsgFragment, 4), 5, 0, 0, 0)
			for range hostileConfig().MaxFragments + 1 {
				msgs = append(msgs, empty)
			}
			c.write(msgs...) // the server may close before reading it all
			c.expectMessageErrorThenClose()
		}},
		// §2.13, spec §15.4.9: GIOP 1.2 fragments of several requests,
		// interleaved, each reassembled by request id and answered.
		{"interleaved_fragments", func(h *hostile, c *rawClient) {
			want := map[uint32]string{}
			var chains [][][]byte
			for i, id := range []uint32{10, 12, 14} {
				s := strings.Repeat(string(rune('a'+i)), 100+50*i)
				want[id] = s
				chains = append(chains, giop.FragmentMessage(echoRequest(giop.V1_2, id, s), 48, 96))
			}
			var msgs [][]byte
			for part := range 3 {
				for _, ch := range chains {
					msgs = append(msgs, ch[part])
				}
			}
			c.mustWrite(msgs...)
			for range len(want) {
				m, err := c.next()
				if err != nil || m.Type != giop.MsgReply {
					h.t.Fatalf("reply: %v %v", m, err)
				}
				rh, d, err := giop.DecodeReply(m)
				if err != nil {
					h.t.Fatal(err)
				}
				s, ok := want[rh.RequestID]
				if got := d.String(); !ok || got != s || rh.Status != giop.ReplyNoException {
					h.t.Fatalf("reply to %d: %v %q, want %q", rh.RequestID, rh.Status, got, s)
				}
				delete(want, rh.RequestID)
			}
			c.echo(16, "after the fragments")
		}},
		// §6 "message_size": a read deadline per message against a peer
		// that sends half a body and stalls (MessageTimeout 300ms here).
		{"slow_sender", func(h *hostile, c *rawClient) {
			sc := h.serverConn(c)
			b := echoRequest(giop.V1_2, 5, strings.Repeat("s", 200))
			c.mustWrite(b[:len(b)/2])
			// Whatever the server sends before closing, it must close.
			for {
				c.nc.SetReadDeadline(time.Now().Add(ioBound))
				m, err := c.next()
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						h.t.Fatalf("connection with a stalled body still open after %v", ioBound)
					}
					break
				}
				if m.Type != giop.MsgMessageError {
					h.t.Fatalf("got %s while the body was incomplete", m.Type)
				}
			}
			<-sc.Done()
			if err := sc.Err(); !errors.Is(err, giop.ErrProtocol) {
				h.t.Fatalf("server closed the connection with %v, want the message timeout (ErrProtocol)", err)
			}
		}},
		// A peer that sends requests and never reads: its replies back up
		// until they pass what a connection may queue (giop/SPEC.md
		// "Limits", MaxQueuedBytes), or the writer's deadline
		// (WriteTimeout 300ms here) passes first; either ends that
		// connection, and other connections are not held up meanwhile.
		{"never_reads_replies", func(h *hostile, c *rawClient) {
			if tc, ok := c.nc.(*net.TCPConn); ok {
				tc.SetReadBuffer(4 << 10)
			}
			sc := h.serverConn(c)
			blob := bytes.Repeat([]byte{0xA5}, 60<<10)
			req := blobRequest(5, blob)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 1000 {
					if c.write(req) != nil {
						return
					}
				}
			}()
			h.good.echo(101, "while another peer is stuck")
			h.connGone(c)
			c.nc.Close() // ends the writer if the server has not already
			wg.Wait()
			if err := sc.Err(); !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, giop.ErrLimit) {
				h.t.Fatalf("server closed the connection with %v, want the bound on queued bytes or its write deadline", err)
			}
		}},
		// §15.4.9: a CancelRequest for the GIOP 1.1 message in
		// reassembly ends its chain, so the next fragmented 1.1 request
		// may start; only it is answered.
		{"cancel_ends_1_1_chain", func(h *hostile, c *rawClient) {
			cancelled := giop.FragmentMessage(echoRequest(giop.V1_1, 5, strings.Repeat("c", 100)), 60)
			next := giop.FragmentMessage(echoRequest(giop.V1_1, 7, strings.Repeat("n", 100)), 60, 100)
			c.mustWrite(cancelled[0], giop.NewEncoder(giop.V1_1, true).EncodeCancelRequest(giop.V1_1, 5))
			c.mustWrite(next...)
			rh, d := c.reply(7)
			if got := d.String(); rh.Status != giop.ReplyNoException || got != strings.Repeat("n", 100) {
				h.t.Fatalf("reply to 7: %v %q", rh.Status, got)
			}
			c.echo(9, "after")
		}},
		// §2.5: CancelRequest for an unknown id is ignored, with no reply.
		{"cancel_unknown_id", func(h *hostile, c *rawClient) {
			c.mustWrite(giop.NewEncoder(giop.V1_2, true).EncodeCancelRequest(giop.V1_2, 777))
			c.expectNothingBefore(5, "after cancel")
		}},
		// §2.5, §2.9: CloseConnection from the client closes the connection,
		// with nothing sent back.
		{"client_close_connection", func(h *hostile, c *rawClient) {
			c.echo(5, "before close")
			c.mustWrite(giop.EncodeHeaderOnly(giop.V1_2, giop.MsgCloseConnection))
			c.expectClosed()
		}},
		// §2.3: no reply at all to a oneway, not even for an error —
		// omniORB is silent on a oneway with an unknown operation.
		{"oneway_unknown_operation", func(h *hostile, c *rawClient) {
			c.mustWrite(
				buildRequest(giop.V1_2, true, &giop.RequestHeader{RequestID: 5, ResponseFlags: giop.ResponseNone,
					ObjectKey: echoKey, Operation: "noSuchOperation"}, nil),
				buildRequest(giop.V1_0, true, &giop.RequestHeader{RequestID: 7, ResponseFlags: giop.ResponseNone,
					ObjectKey: echoKey, Operation: "noSuchOperation"}, nil),
				buildRequest(giop.V1_2, true, &giop.RequestHeader{RequestID: 9, ResponseFlags: giop.ResponseNone,
					ObjectKey: []byte("nobody"), Operation: "echoString"}, func(e *giop.Encoder) { e.WriteString("x") }),
			)
			c.expectNothingBefore(11, "after oneways")
			// The oneways run concurrently with the echo, so a wrong reply
			// could still be on its way: a short wait for any further
			// message can only catch a bug, never fail a correct server.
			c.expectSilence(200 * time.Millisecond)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, ref, _ := testServer(t, hostileConfig(), nil)
			prof, err := ref.IIOP()
			if err != nil {
				t.Fatal(err)
			}
			h := &hostile{t: t, srv: srv, addr: net.JoinHostPort(prof.Host, strconv.Itoa(int(prof.Port)))}
			h.good = dialRaw(t, h.addr)
			h.good.echo(1, "before")
			bad := dialRaw(t, h.addr)
			tc.run(h, bad)
			h.good.echo(3, "after")
			bad.nc.Close()
			h.connGone(bad)
			h.good.echo(5, "after the hostile connection is gone")
		})
	}
}

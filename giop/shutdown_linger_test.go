package giop_test

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// bigReplies answers "big" with 1 MiB of results and counts the calls it
// answered; anything else (the oneways) gets nothing.
type bigReplies struct{ answered atomic.Int32 }

func (*bigReplies) RepositoryID() string { return "IDL:Test/Big:1.0" }
func (b *bigReplies) Invoke(_ context.Context, r *giop.ServerRequest) error {
	if r.Operation() == "big" {
		r.Results().WriteOctets(make([]byte, 1<<20))
		b.answered.Add(1)
	}
	return nil
}

// TestServer_ShutdownReachesAPipeliningClient: a client that keeps
// sending on its connection while the server shuts down gets every reply
// and then the CloseConnection that says the rest may be sent again
// (§15.5.2). Closing a socket with the client's requests unread in it
// makes the kernel send a reset, which discards what the server wrote and
// the client had not yet received — here the tail of 4 MiB of replies and
// the CloseConnection — so the server half-closes after CloseConnection
// and reads on until the client closes (a lingering close).
func TestServer_ShutdownReachesAPipeliningClient(t *testing.T) {
	req := func(id uint32, op string, flags uint8) []byte {
		e := giop.NewEncoder(giop.V1_2, false)
		e.StartRequest(giop.V1_2, &giop.RequestHeader{RequestID: id, ResponseFlags: flags, ObjectKey: []byte("k"), Operation: op})
		return append([]byte(nil), e.FinishMessage()...)
	}
	for trial := range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ad := giop.NewAdapter()
		h := &bigReplies{}
		ad.Register([]byte("k"), h)
		srv := giop.NewServer(nil, ad)
		served := make(chan struct{})
		go func() { defer close(served); srv.Serve(ln) }()
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(30 * time.Second)) // a bound on a hang, not on its time
		const big = 4
		for id := uint32(1); id <= big; id++ {
			if _, err := nc.Write(req(id, "big", giop.ResponseTarget)); err != nil {
				t.Fatal(err)
			}
		}
		// Oneways, sent on and on: some are always unread at the server.
		writing := make(chan struct{})
		go func() {
			defer close(writing)
			for id := uint32(big + 1); ; id++ {
				if _, err := nc.Write(req(id, "ow", 0)); err != nil {
					return
				}
			}
		}()
		for h.answered.Load() < big {
			time.Sleep(time.Millisecond)
		}
		// The replies wait in the sockets, unread; the shutdown starts
		// with them there, and the client reads only now.
		shut := make(chan struct{})
		go func() { defer close(shut); srv.Shutdown(context.Background()) }()
		replies, closed := 0, false
		var end error
		for end == nil {
			hdr := make([]byte, giop.HeaderSize)
			if _, end = io.ReadFull(nc, hdr); end != nil {
				break
			}
			mh, err := giop.ParseHeader(hdr)
			if err != nil {
				t.Fatal(err)
			}
			if _, end = io.CopyN(io.Discard, nc, int64(mh.Size)); end != nil {
				break
			}
			switch mh.Type {
			case giop.MsgCloseConnection:
				closed = true
				end = io.EOF
			case giop.MsgReply:
				replies++
			}
		}
		nc.Close()
		<-writing
		<-shut
		srv.Close()
		<-served
		if !closed || replies != big {
			t.Fatalf("trial %d: the stream ended (%v) after %d of %d replies, CloseConnection %v; want them all, then CloseConnection",
				trial, end, replies, big, closed)
		}
	}
}

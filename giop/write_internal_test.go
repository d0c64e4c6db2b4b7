package giop

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/requestagent/requestagent/internal/testcert"
)

// TestWriteJoined_OneTLSRecordPerBatch: over TLS, a batch of messages
// written by writeJoined is one record, where net.Buffers.WriteTo — the
// writer's path on plain TCP, one writev — makes a record (and a write)
// of each message; and the writer takes the joined path on TLS
// connections only.
func TestWriteJoined_OneTLSRecordPerBatch(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	leaf := ca.Server(t, "server")
	var msgs net.Buffers
	var want []byte
	for i := range 10 {
		m := bytes.Repeat([]byte{byte('a' + i)}, 100+i)
		msgs = append(msgs, m)
		want = append(want, m...)
	}
	for _, tc := range []struct {
		name    string
		write   func(io.Writer) error
		records int
	}{
		{"joined", func(w io.Writer) error { return writeJoined(w, msgs) }, 1},
		{"WriteTo", func(w io.Writer) error { b := append(net.Buffers(nil), msgs...); _, err := b.WriteTo(w); return err }, len(msgs)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, peer := net.Pipe()
			defer raw.Close()
			defer peer.Close()
			rec := &recordCounter{Conn: raw}
			srv := tls.Server(rec, &tls.Config{Certificates: []tls.Certificate{leaf.TLS}})
			cli := tls.Client(peer, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
			got := make(chan []byte, 1)
			go func() {
				b := make([]byte, len(want))
				_, err := io.ReadFull(cli, b)
				if err != nil {
					b = nil
				}
				got <- b
			}()
			if err := srv.Handshake(); err != nil {
				t.Fatal(err)
			}
			if c := newConn(srv, &Config{}, nil, true); !c.joinWrites {
				t.Fatal("a connection on TLS does not join its writes")
			}
			rec.records = 0 // the handshake's are not counted
			if err := tc.write(srv); err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, want) {
				t.Fatalf("the peer read %q, want the messages in order", b)
			}
			if rec.records != tc.records {
				t.Fatalf("%d TLS records for %d messages, want %d", rec.records, len(msgs), tc.records)
			}
		})
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if c := newConn(a, &Config{}, nil, true); c.joinWrites {
		t.Fatal("a connection not on TLS joins its writes; it should write vectors")
	}
}

// recordCounter counts the TLS records written through it; every Write
// of crypto/tls after the handshake is whole records.
type recordCounter struct {
	net.Conn
	records int
}

func (r *recordCounter) Write(b []byte) (int, error) {
	for p := b; len(p) >= 5; {
		n := 5 + int(binary.BigEndian.Uint16(p[3:5]))
		if n > len(p) {
			break
		}
		r.records++
		p = p[n:]
	}
	return r.Conn.Write(b)
}

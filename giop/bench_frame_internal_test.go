package giop

import (
	"bytes"
	"strconv"
	"testing"
)

// BenchmarkFrameRead reads one complete GIOP 1.2 reply per iteration from a
// bytes.Reader through the connection's frame reader (no deadlines), as the
// reader goroutine does for every message.
func BenchmarkFrameRead(b *testing.B) {
	for _, size := range []int{64, 16384} {
		b.Run("body="+strconv.Itoa(size), func(b *testing.B) {
			e := NewEncoder(V1_2, true)
			e.StartReply(V1_2, &ReplyHeader{RequestID: 42, Status: ReplyNoException})
			e.WriteOctets(make([]byte, size))
			msg := e.FinishMessage()
			r := bytes.NewReader(msg)
			f := newFrameReader(r, nil, DefaultConfig())
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(msg)
				m, err := f.next()
				if err != nil {
					b.Fatal(err)
				}
				if len(m.Buf) != len(msg) {
					b.Fatalf("read %d bytes, want %d", len(m.Buf), len(msg))
				}
			}
		})
	}
}

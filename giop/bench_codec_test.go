package giop_test

import (
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// Micro-benchmarks of the codec on the round trip's hot path, with
// allocations. The messages have the shape omniORB 4.2.5 sends for
// Demo::Echo over GIOP 1.2 on x86: little-endian, KeyAddr "Echo", no
// service context after the first request (ctx=1 adds the CodeSets context
// that the first request of a connection carries).

var benchBody64 = blob(64)

// benchRequestHeader is the 1.2 request header of echoBlob with nctx contexts.
func benchRequestHeader(nctx int) *giop.RequestHeader {
	h := &giop.RequestHeader{RequestID: 42, ResponseFlags: giop.ResponseTarget,
		ObjectKey: []byte("Echo"), Operation: "echoBlob"}
	if nctx > 0 {
		h.ServiceContexts = giop.ServiceContextList{
			giop.CodeSetContext{Char: giop.CodeSetUTF8, WChar: giop.CodeSetUTF16}.ServiceContext()}
	}
	return h
}

// benchMessage parses an encoded message the way the frame reader hands it on.
func benchMessage(b *testing.B, buf []byte) *giop.Message {
	b.Helper()
	h, err := giop.ParseHeader(buf)
	if err != nil {
		b.Fatal(err)
	}
	return &giop.Message{Header: h, Buf: buf}
}

func encodeRequest(nctx int, body []byte) []byte {
	e := giop.NewEncoder(giop.V1_2, true)
	e.StartRequest(giop.V1_2, benchRequestHeader(nctx))
	e.WriteOctets(body)
	return e.FinishMessage()
}

// BenchmarkEncodeRequest encodes a GIOP 1.2 request header and a 64-byte
// sequence<octet> argument with one reused Encoder, as a pooled encoder
// is reused on a connection.
func BenchmarkEncodeRequest(b *testing.B) {
	e := giop.NewEncoder(giop.V1_2, true)
	h := benchRequestHeader(0)
	b.SetBytes(int64(len(encodeRequest(0, benchBody64))))
	b.ReportAllocs()
	for b.Loop() {
		e.StartRequest(giop.V1_2, h)
		e.WriteOctets(benchBody64)
		if len(e.FinishMessage()) == 0 {
			b.Fatal("empty message")
		}
	}
}

// BenchmarkDecodeRequest decodes the request header and the 64-byte argument
// (without copying it), as the echo servant does.
func BenchmarkDecodeRequest(b *testing.B) {
	for _, nctx := range []int{0, 1} {
		b.Run("ctx="+string(rune('0'+nctx)), func(b *testing.B) {
			buf := encodeRequest(nctx, benchBody64)
			m := benchMessage(b, buf)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				h, d, err := giop.DecodeRequest(m)
				if err != nil {
					b.Fatal(err)
				}
				if h.Operation != "echoBlob" || len(d.OctetsNoCopy()) != 64 {
					b.Fatal("bad decode")
				}
			}
		})
	}
}

// BenchmarkDecodeReply decodes a GIOP 1.2 reply header and its 64-byte
// sequence<octet> result (without copying it), as the Go client does.
func BenchmarkDecodeReply(b *testing.B) {
	e := giop.NewEncoder(giop.V1_2, true)
	e.StartReply(giop.V1_2, &giop.ReplyHeader{RequestID: 42, Status: giop.ReplyNoException})
	e.WriteOctets(benchBody64)
	buf := e.FinishMessage()
	m := benchMessage(b, buf)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		h, d, err := giop.DecodeReply(m)
		if err != nil {
			b.Fatal(err)
		}
		if h.RequestID != 42 || len(d.OctetsNoCopy()) != 64 {
			b.Fatal("bad decode")
		}
	}
}

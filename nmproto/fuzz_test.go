package nmproto_test

import (
	"bytes"
	"testing"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// FuzzDecode: any NMService context data decodes to a context or an error,
// never a panic; what decodes re-encodes to data that decodes the same.
func FuzzDecode(f *testing.F) {
	poller := giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 5555, ObjectKey: []byte("L0123456789abcdef")})
	for _, c := range []nmproto.Context{
		{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{RequestTag: []byte("0"), Cookie: []byte("add stock"), WaitTimeout: 250, Suppress: true}},
		{Kind: nmproto.KindWaitTimeout, WaitTimeout: nmproto.WaitForever},
		{Kind: nmproto.KindThePoller, ThePoller: poller},
		{Kind: nmproto.KindReplierName},
	} {
		f.Add(c.Encode().Data)
	}
	f.Add([]byte{0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := nmproto.Decode(data)
		if err != nil {
			return
		}
		again, err := nmproto.Decode(c.Encode().Data)
		if err != nil || again.Kind != c.Kind || !bytes.Equal(again.ReqInfo.Cookie, c.ReqInfo.Cookie) ||
			!bytes.Equal(again.ReqInfo.RequestTag, c.ReqInfo.RequestTag) || again.WaitTimeout != c.WaitTimeout {
			t.Fatalf("re-encoding %+v gave %+v, %v", c, again, err)
		}
	})
}

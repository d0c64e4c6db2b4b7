package nmproto_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// TestContext_RoundTrip: every NMContextData kind survives encoding.
func TestContext_RoundTrip(t *testing.T) {
	poller := giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 5555, ObjectKey: []byte("L0123456789abcdef")})
	for _, c := range []nmproto.Context{
		{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{RequestTag: []byte("0"), Cookie: []byte("add stock"), WaitTimeout: 250, Suppress: true}},
		{Kind: nmproto.KindReqInfo},
		{Kind: nmproto.KindWaitTimeout, WaitTimeout: nmproto.WaitForever},
		{Kind: nmproto.KindThePoller, ThePoller: poller},
		{Kind: nmproto.KindThePoller, ThePoller: nil},
		{Kind: nmproto.KindReplierName, ReplierName: ""},
	} {
		sc := c.Encode()
		if sc.ID != nmproto.ServiceID {
			t.Fatalf("context id %#x", sc.ID)
		}
		got, ok, err := nmproto.Find(giop.ServiceContextList{{ID: 1, Data: []byte{1}}, sc})
		if err != nil || !ok {
			t.Fatalf("Find(%v): %v", c.Kind, err)
		}
		if got.Kind != c.Kind || !bytes.Equal(got.ReqInfo.RequestTag, c.ReqInfo.RequestTag) ||
			!bytes.Equal(got.ReqInfo.Cookie, c.ReqInfo.Cookie) || got.ReqInfo.WaitTimeout != c.ReqInfo.WaitTimeout ||
			got.ReqInfo.Suppress != c.ReqInfo.Suppress || got.WaitTimeout != c.WaitTimeout || got.ReplierName != c.ReplierName {
			t.Fatalf("round trip of %+v gave %+v", c, got)
		}
		if c.Kind == nmproto.KindThePoller && (c.ThePoller == nil) != got.ThePoller.IsNil() {
			t.Fatalf("poller %v came back as %v", c.ThePoller, got.ThePoller)
		}
	}
}

// TestLookup: Lookup finds what Find finds, by value; for the req_info
// the agent reads on every request (empty tag and cookie) it allocates
// nothing, and a list without the context is not an error.
func TestLookup(t *testing.T) {
	ctx := nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{WaitTimeout: 250, Suppress: true}}
	sc := ctx.Encode()
	l := giop.ServiceContextList{{ID: 1, Data: []byte{1}}, sc}
	c, ok, err := nmproto.Lookup(l)
	if err != nil || !ok || c.Kind != nmproto.KindReqInfo || c.ReqInfo.WaitTimeout != 250 || !c.ReqInfo.Suppress {
		t.Fatalf("Lookup: %+v %v %v", c, ok, err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _, _ = nmproto.Lookup(l) }); allocs != 0 {
		t.Errorf("Lookup allocated %v times", allocs)
	}
	if _, ok, err := nmproto.Lookup(l[:1]); ok || err != nil {
		t.Errorf("Lookup without the context: %v %v", ok, err)
	}
	if _, ok, err := nmproto.Lookup(giop.ServiceContextList{{ID: nmproto.ServiceID, Data: []byte{2}}}); ok || err == nil {
		t.Errorf("Lookup of a bad context: %v %v", ok, err)
	}
}

// TestContext_Hostile: bad contexts are errors, never panics.
func TestContext_Hostile(t *testing.T) {
	for _, data := range [][]byte{nil, {}, {2}, {1, 9, 0, 0, 0}, {1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}} {
		if _, err := nmproto.Decode(data); err == nil {
			t.Errorf("Decode(%x) succeeded", data)
		}
	}
}

// TestRefComponent: TAG_NM_REF is an encapsulated octet (docs/native-messaging.md).
func TestRefComponent(t *testing.T) {
	c := nmproto.RefComponent(nmproto.RefPoller)
	if c.Tag != nmproto.TagNMRef || !bytes.Equal(c.Data, []byte{1, 2}) {
		t.Fatalf("component %+v", c)
	}
	if k, err := nmproto.ParseRefComponent(c.Data); err != nil || k != nmproto.RefPoller {
		t.Fatalf("parse: %v %v", k, err)
	}
}

// TestProperties: a PropertySeq survives WriteProperties and
// ReadProperties, and one longer than MaxProperties, or with a name over
// MaxPropertyNameLen, is an error left on the decoder.
func TestProperties(t *testing.T) {
	in := []nmproto.Property{
		{Name: "WaitReply", Value: giop.Any{Type: giop.TCBoolean, Value: true}},
		{Name: "ReplyDropping", Value: giop.Any{Type: giop.TCOctet, Value: byte(6)}},
	}
	e := giop.NewEncoder(giop.V1_2, true)
	if err := nmproto.WriteProperties(e, in); err != nil {
		t.Fatal(err)
	}
	d := giop.NewDecoder(e.Bytes(), giop.V1_2, true)
	out := nmproto.ReadProperties(d)
	if d.Err() != nil || len(out) != 2 || out[0].Name != "WaitReply" || out[0].Value.Value != true ||
		out[1].Name != "ReplyDropping" || out[1].Value.Value != byte(6) {
		t.Fatalf("read back %+v, %v", out, d.Err())
	}
	tooMany := make([]nmproto.Property, nmproto.MaxProperties+1)
	for i := range tooMany {
		tooMany[i] = nmproto.Property{Name: "p", Value: giop.Any{Type: giop.TCBoolean, Value: false}}
	}
	longName := []nmproto.Property{{Name: strings.Repeat("n", nmproto.MaxPropertyNameLen+1), Value: in[0].Value}}
	for name, props := range map[string][]nmproto.Property{"too many": tooMany, "long name": longName} {
		e := giop.NewEncoder(giop.V1_2, true)
		if err := nmproto.WriteProperties(e, props); err != nil {
			t.Fatal(err)
		}
		d := giop.NewDecoder(e.Bytes(), giop.V1_2, true)
		if got := nmproto.ReadProperties(d); got != nil || d.Err() == nil {
			t.Errorf("%s: read %d properties, error %v", name, len(got), d.Err())
		}
	}
}

// TestPaddingID: the padding context the giop package writes has the id
// the IDL gives it.
func TestPaddingID(t *testing.T) {
	if nmproto.PaddingID != giop.ServicePadding {
		t.Fatalf("nmproto.PaddingID %#x, giop.ServicePadding %#x", nmproto.PaddingID, giop.ServicePadding)
	}
}

package agent

import (
	"bytes"
	"testing"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
)

// A premature return's poller reference made from the proxy's template is
// byte for byte the reference encoded in full (Native Messaging: the client
// polls it), for the proxy's requests; and for targets with and without
// code sets, so the code set component is in the template too.
func TestPollerContext_TemplateMatchesFullEncoding(t *testing.T) {
	cs := giop.DefaultCodeSets.Component()
	for _, target := range []*giop.IOR{
		giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 9, ObjectKey: []byte("sm")}),
		giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 9, ObjectKey: []byte("sm"),
			Components: []giop.TaggedComponent{cs}}),
	} {
		a := &Agent{addrs: published{host: "agent.example", port: 5555, alt: []giop.AlternateAddress{{Host: "b.example", Port: 6}}}, proxies: make(map[poller.ID]*proxyRecord)}
		p := &proxyRecord{id: newID(), target: target, repoID: "IDL:StockManager:1.0"}
		a.proxies[p.id] = p
		for range 3 {
			rec := &requestRecord{id: newID(), proxyID: p.id, target: p.target, repoID: p.repoID}
			got := a.pollerContext(keyPoller, rec)
			want := encodePollerContext(a.targetIOR(keyPoller, rec.id, rec.repoID, rec.target))
			if got.ID != want.ID || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("from the template:\n%x\nin full:\n%x", got.Data, want.Data)
			}
			c, err := nmproto.Decode(got.Data)
			if err != nil || c.Kind != nmproto.KindThePoller {
				t.Fatalf("decoded %+v, %v", c, err)
			}
			prof, err := c.ThePoller.CallProfile()
			if err != nil {
				t.Fatal(err)
			}
			if kind, id, ok := parseKey(prof.ObjectKey); !ok || kind != keyPoller || id != rec.id {
				t.Fatalf("poller key %x names %c %x, want the request %x", prof.ObjectKey, kind, id, rec.id)
			}
		}
		if p.pollerCtx == nil {
			t.Error("the proxy kept no template")
		}
	}
}

// A request whose proxy is gone still gets its reference, encoded in full.
func TestPollerContext_WithoutProxy(t *testing.T) {
	a := &Agent{addrs: published{host: "agent.example", port: 5555, alt: []giop.AlternateAddress{{Host: "b.example", Port: 6}}}, proxies: make(map[poller.ID]*proxyRecord)}
	target := giop.NewIOR("IDL:X:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "h", Port: 1, ObjectKey: []byte("k")})
	rec := &requestRecord{id: newID(), proxyID: newID(), target: target, repoID: "IDL:X:1.0"}
	got := a.pollerContext(keyPoller, rec)
	want := encodePollerContext(a.targetIOR(keyPoller, rec.id, rec.repoID, rec.target))
	if !bytes.Equal(got.Data, want.Data) {
		t.Fatal("a request without its proxy got another reference")
	}
}

// makeTemplate refuses encodings where the id is not one plain run of
// bytes, rather than writing ids into the wrong place.
func TestMakeTemplate_Refuses(t *testing.T) {
	for name, enc := range map[string]func(poller.ID) []byte{
		"sizes differ": func(id poller.ID) []byte { return append([]byte("x"), id[:id[0]%3]...) },
		"id absent":    func(poller.ID) []byte { return []byte("same") },
		"id twice":     func(id poller.ID) []byte { return append(append([]byte("a"), id[:]...), id[:]...) },
		"id changed":   func(id poller.ID) []byte { b := append([]byte("a"), id[:]...); b[3] ^= 1; return b },
	} {
		if makeTemplate(enc) != nil {
			t.Errorf("%s: a template was made", name)
		}
	}
	if tpl := makeTemplate(func(id poller.ID) []byte { return append(append([]byte("ab"), id[:]...), 'z') }); tpl == nil || tpl.at != 2 {
		t.Errorf("a plain encoding: %+v", tpl)
	}
}

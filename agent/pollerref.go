package agent

import (
	"bytes"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
)

// ctxTemplate is the NMService ThePoller context of one proxy's pollers,
// encoded, with the request id at offset at. The references to a proxy's
// pollers differ only in that id (the type, the agent's address and the
// code sets are the proxy's), so a premature return copies the template
// and writes its id in, instead of building and encoding a reference: on
// the 2PI path that was a tenth of the agent's allocations.
type ctxTemplate struct {
	data []byte
	at   int
}

// pollerContext returns the context a premature return carries for rec:
// from its proxy's template (made on first use), or encoded in full for a
// request without a proxy or when no template can be made.
func (a *Agent) pollerContext(kind byte, rec *requestRecord) giop.ServiceContext {
	if kind == keyPoller {
		if t := a.proxyPollerTemplate(rec); t != nil {
			data := append([]byte(nil), t.data...)
			copy(data[t.at:], rec.id[:])
			return giop.ServiceContext{ID: nmproto.ServiceID, Data: data}
		}
	}
	return encodePollerContext(a.targetIOR(kind, rec.id, rec.repoID, rec.target))
}

// proxyPollerTemplate returns the template of rec's proxy, making it if
// needed; nil if the proxy is gone or the template cannot be made.
func (a *Agent) proxyPollerTemplate(rec *requestRecord) *ctxTemplate {
	a.mu.Lock()
	p := a.proxies[rec.proxyID]
	var t *ctxTemplate
	if p != nil {
		t = p.pollerCtx
	}
	a.mu.Unlock()
	if p == nil || t != nil {
		return t
	}
	t = makeTemplate(func(id poller.ID) []byte {
		return encodePollerContext(a.targetIOR(keyPoller, id, p.repoID, p.target)).Data
	})
	if t == nil {
		return nil
	}
	a.mu.Lock()
	p.pollerCtx = t // a racing request may have made one too: the same bytes
	a.mu.Unlock()
	return t
}

// makeTemplate encodes with two ids that differ in every byte and finds
// where the id lies: the encodings must differ in exactly its 16 bytes.
func makeTemplate(encode func(poller.ID) []byte) *ctxTemplate {
	var zero, ones poller.ID
	for i := range ones {
		ones[i] = 0xff
	}
	a, b := encode(zero), encode(ones)
	if len(a) != len(b) {
		return nil
	}
	at := -1
	for i := range a {
		if a[i] != b[i] {
			at = i
			break
		}
	}
	n := len(zero)
	if at < 0 || at+n > len(a) || !bytes.Equal(a[:at], b[:at]) || !bytes.Equal(a[at+n:], b[at+n:]) ||
		!bytes.Equal(a[at:at+n], zero[:]) || !bytes.Equal(b[at:at+n], ones[:]) {
		return nil
	}
	return &ctxTemplate{data: a, at: at}
}

// encodePollerContext is the NMService ThePoller context for ref.
func encodePollerContext(ref *giop.IOR) giop.ServiceContext {
	nm := nmproto.Context{Kind: nmproto.KindThePoller, ThePoller: ref}
	return nm.Encode()
}

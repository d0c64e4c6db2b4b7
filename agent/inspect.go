package agent

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
)

// ErrUnknown means no proxy or request has the id given.
var ErrUnknown = errors.New("agent: no such proxy or request")

// ProxyInfo describes a request proxy for operators. Its ID, like a
// request's, is a public id: not the secret its object keys are made of
// (publicid.go).
type ProxyInfo struct {
	ID            string     `json:"id"`
	RepositoryID  string     `json:"repository_id"`
	Target        string     `json:"target"`
	Recipient     string     `json:"recipient,omitempty"`
	Properties    Properties `json:"properties"`
	ToBeDestroyed bool       `json:"to_be_destroyed"`
	Created       time.Time  `json:"created"`
	Requests      int        `json:"requests"`
	// Identity is the TLS identity of the client that created the proxy
	// (certificate subject or SAN); empty over plain IIOP.
	Identity string `json:"identity,omitempty"`
}

// RequestInfo describes a request for operators. Tags and cookies are
// octets: Tag and Cookie show them as text when they are printable, else
// as 0x and hex; TagHex and CookieHex always in hex.
type RequestInfo struct {
	ID        string    `json:"id"`
	Proxy     string    `json:"proxy,omitempty"`
	Group     string    `json:"group,omitempty"`
	Tag       string    `json:"tag,omitempty"`
	TagHex    string    `json:"tag_hex,omitempty"`
	Cookie    string    `json:"cookie,omitempty"`
	CookieHex string    `json:"cookie_hex,omitempty"`
	Operation string    `json:"operation,omitempty"`
	State     string    `json:"state"`
	Oneway    bool      `json:"oneway,omitempty"`
	Created   time.Time `json:"created"`
	Age       string    `json:"age"`
	// Identity is the TLS identity of the client that made the request;
	// empty over plain IIOP.
	Identity string `json:"identity,omitempty"`
}

// RequestDetail is a request with its arguments and reply, decoded through
// the target's IDL when it is loaded.
type RequestDetail struct {
	RequestInfo
	RepositoryID string `json:"repository_id"`
	// Target is where the request goes (host:port/key); Recipient who is
	// called back, if anyone, and Callback how that stands.
	Target      string          `json:"target"`
	Recipient   string          `json:"recipient,omitempty"`
	Callback    string          `json:"callback,omitempty"`
	Arguments   json.RawMessage `json:"arguments,omitempty"`
	ReplyStatus string          `json:"reply_status,omitempty"`
	Reply       json.RawMessage `json:"reply,omitempty"`
	// Note says why arguments or reply are not decoded.
	Note string `json:"note,omitempty"`
}

// stateNames are the states as operators see them (docs/admin.md); the
// lifecycle's moments only memory knows show as the stored state they
// stand for: a claimed request object is still created, a WaitReply call
// waiting unstored is being delegated, a reply handed over is replied;
// a reply whose callback is marked (a cluster's) is replied too, and its
// detail says more (RequestDetail.Callback).
var stateNames = map[lifecycle.State]string{lifecycle.Created: "created", lifecycle.Queued: "queued",
	lifecycle.Sending: "delegating", lifecycle.Replied: "replied", lifecycle.Delivered: "delivered",
	lifecycle.Claimed: "created", lifecycle.Unstored: "delegating", lifecycle.Handed: "replied",
	lifecycle.Calling: "replied"}

func (a *Agent) requestInfo(r *requestRecord, now time.Time) RequestInfo {
	created := time.Unix(0, r.created)
	ri := RequestInfo{ID: a.publicID(r.id), Tag: octetsText(r.tag), TagHex: hex.EncodeToString([]byte(r.tag)),
		Cookie: octetsText(r.cookie), CookieHex: hex.EncodeToString([]byte(r.cookie)), Operation: r.operation, State: stateNames[r.state],
		Oneway: r.oneway, Created: created, Age: now.Sub(created).Round(time.Millisecond).String(), Identity: r.identity}
	if r.proxyID != (poller.ID{}) {
		ri.Proxy = a.publicID(r.proxyID)
	} else if len(r.group) > 2 {
		ri.Group = groupName(r.group)
	}
	return ri
}

// RequestFilter selects requests in a listing; zero fields select all.
type RequestFilter struct {
	// State is one of the states RequestInfo shows (created, queued,
	// delegating, replied, delivered).
	State string
	// Proxy is a proxy's public id; Group a create_request polling group.
	Proxy, Group string
	// OlderThan selects requests created at least this long ago.
	OlderThan time.Duration
}

// RequestPage is one page of a request listing.
type RequestPage struct {
	Requests []RequestInfo `json:"requests"`
	// Next resumes the listing after this page; empty after the last.
	Next string `json:"next,omitempty"`
	// Live is how many requests the agent holds in all.
	Live int `json:"live"`
}

// Listing bounds: a page holds DefaultPageSize requests unless asked for
// fewer, and at most MaxPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 10_000
)

// ListRequests returns up to limit live requests that match f, oldest
// first, after the cursor after (a RequestPage.Next; "" from the start).
// It walks the store's index of requests — a snapshot, in creation order
// — and takes the agent's lock only to read each page's records, so a
// listing of a million requests never stops the agent.
func (a *Agent) ListRequests(f RequestFilter, after string, limit int) (RequestPage, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	if f.State != "" && !knownState(f.State) {
		return RequestPage{}, fmt.Errorf("%w: no state %q (created, queued, delegating, replied, delivered)", ErrBadArgument, f.State)
	}
	from, err := a.requestCursor(after)
	if err != nil {
		return RequestPage{}, err
	}
	var proxyID poller.ID
	if f.Proxy != "" {
		if proxyID, err = a.pub.secret(f.Proxy); err != nil {
			return RequestPage{}, err
		}
	}
	now := time.Now()
	page := RequestPage{Requests: []RequestInfo{}}
	var keys [][]byte
	var last []byte
	// The lock is held only to copy the records that match (their strings
	// are immutable); ciphering ids and formatting happen outside it, so
	// two loops listing 100,000 requests do not queue every other client
	// behind them.
	var recs []requestRecord
	flush := func() {
		recs = recs[:0]
		a.mu.Lock()
		for _, k := range keys {
			id := idOfRequestKey(k)
			r := a.groups.Value(id)
			if r == nil || !f.matches(r, proxyID, now) {
				continue
			}
			recs = append(recs, *r)
		}
		a.mu.Unlock()
		for i := range recs {
			page.Requests = append(page.Requests, a.requestInfo(&recs[i], now))
		}
		keys = keys[:0]
	}
	err = a.store.ScanKeysFrom(prefixRequest, from, func(k []byte) (bool, error) {
		if from != nil && bytes.Equal(k, from) {
			return true, nil // the cursor's own request was on the last page
		}
		keys = append(keys, k)
		last = k
		if len(keys) == 256 || len(page.Requests)+len(keys) >= limit {
			flush()
		}
		return len(page.Requests) < limit, nil
	})
	if err != nil {
		return RequestPage{}, err
	}
	flush()
	if len(page.Requests) >= limit && last != nil {
		page.Next = a.cursorOf(last)
	}
	a.mu.Lock()
	page.Live = a.groups.Count()
	a.mu.Unlock()
	return page, nil
}

// knownState reports whether name is one of the states RequestInfo shows.
func knownState(name string) bool {
	for _, n := range stateNames {
		if n == name {
			return true
		}
	}
	return false
}

func (f RequestFilter) matches(r *requestRecord, proxyID poller.ID, now time.Time) bool {
	switch {
	case f.State != "" && stateNames[r.state] != f.State:
		return false
	case f.Proxy != "" && r.proxyID != proxyID:
		return false
	case f.Group != "" && (r.proxyID != (poller.ID{}) || groupName(r.group) != f.Group):
		return false
	case f.OlderThan > 0 && now.Sub(time.Unix(0, r.created)) < f.OlderThan:
		return false
	}
	return true
}

// idOfRequestKey returns the request id at the end of a q/ key.
func idOfRequestKey(k []byte) poller.ID {
	var id poller.ID
	copy(id[:], k[len(k)-len(id):])
	return id
}

// cursorOf is the listing cursor after the request stored under key:
// its creation time and its public id, so that the cursor tells nothing
// of the secret id.
func (a *Agent) cursorOf(key []byte) string {
	id := idOfRequestKey(key)
	pub := strings.ReplaceAll(a.publicID(id), "-", "")
	if len(key) == legacyRequestKeyLen {
		return "l." + pub
	}
	return hex.EncodeToString(key[len(prefixRequest):len(prefixRequest)+8]) + "." + pub
}

// requestCursor turns a cursor back into the store key to resume at.
func (a *Agent) requestCursor(cursor string) ([]byte, error) {
	if cursor == "" {
		return nil, nil
	}
	at, pub, ok := strings.Cut(cursor, ".")
	id, err := a.pub.secret(pub)
	if !ok || err != nil {
		return nil, fmt.Errorf("%w: bad listing cursor %q", ErrBadArgument, cursor)
	}
	key := append([]byte(nil), prefixRequest...)
	if at != "l" {
		created, err := hex.DecodeString(at)
		if err != nil || len(created) != 8 {
			return nil, fmt.Errorf("%w: bad listing cursor %q", ErrBadArgument, cursor)
		}
		key = append(key, created...)
	}
	return append(key, id[:]...), nil
}

// Requests lists every live request, oldest first (ListRequests, page by
// page).
func (a *Agent) Requests() []RequestInfo {
	var out []RequestInfo
	after := ""
	for {
		page, err := a.ListRequests(RequestFilter{}, after, MaxPageSize)
		if err != nil {
			return out
		}
		out = append(out, page.Requests...)
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

// ProxyPage is one page of a proxy listing.
type ProxyPage struct {
	Proxies []ProxyInfo `json:"proxies"`
	// Next resumes the listing after this page; empty after the last.
	Next string `json:"next,omitempty"`
	// Total is how many proxies the agent holds.
	Total int `json:"total"`
}

// ListProxies returns up to limit proxies after the cursor after (a
// ProxyPage.Next), in the store's order, which is stable but not the
// order of creation.
func (a *Agent) ListProxies(after string, limit int) (ProxyPage, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	var from []byte
	if after != "" {
		id, err := a.pub.secret(after)
		if err != nil {
			return ProxyPage{}, fmt.Errorf("%w: bad listing cursor %q", ErrBadArgument, after)
		}
		from = proxyKey(id)
	}
	page := ProxyPage{Proxies: []ProxyInfo{}}
	var last poller.ID
	err := a.store.ScanKeysFrom(prefixProxy, from, func(k []byte) (bool, error) {
		if from != nil && bytes.Equal(k, from) {
			return true, nil
		}
		var id poller.ID
		copy(id[:], k[len(prefixProxy):])
		a.mu.Lock()
		p := a.proxies[id]
		var pi ProxyInfo
		if p != nil {
			pi = a.proxyInfo(p)
		}
		a.mu.Unlock()
		if p != nil {
			pi.Requests = a.groups.Len(p.group)
			page.Proxies = append(page.Proxies, pi)
			last = id
		}
		return len(page.Proxies) < limit, nil
	})
	if err != nil {
		return ProxyPage{}, err
	}
	if len(page.Proxies) >= limit {
		page.Next = a.publicID(last)
	}
	a.mu.Lock()
	page.Total = len(a.proxies)
	a.mu.Unlock()
	return page, nil
}

// octetsText shows octets as text when they are printable, else as 0x
// and hex.
func octetsText(s string) string {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return "0x" + hex.EncodeToString([]byte(s))
		}
	}
	return s
}

// proxyInfo describes a proxy. a.mu must be held.
func (a *Agent) proxyInfo(p *proxyRecord) ProxyInfo {
	pi := ProxyInfo{ID: a.publicID(p.id), RepositoryID: p.repoID, Target: p.target.String(),
		Properties: p.props, ToBeDestroyed: p.toBeDestroyed, Created: p.created, Identity: p.identity}
	if !p.recipient.IsNil() {
		pi.Recipient = p.recipient.String()
	}
	return pi
}

// Proxies lists every proxy, oldest first (ListProxies, page by page).
func (a *Agent) Proxies() []ProxyInfo {
	var out []ProxyInfo
	after := ""
	for {
		page, err := a.ListProxies(after, MaxPageSize)
		if err != nil {
			break
		}
		out = append(out, page.Proxies...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// DestroyProxy destroys a proxy and its requests, as destroy(true) would:
// for operators clearing proxies their clients left behind.
func (a *Agent) DestroyProxy(publicID string) error {
	id, err := a.pub.secret(publicID)
	if err != nil {
		return err
	}
	if err := a.destroyProxy(id, true); err != nil {
		return fmt.Errorf("%w: %s", ErrUnknown, publicID)
	}
	a.log.Info().Str("proxy", publicID).Msg("agent: proxy destroyed by an operator")
	return nil
}

// Request returns one request in detail.
func (a *Agent) Request(hexID string) (RequestDetail, error) {
	id, err := a.pub.secret(hexID)
	if err != nil {
		return RequestDetail{}, err
	}
	a.mu.Lock()
	r := a.groups.Value(id)
	var rec requestRecord
	if r != nil {
		rec = *r
	}
	a.mu.Unlock()
	if r == nil {
		return RequestDetail{}, fmt.Errorf("%w: %s", ErrUnknown, hexID)
	}
	d := RequestDetail{RequestInfo: a.requestInfo(&rec, time.Now()), RepositoryID: rec.repoID,
		Target: recipientLabel(rec.target)}
	if !rec.recipient.IsNil() {
		d.Recipient = recipientLabel(rec.recipient)
		a.mu.Lock()
		_, givenUp := a.givenUp[id]
		_, maybe := a.maybeCalled[id]
		a.mu.Unlock()
		switch {
		case givenUp:
			d.Callback = "given up after the retry budget; the reply is kept for polling (requestagent recipients retry)"
		case maybe:
			d.Callback = "maybe made before a restart or a takeover (its attempt was marked), so not made again; the reply is kept for polling (requestagent recipients retry calls it again, maybe a second time)"
		case rec.state == lifecycle.Replied || rec.state == lifecycle.Calling:
			d.Callback = "due (reply_available being called or retried)"
		case rec.state == lifecycle.Delivered:
			d.Callback = "delivered"
		default:
			d.Callback = "when the reply comes"
		}
		if rec.bound {
			d.Callback += "; over the connection that handed the recipient over"
		}
	}
	var notes []string
	if body, err := a.store.Get(rec.key(prefixBody)); err == nil && rec.bodyAlign >= 0 {
		dec := giop.NewBodyDecoder(body, int(rec.bodyAlign), rec.version, rec.little)
		if j, err := a.idl.ArgsJSON(rec.repoID, rec.operation, dec); err == nil {
			d.Arguments = j
		} else {
			notes = append(notes, "arguments: "+err.Error())
		}
	}
	if raw, err := a.store.Get(rec.key(prefixReply)); err == nil {
		if y, err := decodeReply(raw); err == nil {
			d.ReplyStatus = y.status.String()
			dec := giop.NewBodyDecoder(y.body, int(y.bodyAlign), y.version, y.little)
			switch y.status {
			case giop.ReplyNoException:
				if j, err := a.idl.ResultsJSON(rec.repoID, rec.operation, dec); err == nil {
					d.Reply = j
				} else {
					notes = append(notes, "reply: "+err.Error())
				}
			case giop.ReplySystemException:
				if x := dec.SystemException(); x != nil {
					d.Reply, _ = json.Marshal(map[string]any{"exception": x.Name, "minor": nmproto.MinorString(x.Minor),
						"completed": x.Completed.String()})
				}
			case giop.ReplyUserException:
				d.Reply, _ = json.Marshal(map[string]any{"exception": dec.String()})
			}
		}
	}
	d.Note = strings.Join(notes, "; ")
	return d, nil
}

// Trash trashes a request, as destroy_request would.
func (a *Agent) Trash(hexID string) error {
	id, err := a.pub.secret(hexID)
	if err != nil {
		return err
	}
	if !a.trash(id) {
		a.mu.Lock()
		_, isProxy := a.proxies[id]
		a.mu.Unlock()
		if isProxy {
			return fmt.Errorf("%w: %s is a proxy, not a request (requestagent destroy %s destroys it and its requests)", ErrUnknown, hexID, hexID)
		}
		return fmt.Errorf("%w: %s", ErrUnknown, hexID)
	}
	a.log.Info().Str("request", hexID).Msg("agent: request trashed by an operator")
	return nil
}

// Ready reports whether the agent has recovered its state and serves.
func (a *Agent) Ready() bool { return a.ready.Load() }

// InProgress is what a graceful shutdown waits for.
type InProgress struct {
	// Serving is the calls being answered; Delegations the requests out
	// at their targets (queued ones stay stored for the next start);
	// Callbacks the reply_available calls due.
	Serving, Delegations, Callbacks int
}

// Waiting says what is in progress now.
func (a *Agent) Waiting() InProgress {
	running, _ := a.queue.depth()
	return InProgress{Serving: int(a.server.Stats().Serving), Delegations: running, Callbacks: a.deliverer.Pending()}
}

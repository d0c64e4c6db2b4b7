package agent

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/requestagent/requestagent/giop"
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
}

// RequestInfo describes a request for operators. Tags and cookies are
// shown as hex: they are octets.
type RequestInfo struct {
	ID        string    `json:"id"`
	Proxy     string    `json:"proxy,omitempty"`
	Group     string    `json:"group,omitempty"`
	Tag       string    `json:"tag,omitempty"`
	Cookie    string    `json:"cookie,omitempty"`
	Operation string    `json:"operation,omitempty"`
	State     string    `json:"state"`
	Oneway    bool      `json:"oneway,omitempty"`
	Created   time.Time `json:"created"`
	Age       string    `json:"age"`
}

// RequestDetail is a request with its arguments and reply, decoded through
// the target's IDL when it is loaded.
type RequestDetail struct {
	RequestInfo
	RepositoryID string          `json:"repository_id"`
	Arguments    json.RawMessage `json:"arguments,omitempty"`
	ReplyStatus  string          `json:"reply_status,omitempty"`
	Reply        json.RawMessage `json:"reply,omitempty"`
	// Note says why arguments or reply are not decoded.
	Note string `json:"note,omitempty"`
}

var stateNames = map[reqState]string{stateCreated: "created", stateAccepted: "queued",
	stateSending: "delegating", stateReplied: "replied", stateDelivered: "delivered"}

func (a *Agent) requestInfo(r *requestRecord, now time.Time) RequestInfo {
	created := time.Unix(0, r.created)
	ri := RequestInfo{ID: a.publicID(r.id), Tag: hex.EncodeToString([]byte(r.tag)),
		Cookie: hex.EncodeToString([]byte(r.cookie)), Operation: r.operation, State: stateNames[r.state],
		Oneway: r.oneway, Created: created, Age: now.Sub(created).Round(time.Millisecond).String()}
	if r.proxyID != (poller.ID{}) {
		ri.Proxy = a.publicID(r.proxyID)
	} else if len(r.group) > 2 {
		ri.Group = r.group[2:]
	}
	return ri
}

// Proxies lists the request proxies, oldest first.
func (a *Agent) Proxies() []ProxyInfo {
	a.mu.Lock()
	out := make([]ProxyInfo, 0, len(a.proxies))
	for _, p := range a.proxies {
		pi := ProxyInfo{ID: a.publicID(p.id), RepositoryID: p.repoID, Target: p.target.String(),
			Properties: p.props, ToBeDestroyed: p.toBeDestroyed, Created: p.created}
		if !p.recipient.IsNil() {
			pi.Recipient = p.recipient.String()
		}
		out = append(out, pi)
	}
	a.mu.Unlock()
	for i := range out {
		if id, err := a.ids.secret(out[i].ID); err == nil {
			out[i].Requests = a.groups.Len(proxyGroup(id))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Requests lists the live requests, oldest first.
func (a *Agent) Requests() []RequestInfo {
	now := time.Now()
	a.mu.Lock()
	out := make([]RequestInfo, 0, a.groups.Count())
	a.groups.Range(func(_ poller.ID, r *requestRecord) bool {
		if r != nil {
			out = append(out, a.requestInfo(r, now))
		}
		return true
	})
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Request returns one request in detail.
func (a *Agent) Request(hexID string) (RequestDetail, error) {
	id, err := a.ids.secret(hexID)
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
	d := RequestDetail{RequestInfo: a.requestInfo(&rec, time.Now()), RepositoryID: rec.repoID}
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
					d.Reply, _ = json.Marshal(map[string]any{"exception": x.Name, "minor": x.Minor, "completed": x.Completed.String()})
				}
			case giop.ReplyUserException:
				d.Reply, _ = json.Marshal(map[string]any{"exception": dec.String()})
			}
		}
	}
	if len(notes) > 0 {
		d.Note = fmt.Sprint(notes)
	}
	return d, nil
}

// Trash trashes a request, as destroy_request would.
func (a *Agent) Trash(hexID string) error {
	id, err := a.ids.secret(hexID)
	if err != nil {
		return err
	}
	if !a.trash(id) {
		return fmt.Errorf("%w: %s", ErrUnknown, hexID)
	}
	a.log.Info().Str("request", hexID).Msg("agent: request trashed by an operator")
	return nil
}

// Ready reports whether the agent has recovered its state and serves.
func (a *Agent) Ready() bool { return a.ready.Load() }

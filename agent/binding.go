package agent

import (
	"errors"
	"strconv"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/poller"
)

// Bound recipients (docs/callbacks.md, "Recipients behind firewalls").
//
// A recipient is normally called back at the address its IOR names. It is
// *bound* — called back over the very connection that handed it to the
// agent, and never dialled — when that connection announced the
// recipient's address in BI_DIR_IIOP, or when its proxy was made with
// RecipientOnConnection. The binding is the only use an announced listen
// point has: announcing an address proves nothing about owning it, so it
// never redirects a delegation, a naming call or another client's
// callback, and it is forgotten with the connection.
//
// A bound recipient whose connection is gone (closed, or the agent
// restarted) waits: its callbacks fail as not sent and are retried, and
// when their budget is spent the reply stays for polling. A client that
// comes back re-binds its recipient by handing the same recipient (same
// address and object key) to the agent again on a connection that
// announces it; callbacks given up meanwhile are then tried again. A
// connection that is still open is never displaced: another connection
// naming the same recipient gets a binding of its own.

// binding is one bound recipient on one connection. a.mu guards its
// fields and Agent.bindings.
type binding struct {
	key string
	// conn is the connection that handed the recipient over; nil after a
	// restart, until the client hands it over again.
	conn *giop.Conn
	// refs counts the proxies and requests bound through it; at zero it
	// is dropped from Agent.bindings.
	refs int
}

// live reports whether the binding's connection can carry a callback.
// a.mu must be held.
func (b *binding) live() bool { return b.conn != nil && b.conn.Err() == nil }

// recipientKey names a recipient by what a callback reaches: its address
// and object key (not its type or components).
func recipientKey(ref *giop.IOR) (string, bool) {
	prof, err := ref.IIOP()
	if err != nil {
		return "", false
	}
	return prof.Host + "\x00" + strconv.Itoa(int(prof.AddressPort())) + "\x00" + string(prof.ObjectKey), true
}

// bindsRecipient reports whether a recipient handed over on conn is to be
// bound to it: explicitly (RecipientOnConnection), or because conn
// announced the recipient's address.
func bindsRecipient(conn *giop.Conn, recipient *giop.IOR, explicit bool) bool {
	if recipient.IsNil() || conn == nil {
		return false
	}
	if _, ok := recipientKey(recipient); !ok {
		return false
	}
	return explicit || conn.AnnouncedFor(recipient)
}

// bind returns the binding of recipient to conn, taking a reference to
// it. A binding of the same recipient whose connection is gone is taken
// over by conn (the client came back), and is returned in rebound so that
// its given-up callbacks can be re-armed. a.mu must be held.
func (a *Agent) bind(conn *giop.Conn, recipient *giop.IOR) (b *binding, rebound []*binding) {
	key, _ := recipientKey(recipient)
	list := a.bindings[key]
	for _, x := range list {
		if x.conn == conn {
			b = x
		}
	}
	for _, x := range list {
		if x != b && !x.live() {
			x.conn = conn
			rebound = append(rebound, x)
			if b == nil {
				b = x
			}
		}
	}
	if b == nil {
		b = &binding{key: key, conn: conn}
		a.bindings[key] = append(list, b)
	}
	b.refs++
	return b, rebound
}

// restoreBinding returns a binding for a bound recipient recovered from
// the store: no connection yet. a.mu must be held, or recovery running.
func (a *Agent) restoreBinding(recipient *giop.IOR) *binding {
	key, ok := recipientKey(recipient)
	if !ok {
		return nil
	}
	for _, x := range a.bindings[key] {
		if x.conn == nil {
			x.refs++
			return x
		}
	}
	b := &binding{key: key, refs: 1}
	a.bindings[key] = append(a.bindings[key], b)
	return b
}

// release drops a reference to b. a.mu must be held.
func (a *Agent) release(b *binding) {
	if b == nil {
		return
	}
	if b.refs--; b.refs > 0 {
		return
	}
	list := a.bindings[b.key]
	for i, x := range list {
		if x == b {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(a.bindings, b.key)
	} else {
		a.bindings[b.key] = list
	}
}

// bindingOf returns the binding of a bound request's recipient: its
// proxy's, or its own for a request made by create_request; nil if it has
// none (which a bound request then waits for). a.mu must be held.
func (a *Agent) bindingOf(rec *requestRecord) *binding {
	if rec.proxyID != (poller.ID{}) {
		if p := a.proxies[rec.proxyID]; p != nil {
			return p.binding
		}
		return nil
	}
	return a.reqBindings[rec.id]
}

// errRecipientAway is why a callback to a bound recipient is not sent
// while its connection is gone; it counts as not sent, so it is retried.
var errRecipientAway = errors.New("agent: the recipient is reached only over its client's connection, which is closed; waiting for the client to hand it over again")

// rearm tries again the callbacks given up for requests whose recipient
// was just re-bound to a connection.
func (a *Agent) rearm(rebound []*binding) {
	if len(rebound) == 0 {
		return
	}
	n := a.retryGivenUp(func(r *requestRecord) bool {
		b := a.bindingOf(r)
		for _, x := range rebound {
			if b == x {
				return true
			}
		}
		return false
	}, false) // not the ones maybe made: only an operator calls those again
	if n > 0 {
		a.log.Info().Int("callbacks", n).Msg("agent: recipient handed over again; callbacks given up are tried again")
	}
}

// bindRecipient serves bind_recipient: the recipient is handed over again
// on conn, which must announce its address. Bindings of it whose
// connection is gone move to conn; a live one is never displaced, and
// nothing new is bound (that takes a proxy or request).
func (a *Agent) bindRecipient(conn *giop.Conn, recipient *giop.IOR) error {
	if !bindsRecipient(conn, recipient, false) {
		return badParam(0, "bind_recipient: this connection does not announce the recipient's address (BI_DIR_IIOP)")
	}
	key, _ := recipientKey(recipient)
	var rebound []*binding
	a.mu.Lock()
	for _, b := range a.bindings[key] {
		if !b.live() {
			b.conn = conn
			rebound = append(rebound, b)
		}
	}
	a.mu.Unlock()
	a.rearm(rebound)
	return nil
}

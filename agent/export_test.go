package agent

import (
	"sync"
	"sync/atomic"

	"github.com/requestagent/requestagent/poller"
)

// TrashWhileReplyIsWritten makes the next reply storeReply writes have its
// request trashed between storeReply's Store move and its commit — the
// window of a trash that lands while the reply is written — and closes
// done once it did. It undoes itself after that one reply.
func TrashWhileReplyIsWritten(done chan<- struct{}) (undo func()) {
	return trashOnce(&beforeReplyCommit, done)
}

// TrashBeforeEvolve makes the next WaitReply call whose wait ends unstored
// have its request trashed just before it would be stored (the Evolve
// move) — the window of a trash during the wait — and closes done once it
// did. It undoes itself after that one call.
func TrashBeforeEvolve(done chan<- struct{}) (undo func()) {
	return trashOnce(&beforeEvolve, done)
}

// trashOnce sets the hook at to trash the request it is called for, once,
// and close done.
func trashOnce(at *atomic.Pointer[func(a *Agent, id poller.ID)], done chan<- struct{}) (undo func()) {
	hook := func(a *Agent, id poller.ID) {
		at.Store(nil)
		a.trash(id)
		close(done)
	}
	at.Store(&hook)
	return func() { at.Store(nil) }
}

// HoldWritten holds the next read's Written move until release is
// called, closing entered once it is held: the read's reply is on its
// way, and its request out of the table, for as long as a test needs.
func HoldWritten(entered chan<- struct{}) (release func()) {
	gate := make(chan struct{})
	hook := func() {
		beforeWritten.Store(nil)
		close(entered)
		<-gate
	}
	beforeWritten.Store(&hook)
	var once sync.Once
	return func() {
		beforeWritten.Store(nil)
		once.Do(func() { close(gate) })
	}
}

// CallsWaiting is the number of polls and pulls counted against
// MaxWaiting now.
func (a *Agent) CallsWaiting() int64 { return a.waiting.n.Load() }

// Package timerpool recycles timers for the per-call waits of the hot
// paths (a delegation's timeout, a WaitReply's wait): time.NewTimer costs
// three allocations, a recycled timer none.
//
// It relies on the timer semantics of Go 1.23 and later: after Stop or
// Reset, no value from before can be received, so a recycled timer never
// fires early.
package timerpool

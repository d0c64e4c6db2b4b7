// Package recipient delivers callbacks to reply recipients (docs/callbacks.md):
// one queue per recipient, so callbacks to it follow reply arrival and one
// slow or dead recipient never delays the others; each callback retried with
// exponential backoff and jitter for a configured budget; and a record of
// the recipients whose callbacks keep failing, for operators.
//
// It knows nothing of GIOP: a Job's Deliver makes one attempt. The agent
// supplies it (a reply_available call, over the recipient's own
// bidirectional connection when it has one) and decides what a given-up
// callback means (the reply stays pollable).
package recipient

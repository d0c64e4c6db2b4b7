// Package poller keeps the polling state of the request agent: which live
// requests each polling group holds, under which request tags, which
// replies are ready, which ready tags were already reported (unmask), and
// who is waiting for a reply (PRODUCT.md §3 "Polling groups and tags").
//
// It is pure bookkeeping, with no I/O, so every rule is tested without
// sockets; the agent drives it and serves the GIOP side. A request proxy
// is one polling group; create_request names others.
package poller

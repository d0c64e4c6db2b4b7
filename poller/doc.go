// Package poller keeps the polling state of the request agent: which live
// requests each polling group holds, under which request tags, which
// replies are ready, which ready tags were already reported (unmask), and
// who is waiting for a reply (docs/native-messaging.md).
//
// It is pure bookkeeping, with no I/O, so every rule is tested without
// sockets; the agent drives it and serves the GIOP side. A request proxy
// is one polling group; create_request names others.
//
// # Order
//
// A poll returns tags in the order their replies became available — the
// order of SetReady calls — not the order the requests were sent in: sent
// t0…t3 with replies after 300, 100, 200 and 0 ms, a poll returns
// [t3 t1 t2 t0]. A request inserted with its reply ready counts as ready
// when it is inserted: the replies recovered after a restart come back in
// the order recovery inserts them — creation order, the order of the
// agent's request keys — before any that arrives later.
// Masking or trashing some tags leaves the others' order as it was.
//
// # Cost
//
// A group keeps its ready, unreported replies at the head of its member
// list, in ready order, so that a poll walks them alone: it costs
// O(tags returned), whatever the group's size, and a poll with nothing
// ready costs O(1). This costs no field per request — the entry stays as
// small as RELIABILITY.md "Memory" needs — only a pointer and two counts
// per group.
//
// The registry's own lock guards only its maps, and is held for a map
// operation or two. Each group has its own lock, held for at most
// pollChunk list nodes at a time: a poll returning a million tags holds up
// no other group, and its own group's callers only until the end of a
// chunk. Members walks its group under the group's lock alone; Range lets
// the other callers in every rangeChunk requests. So one client's poll
// does not delay another client's create_request.
package poller

// Package lifecycle is the agent's lifecycle core: every move of a
// request, and of a request proxy, as a pure function from an event to
// the next state and the effects to carry out, in order. It has no
// goroutines, sockets, timers, locks or store inside; time is an input.
// The agent (package agent) is its shell: servants decode GIOP calls into
// events, and the shell carries out the effects — writes to the store,
// the premature return, the delegation, the relay of a reply, the call
// back — and feeds what happened back in as the next event.
//
// Concepts, a file each:
//
//   - state.go: State, where a request is in its life — the stored
//     states (calling among them: a callback marked, in cluster mode) and
//     the moments only memory knows (new, claimed, unstored, reading,
//     handed over, trashed)
//   - event.go: Event, what happens to a request: create, claim, accept,
//     refuse, evolve, mature, start, dispatch, answer, hand over, store,
//     pull, take, written, attempt, missed, called back, trash, expire,
//     recover
//   - effect.go: Effect and Transition: what the shell does, in order, and
//     the crash points (Point) between its durable steps
//   - request.go: Request, the facts of a request that decide its moves,
//     and Step, its transitions
//   - proxy.go: Proxy and StepProxy, a request proxy's moves
//   - retention.go: Expired, what the retentions trash at a given time
//   - errors.go: ErrNotApplicable
//
// The order of a transition's effects is the agent's promise: a premature
// return ("acknowledged") comes only after the write that stores the
// request; a request that may have run is never sent again; a read's
// deletion follows the reply reaching the socket; in cluster mode a
// callback follows its fenced mark, and a marked one is never made again
// by a restart or a takeover. The crash points sit
// between the effects, where REQUESTAGENT_CRASH_AT stops the process
// (RELIABILITY.md, "Crash points"); the tests replay every row of that
// table and of seed 003's outcome table over the transitions alone
// (testdata/*.txt), and check the order of every transition's effects
// (TestEffects_Invariants).
//
// docs/architecture.md §3 draws the state diagram; its transition table
// names the event of every move.
package lifecycle

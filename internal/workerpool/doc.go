// Package workerpool runs tasks on goroutines that are kept for the next
// task instead of exiting.
//
// A goroutine started per request begins with a small stack and grows it,
// copying, each time the request's code goes deeper; in the agent's relay
// path that growth cost a tenth of the CPU. A worker kept from an earlier
// task already has the stack. Submitting never blocks and never waits for
// a worker: with none idle, a new one starts, so a task that waits for
// another (a nested callback) cannot starve. Tasks are passed by value to
// a function fixed at creation, so submitting allocates nothing.
package workerpool

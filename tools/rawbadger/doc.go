// Package rawbadger measures what the disk allows plain Badger, with
// none of the agent's store around it: WriteRate (one writer, fixed
// transactions) and ClientWriteRate (a goroutine per caller, each waiting
// until its record is durable, coalesced into one transaction per batch).
// They are the baselines BENCHMARKS.md holds the store's group commit and
// the agent's durable acknowledgements against, measured in the same run;
// `make bench` and `requestagent bench` call them. Not part of the agent.
package rawbadger

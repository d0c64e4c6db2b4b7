// Package loadgen is the load generator behind `requestagent bench`: it
// drives an agent with many concurrent clients in one of the Native
// Messaging models and reports throughput and latency percentiles. Without
// an agent address it starts one in-process (durable or not) with an echo
// target, so one command measures the whole path on one machine.
package loadgen

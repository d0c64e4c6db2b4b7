// Package attacks holds a measurement, not a library: attacks_test.go runs
// the attacks and faults of RELIABILITY.md's "Attacks and faults from
// outside" against a real requestagent binary, one fresh process per
// attack, and prints one Markdown row per attack with what it cost the
// agent (peak resident memory, open files, goroutines, read from the
// admin listener's /metrics every 100 ms) and what an unrelated,
// well-behaved client saw meanwhile.
//
// It runs only when asked, since it is heavy (gigabytes over loopback,
// hundreds of thousands of requests) and needs root for the tmpfs of the
// disk-full case:
//
//	make attacks                                # the worktree's binary, scale 1
//	make attacks ATTACK_SCALE=10                # ten times the sizes
//	make attacks ATTACK_BINARY=/tmp/ra-base     # another binary (the old release)
//	make attacks ATTACK_ONLY=3,12               # some of the attacks
//
// or, without make, REQUESTAGENT_ATTACKS=1 and REQUESTAGENT_ATTACK_BINARY,
// _SCALE, _ONLY and _OUT (a file that receives the table as well) with
//
//	go test -run '^TestAttacks$' -count=1 -timeout 0 -v ./internal/attacks/
//
// Without REQUESTAGENT_ATTACK_BINARY the worktree's binary is built.
package attacks

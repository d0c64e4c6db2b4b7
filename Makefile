# requestagent — see README.md. Every target works on a fresh Debian machine:
# the targets that need omniORB and Combat install them first
# (scripts/install-omniorb.sh, scripts/install-combat.sh).

GO        ?= go
BIN       := bin/requestagent
PEERS     := $(CURDIR)/build/peers
FUZZTIME  ?= 20s
BENCHTIME ?= 2s
BENCHCELL ?= 1.5s
export REQUESTAGENT_PEERS := $(PEERS)

SOAK      ?= 10m

.PHONY: all build run test test-short bench bench-cluster fuzz soak cluster-soak lint deps peers clean

all: lint test

build:
	@GO=$(GO) scripts/build.sh $(BIN)

run: build
	./$(BIN)

# omniORB and Combat (Debian packages) for the interop peers; a no-op when
# present.
deps:
	@scripts/install-omniorb.sh
	@scripts/install-combat.sh

# The C++ Native Messaging library (clients/cpp) first: the NM-aware peers
# link it (testdata/peers.sh, nm_library, builds it into the same place).
peers: deps
	@$(MAKE) --no-print-directory -s -C clients/cpp BUILD=$(PEERS)/cpp
	@for set in interop idl nm tls; do testdata/$$set/build.sh $(PEERS)/$$set || exit 1; done

# Lint, then the whole suite, race detector on, interop with omniORB and
# Combat required (never skipped).
test: lint peers
	REQUESTAGENT_REQUIRE_INTEROP=1 $(GO) test -race -count=1 -timeout 20m ./...

# Unit tests only, for a quick edit loop (skips what needs omniORB).
test-short:
	$(GO) test -race -short ./...

# Go benchmarks plus the multi-process ones against omniORB; prints ratios.
# Then the comparison (omniORB direct, omniORB AMI, the agent),
# about BENCHCELL per row: rewrites its section of BENCHMARKS.md and
# docs/bench-latency.svg. Then the cluster rows (bench-cluster).
bench: peers
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	REQUESTAGENT_MAKE_BENCH=1 REQUESTAGENT_BENCH_CELL=$(BENCHCELL) \
		$(GO) test -run '^TestMakeBench$$' -count=1 -timeout 30m -v ./tools/benchsuite/
	@$(MAKE) --no-print-directory bench-cluster

# The cluster rows alone (docs/cluster.md, BENCHMARKS.md "Cluster
# mode"): durable acknowledgements on Badger, on 1 and 3 agents on three
# etcd processes, and the failover over 20 SIGKILLs at the default and the
# 2 s lease; about five minutes; rewrites its sections of both files.
# Then how often an etcd leader's loss costs a failover, by lease (printed).
bench-cluster:
	REQUESTAGENT_MAKE_BENCH=1 $(GO) test -run '^TestClusterBench$$' -count=1 -timeout 20m -v ./tools/clusterbench/
	REQUESTAGENT_MAKE_BENCH=1 $(GO) test -run '^TestClusterBench_LeaderLossTakeovers$$' -count=1 -timeout 20m -v ./cmd/requestagent/

# Every fuzz target for FUZZTIME each; new crashers land in testdata/fuzz.
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

# The crash test for SOAK (default 10m): random SIGKILLs of the real binary
# under load, and the acknowledged-request log checked at the end. Not in CI.
soak:
	REQUESTAGENT_SOAK=$(SOAK) $(GO) test -run '^TestCrash_SIGKILLUnderLoad$$' -count=1 -timeout 0 -v ./agent/

# Cluster mode under chaos (docs/cluster.md): three agents on three etcd
# processes, agents SIGKILLed and paused past their lease, etcd members
# SIGKILLed, for SOAK; every acknowledged request checked. Not in make test.
cluster-soak:
	REQUESTAGENT_CLUSTER_SOAK=$(SOAK) $(GO) test -run '^TestCluster_Soak$$' -count=1 -timeout 0 -v ./cmd/requestagent/

# The attacks and faults of RELIABILITY.md ("Attacks and faults from
# outside") against a real binary, one fresh process per attack, printed as
# a Markdown table: ATTACK_SCALE=10 for ten times the sizes, ATTACK_BINARY
# for another binary (the old release, say), ATTACK_ONLY=3,5 for some.
# Heavy (gigabytes over loopback) and root for the disk-full case. Not in CI.
ATTACK_SCALE  ?= 1
ATTACK_BINARY ?= $(CURDIR)/$(BIN)
ATTACK_ONLY   ?=
.PHONY: attacks
attacks: build
	REQUESTAGENT_ATTACKS=1 REQUESTAGENT_ATTACK_BINARY=$(ATTACK_BINARY) REQUESTAGENT_ATTACK_SCALE=$(ATTACK_SCALE) \
		REQUESTAGENT_ATTACK_ONLY=$(ATTACK_ONLY) $(GO) test -run '^TestAttacks$$' -count=1 -timeout 0 -v ./internal/attacks/

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }
	@scripts/check-no-print.sh
	@scripts/check-fuzz-corpus.sh
	@scripts/check-doc-names.sh docs/architecture.md

clean:
	rm -rf bin build

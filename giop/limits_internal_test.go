package giop

import (
	"errors"
	"strings"
	"testing"
)

// TestConfig_BudgetsFollowMaxMessageSize: the byte budgets default to
// multiples of MaxMessageSize, so raising the message size (as the agent's
// --maxMessageSize does on a DefaultConfig) keeps a valid Config in which
// the largest message can still be reassembled and buffered; values below
// MaxMessageSize, or negative counts, are refused by name.
func TestConfig_BudgetsFollowMaxMessageSize(t *testing.T) {
	d := DefaultConfig().withDefaults()
	if d.MaxReassemblyBytes != DefaultMaxReassemblyBytes || d.MaxBufferedBytes != DefaultMaxBufferedBytes ||
		d.MaxServerInFlight != DefaultMaxServerInFlight {
		t.Fatalf("defaults: reassembly %d, buffered %d, in flight %d", d.MaxReassemblyBytes, d.MaxBufferedBytes, d.MaxServerInFlight)
	}
	if n := (*Config)(nil).withDefaults().MaxBufferedBytes; n != DefaultMaxBufferedBytes {
		t.Fatalf("nil Config: MaxBufferedBytes %d", n)
	}
	big := DefaultConfig()
	big.MaxMessageSize = 128 << 20
	if err := big.Validate(); err != nil {
		t.Fatalf("DefaultConfig with a 128 MiB message size: %v", err)
	}
	if b := big.withDefaults(); b.MaxReassemblyBytes != 512<<20 || b.MaxBufferedBytes != 512<<20 || b.MaxQueuedBytes != 512<<20 {
		t.Fatalf("128 MiB messages: reassembly %d, buffered %d, queued %d; want 512 MiB each", b.MaxReassemblyBytes, b.MaxBufferedBytes, b.MaxQueuedBytes)
	}
	if d.MaxQueuedBytes != DefaultMaxQueuedBytes {
		t.Fatalf("defaults: queued %d", d.MaxQueuedBytes)
	}
	for _, tc := range []struct {
		field string
		cfg   Config
	}{
		{"MaxReassemblyBytes", Config{MaxReassemblyBytes: DefaultMaxMessageSize - 1}},
		{"MaxReassemblyBytes", Config{MaxMessageSize: 64 << 10, MaxReassemblyBytes: -1}},
		{"MaxBufferedBytes", Config{MaxMessageSize: 64 << 10, MaxBufferedBytes: 32 << 10}},
		{"MaxServerInFlight", Config{MaxServerInFlight: -1}},
		{"MaxQueuedBytes", Config{MaxMessageSize: 64 << 10, MaxQueuedBytes: 32 << 10}},
		{"MaxQueuedBytes", Config{MaxQueuedBytes: -1}},
	} {
		err := tc.cfg.Validate()
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want ErrBadConfig naming %s", tc.cfg, err, tc.field)
		}
	}
}

// TestBudget_TakeGive: a take that would pass the limit is refused whole
// and counted, leaving room for smaller ones; a nil budget allows all.
func TestBudget_TakeGive(t *testing.T) {
	b := newBudget(100)
	if !b.take(60) || b.take(41) || !b.take(40) || b.take(1) {
		t.Fatalf("takes of 60, 41, 40, 1 against 100: in use %d", b.inUse())
	}
	if b.inUse() != 100 || b.refused.Load() != 2 {
		t.Fatalf("in use %d, refused %d; want 100 and 2", b.inUse(), b.refused.Load())
	}
	b.give(60)
	b.give(40)
	if b.inUse() != 0 {
		t.Fatalf("in use %d after giving everything back", b.inUse())
	}
	var none *budget
	if !none.take(1 << 40) {
		t.Fatal("a nil budget refused")
	}
	none.give(1)
}

// TestShare_Reserve: a connection's first reservedBufferedBytes are taken
// even from a spent server budget and counted in it; beyond them the
// server's limit holds; giving back returns both.
func TestShare_Reserve(t *testing.T) {
	server := newBudget(100)
	a, b := newShare(server), newShare(server)
	if !a.take(100) || a.take(reservedBufferedBytes) {
		t.Fatalf("a took its reserve and the budget; then more: in use %d", server.inUse())
	}
	if !b.take(reservedBufferedBytes) || b.take(1) {
		t.Fatalf("b's reserve from a spent budget, then one byte beyond: in use %d", server.inUse())
	}
	if got := server.inUse(); got != 100+reservedBufferedBytes {
		t.Fatalf("server in use %d, want %d", got, 100+reservedBufferedBytes)
	}
	a.give(100)
	b.give(reservedBufferedBytes)
	if server.inUse() != 0 || a.held.Load() != 0 || b.held.Load() != 0 {
		t.Fatalf("after giving back: server %d, a %d, b %d", server.inUse(), a.held.Load(), b.held.Load())
	}
	var none *share
	if !none.take(1 << 40) {
		t.Fatal("a nil share refused")
	}
	none.give(1)
}

// TestShare_QueuedLimit: a connection's part of MaxQueuedBytes takes its
// reserve even when the server's budget is spent, never more than its
// own limit, and gives everything back.
func TestShare_QueuedLimit(t *testing.T) {
	server := newBudget(1 << 20)
	s := newQueuedShare(server, 64<<10) // limit 4 × (64 KiB + 12)
	if !server.take(1 << 20) {
		t.Fatal("filling the server's budget")
	}
	if !s.take(reservedQueuedBytes) || s.take(1) {
		t.Fatalf("with the server's budget spent: held %d, want the reserve and no more", s.held.Load())
	}
	server.give(1 << 20)
	if !s.take(int(s.limit) - reservedQueuedBytes) {
		t.Fatalf("up to the limit: held %d", s.held.Load())
	}
	server.limit = 1 << 30
	if s.take(1) {
		t.Fatalf("past the connection's limit %d: held %d", s.limit, s.held.Load())
	}
	s.give(int(s.limit))
	if s.held.Load() != 0 || server.inUse() != 0 {
		t.Fatalf("after giving back: held %d, server %d", s.held.Load(), server.inUse())
	}
}

package nm

import (
	"context"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/examples/stock"
)

// TestRecipient_BiDirReconnects: when the bidirectional connection breaks,
// the recipient opens another and announces its listen point again; a
// reply that comes meanwhile is delivered over the new connection.
func TestRecipient_BiDirReconnects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := stock.NewManager(nil)
	if err != nil {
		t.Fatal(err)
	}
	target, err := stock.Serve("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	ag, err := agent.Start(agent.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ag.Close()
	a, err := Dial(ctx, ag.Corbaloc(), WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	got := make(chan any, 2)
	rec, err := HostRecipient(ctx, a, func(ctx context.Context, holder *Object, op string, cookie []byte) error {
		res, err := holder.Invoke(ctx, nil, op)
		if err != nil {
			return err
		}
		got <- res.Return
		return nil
	}, OverBiDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	proxy, err := a.CreateRequestProxy(ctx, target.IOR(), "", rec)
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		t.Fatal(err)
	}

	rec.mu.Lock()
	old := rec.conn
	rec.mu.Unlock()
	old.Close()
	if _, err := rcv.Invoke(ctx, nil, "add_stock", "ACME", 1.0); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r != true {
			t.Fatalf("result %v", r)
		}
	case <-ctx.Done():
		t.Fatal("not delivered after the connection broke")
	}
	rec.mu.Lock()
	now := rec.conn
	rec.mu.Unlock()
	if now == old {
		t.Fatal("no new connection")
	}
}

// TestMillis: timeouts on the wire.
func TestMillis(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want uint32
	}{
		{0, 0}, {-time.Second, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1},
		{1500 * time.Microsecond, 2}, {5 * time.Second, 5000},
		{(1<<31 - 1) * time.Millisecond, 1<<31 - 1}, {(1 << 31) * time.Millisecond, 0xFFFFFFFF}, {WaitForever, 0xFFFFFFFF},
	} {
		if got := millis(c.d); got != c.want {
			t.Errorf("millis(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

package nm_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nm"
)

// TestHostRecipient: Native Messaging's callback model in both modes — a
// recipient on a loopback port, and one over a bidirectional connection
// whose IOR names an address nobody can dial. Each reply comes with its
// cookie byte for byte; the recipient pulls the real result from the
// holder (reply_not_available FALSE) inside reply_available.
func TestHostRecipient(t *testing.T) {
	for _, mode := range []string{"loopback", "bidir"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			got := make(chan string, 4)
			fn := func(ctx context.Context, holder *nm.Object, op string, cookie []byte) error {
				if holder.Kind() != nm.KindPoller {
					return fmt.Errorf("holder kind %v", holder.Kind())
				}
				var cur nm.Current
				res, err := holder.Invoke(ctx, &cur, op)
				if err != nil {
					return err
				}
				got <- fmt.Sprintf("%s %q -> %v %v (rna %v)", op, cookie, res.Return, res.Outs, cur.ReplyNotAvailable())
				return nil
			}
			var opts []nm.RecipientOption
			if mode == "bidir" {
				opts = append(opts, nm.OverBiDir())
			} else {
				opts = append(opts, nm.ListenOn("127.0.0.1:0"))
			}
			rec, err := nm.HostRecipient(e.ctx(), e.a, fn, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Close()
			prof, err := rec.IOR().IIOP()
			if err != nil || rec.IOR().TypeID != nm.ReplyRecipientID {
				t.Fatal(err)
			}
			lp, bidir := rec.ListenPoint()
			if bidir != (mode == "bidir") {
				t.Fatalf("ListenPoint bidir = %v", bidir)
			}
			if bidir && (!strings.HasSuffix(prof.Host, ".bidir.invalid") || prof.Host != lp.Host || prof.Port != lp.Port) {
				t.Fatalf("bidir recipient's IOR names %s:%d, listen point %v", prof.Host, prof.Port, lp)
			}
			if !bidir && prof.Host != "127.0.0.1" {
				t.Fatalf("loopback recipient at %s", prof.Host)
			}

			_, rcv := e.receiver(e.stock, rec)
			cur := nm.Current{Cookie: []byte("add stock")}
			e.send(rcv, &cur, "add_stock", "ACME", 100.5)
			first := <-got
			cur.Cookie = []byte("find\x00symbol\xff")
			e.send(rcv, &cur, "find_closest_symbol", "ACMA")
			second := <-got
			want := []string{
				`add_stock "add stock" -> true [] (rna false)`,
				`find_closest_symbol "find\x00symbol\xff" -> true [ACME] (rna false)`,
			}
			if !slices.Equal([]string{first, second}, want) {
				t.Fatalf("deliveries:\n%s\n%s\nwant:\n%s", first, second, strings.Join(want, "\n"))
			}
			select {
			case d := <-got:
				t.Fatalf("delivered again: %s", d)
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

// TestHostRecipient_ErrorRetried: a recipient function that fails makes
// reply_available raise; the agent calls again and the reply is delivered.
func TestHostRecipient_ErrorRetried(t *testing.T) {
	e := newEnv(t, envOpts{})
	var calls atomic.Int32
	done := make(chan bool, 1)
	rec, err := nm.HostRecipient(e.ctx(), e.a, func(ctx context.Context, holder *nm.Object, op string, cookie []byte) error {
		if calls.Add(1) == 1 {
			return errors.New("not yet")
		}
		res, err := holder.Invoke(ctx, nil, op)
		if err != nil {
			return err
		}
		done <- res.Return.(bool)
		return nil
	}, nm.OverBiDir())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	_, rcv := e.receiver(e.stock, rec)
	e.send(rcv, &nm.Current{}, "add_stock", "ACME", 1.0)
	select {
	case ok := <-done:
		if !ok || calls.Load() != 2 {
			t.Fatalf("result %v after %d calls", ok, calls.Load())
		}
	case <-e.ctx().Done():
		t.Fatal("never delivered")
	}
}

// TestHostRecipient_Misuse: no agent or function; an address that cannot
// be listened on; a closed recipient is not called.
func TestHostRecipient_Misuse(t *testing.T) {
	e := newEnv(t, envOpts{})
	fn := func(context.Context, *nm.Object, string, []byte) error { return nil }
	if _, err := nm.HostRecipient(e.ctx(), nil, fn); err == nil {
		t.Fatal("nil agent accepted")
	}
	if _, err := nm.HostRecipient(e.ctx(), e.a, nil); err == nil {
		t.Fatal("nil function accepted")
	}
	if _, err := nm.HostRecipient(e.ctx(), e.a, fn, nm.ListenOn("256.0.0.1:0")); err == nil {
		t.Fatal("bad address accepted")
	}
	rec, err := nm.HostRecipient(e.ctx(), e.a, fn)
	if err != nil {
		t.Fatal(err)
	}
	rec.Close()
	rec.Close()
	// The agent cannot reach a closed recipient: the reply stays pollable.
	_, rcv := e.receiver(e.stock, rec)
	cur := nm.Current{WaitTimeout: nm.WaitForever}
	poller := e.send(rcv, &cur, "add_stock", "A", 1.0)
	if res, err := poller.Invoke(e.ctx(), &cur, "add_stock"); err != nil || res.Return != true {
		t.Fatalf("pull with the recipient gone: %v %v", res, err)
	}
	// A bidir recipient of an agent that is gone cannot start.
	a2 := newEnv(t, envOpts{})
	a2.agent.Close()
	if _, err := nm.HostRecipient(e.ctx(), a2.a, fn, nm.OverBiDir()); !errors.Is(err, &giop.SystemException{Name: giop.ExcTransient}) {
		t.Fatalf("bidir recipient without agent: %v", err)
	}
}

// Command callback is Native Messaging's callback model in Go: the client hosts a
// NativeMessaging::ReplyRecipient, creates a request proxy with it, and
// sends two requests with cookies; for each reply the agent calls
// reply_available(holder, operation, cookie), and the recipient pulls the
// result from the holder with the same operation, inside the callback.
//
//	go run ./examples/callback [-agent REF] [-target REF] [-bidir]
//
// Without -bidir the recipient listens on a loopback port of this process
// and the agent connects to it. With -bidir it has no listening socket:
// the agent calls it back over this client's own connection (bidirectional
// GIOP), as for a client behind a firewall.
//
// Output, with the target's results (the two callbacks come in the order
// the replies do):
//
//	recipient -> loopback port   (or: bidirectional connection)
//	create_request_proxy -> RequestProxy
//	add_stock ACME 100.5 -> premature
//	find_closest_symbol ACMA -> premature
//	reply_available op=add_stock cookie=add stock
//	pulled add_stock -> TRUE
//	reply_available op=find_closest_symbol cookie=find symbol
//	pulled find_closest_symbol -> TRUE ACME
package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/nm"
)

func main() {
	bidir := flag.Bool("bidir", false, "be called back over our own connection to the agent (no listening socket)")
	stock.Main("callback", func(ctx context.Context, agentRef, target string) error {
		return run(ctx, agentRef, target, *bidir)
	})
}

var say = stock.Say

// delivery is what one reply_available call saw.
type delivery struct {
	op, cookie, result string
	err                error
}

func run(ctx context.Context, agentRef, target string, bidir bool) error {
	a, err := nm.Dial(ctx, agentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		return err
	}
	defer a.Close()

	deliveries := make(chan delivery, 4)
	recipient := func(ctx context.Context, holder *nm.Object, op string, cookie []byte) error {
		d := delivery{op: op, cookie: string(cookie)}
		var cur nm.Current
		res, err := holder.Invoke(ctx, &cur, op) // pull: the same operation, no arguments needed
		switch {
		case err != nil && cur.ReplyNotAvailable():
			d.err = fmt.Errorf("pulling %s from the holder: %w", op, err)
		case err != nil:
			d.result = "raised " + err.Error() // the target's real (exceptional) result
		case len(res.Outs) > 0:
			d.result = stock.Bool(res.Return) + " " + fmt.Sprint(res.Outs[0])
		default:
			d.result = stock.Bool(res.Return)
		}
		deliveries <- d
		return nil
	}
	mode, opts := "loopback port", []nm.RecipientOption{nm.ListenOn("127.0.0.1:0")}
	if bidir {
		mode, opts = "bidirectional connection", []nm.RecipientOption{nm.OverBiDir()}
	}
	rec, err := nm.HostRecipient(ctx, a, recipient, opts...)
	if err != nil {
		return err
	}
	defer rec.Close()
	say("recipient -> %s", mode)

	proxy, err := a.CreateRequestProxy(ctx, target, stock.RepoID, rec)
	if err != nil {
		return err
	}
	say("create_request_proxy -> RequestProxy")
	defer proxy.Destroy(context.WithoutCancel(ctx), true)
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		return err
	}

	var cur nm.Current
	for _, call := range []struct {
		cookie, op string
		args       []any
	}{
		{"add stock", "add_stock", []any{"ACME", 100.5}},
		{"find symbol", "find_closest_symbol", []any{"ACMA"}},
	} {
		cur.Cookie = []byte(call.cookie) // send a request with a cookie
		if _, err := rcv.Invoke(ctx, &cur, call.op, call.args...); err != nil {
			return err
		}
		if !cur.ReplyNotAvailable() {
			return fmt.Errorf("%s: not a premature return", call.op)
		}
		what := call.op
		for _, arg := range call.args {
			what += " " + fmt.Sprint(arg)
		}
		say("%s -> premature", what)
	}

	for range 2 {
		select {
		case d := <-deliveries:
			if d.err != nil {
				return d.err
			}
			say("reply_available op=%s cookie=%s", d.op, d.cookie)
			say("pulled %s -> %s", d.op, d.result)
		case <-ctx.Done():
			return fmt.Errorf("waiting for reply_available: %w", ctx.Err())
		}
	}
	return nil
}

// Command polling is Native Messaging's polling-pulling model in Go: two requests
// on a request proxy's typed receiver, each returning at once (a premature
// return) with a poller on the Current, and each pulled from its poller
// with the same operation until the target's real result is there.
//
//	go run ./examples/polling [-agent REF] [-target REF] [-unsuppressed]
//
// Output, with the target's results:
//
//	create_request_proxy -> RequestProxy
//	the_receiver -> StockManager (typed receiver)
//	add_stock ACME 100.5 -> premature (suppressed FALSE)
//	add_stock -> TRUE
//	find_closest_symbol ACMA -> premature (suppressed FALSE "")
//	find_closest_symbol -> TRUE ACME
//	destroyed
//
// With -unsuppressed a premature return is the RNA exception instead,
// printed "premature (REPLY_NOT_AVAILABLE)".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/nm"
)

func main() {
	unsuppressed := flag.Bool("unsuppressed", false, "premature returns as NO_RESPONSE/REPLY_NOT_AVAILABLE exceptions")
	stock.Main("polling", func(ctx context.Context, agentRef, target string) error {
		return run(ctx, agentRef, target, !*unsuppressed)
	})
}

var say = stock.Say

func run(ctx context.Context, agentRef, target string, suppress bool) error {
	a, err := nm.Dial(ctx, agentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		return err
	}
	defer a.Close()
	proxy, err := a.CreateRequestProxy(ctx, target, stock.RepoID, nil)
	if err != nil {
		return err
	}
	say("create_request_proxy -> RequestProxy")
	defer proxy.Destroy(context.WithoutCancel(ctx), true)
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		return err
	}
	say("the_receiver -> StockManager (%s)", rcv.Kind())

	var cur nm.Current
	cur.SetSuppressMode(suppress)

	poller, err := send(ctx, rcv, &cur, "add_stock", "ACME", 100.5)
	if err != nil {
		return err
	}
	res, err := pull(ctx, poller, &cur, "add_stock")
	if err != nil {
		return err
	}
	say("add_stock -> %s", stock.Bool(res.Return))

	poller, err = send(ctx, rcv, &cur, "find_closest_symbol", "ACMA")
	if err != nil {
		return err
	}
	res, err = pull(ctx, poller, &cur, "find_closest_symbol")
	if err != nil {
		return err
	}
	say("find_closest_symbol -> %s %s", stock.Bool(res.Return), res.Outs[0])

	if err := proxy.Destroy(ctx, true); err != nil {
		return err
	}
	say("destroyed")
	return nil
}

// send initiates a two-phase invocation and returns its poller.
func send(ctx context.Context, rcv *nm.Object, cur *nm.Current, op string, args ...any) (*nm.Object, error) {
	what := op
	for _, a := range args {
		what += " " + fmt.Sprint(a)
	}
	res, err := rcv.Invoke(ctx, cur, op, args...)
	switch {
	case errors.Is(err, nm.ErrReplyNotAvailable):
		say("%s -> premature (REPLY_NOT_AVAILABLE)", what)
	case err != nil:
		return nil, err
	case !cur.ReplyNotAvailable():
		return nil, fmt.Errorf("%s returned the mature result %v; want a premature return", what, res.Return)
	case len(res.Outs) > 0:
		say("%s -> premature (suppressed %s %q)", what, stock.Bool(res.Return), res.Outs[0])
	default:
		say("%s -> premature (suppressed %s)", what, stock.Bool(res.Return))
	}
	if cur.Poller() == nil {
		return nil, fmt.Errorf("%s: no poller on the Current", what)
	}
	return cur.Poller(), nil
}

// pull calls op on the poller until the reply is available, waiting up to
// a second each time (Native Messaging's loop on reply_not_available).
func pull(ctx context.Context, poller *nm.Object, cur *nm.Current, op string) (*nm.Result, error) {
	cur.WaitTimeout = time.Second
	defer func() { cur.WaitTimeout = 0 }()
	for {
		res, err := poller.Invoke(ctx, cur, op)
		if err != nil && !errors.Is(err, nm.ErrReplyNotAvailable) {
			return nil, err
		}
		if !cur.ReplyNotAvailable() {
			return res, nil
		}
	}
}

// Command waitreply is Native Messaging's "evolve into two-phase invocation" in
// Go: on a proxy created with WaitReply=TRUE, a call with a wait timeout
// returns the target's result if it comes in time (a mature return), or
// else returns prematurely and carries on as a two-phase invocation whose
// poller then gives the result.
//
//	go run ./examples/waitreply [-agent REF] [-target REF]
//
// Output (SLOW1500 takes the StockManager 1.5 s; the wait is 100 ms):
//
//	create_request_proxy WaitReply=TRUE -> RequestProxy
//	add_stock FAST -> TRUE (mature)
//	add_stock SLOW1500 -> premature (evolved into 2PI)
//	add_stock SLOW1500 -> TRUE (mature)
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/nm"
)

func main() {
	stock.Main("waitreply", run)
}

var say = stock.Say

func run(ctx context.Context, agentRef, target string) error {
	a, err := nm.Dial(ctx, agentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		return err
	}
	defer a.Close()
	proxy, err := a.CreateRequestProxy(ctx, target, stock.RepoID, nil, nm.WaitReply(true))
	if err != nil {
		return err
	}
	say("create_request_proxy WaitReply=TRUE -> RequestProxy")
	defer proxy.Destroy(context.WithoutCancel(ctx), true)
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		return err
	}

	// A fast call completes within the wait: a mature return.
	cur := nm.Current{WaitTimeout: 5 * time.Second}
	res, err := rcv.Invoke(ctx, &cur, "add_stock", "FAST", 1.0)
	if err != nil {
		return err
	}
	say("add_stock FAST -> %s (%s)", stock.Bool(res.Return), maturity(&cur))

	// A slow one does not: it evolves into a 2PI after 100 ms.
	cur.WaitTimeout = 100 * time.Millisecond
	res, err = rcv.Invoke(ctx, &cur, "add_stock", "SLOW1500", 2.0)
	if err != nil {
		return err
	}
	if !cur.ReplyNotAvailable() {
		say("add_stock SLOW1500 -> %s (mature)", stock.Bool(res.Return))
		return nil
	}
	say("add_stock SLOW1500 -> premature (evolved into 2PI)")
	poller := cur.Poller()
	if poller == nil {
		return fmt.Errorf("add_stock SLOW1500: no poller on the Current")
	}

	// Pull the real result, waiting for it.
	cur.WaitTimeout = 10 * time.Second
	res, err = poller.Invoke(ctx, &cur, "add_stock")
	if err != nil {
		return err
	}
	say("add_stock SLOW1500 -> %s (%s)", stock.Bool(res.Return), maturity(&cur))
	return nil
}

func maturity(cur *nm.Current) string {
	if cur.ReplyNotAvailable() {
		return "premature"
	}
	return "mature"
}

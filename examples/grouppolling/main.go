// Command grouppolling is Native Messaging's GroupPollingClient in Go: two tagged
// requests on one request proxy, then Poll on the proxy for the tags whose
// replies are ready, pulling each from its poller, until the polling group
// is empty; then the proxy is destroyed.
//
//	go run ./examples/grouppolling [-agent REF] [-target REF]
//
// Output, with the target's results (the two pull lines come in the order
// the replies do, and find_closest_symbol gives FALSE ACMA if the target
// ran it before add_stock):
//
//	create_request_proxy -> RequestProxy
//	the_receiver -> StockManager (typed receiver)
//	tag 0: add_stock ACME 100.5 -> premature
//	tag 1: find_closest_symbol ACMA -> premature
//	tag 0: add_stock -> TRUE
//	tag 1: find_closest_symbol -> TRUE ACME
//	poll -> PollingGroupIsEmpty
//	destroyed
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/nm"
)

func main() {
	stock.Main("grouppolling", run)
}

var say = stock.Say

// request is one tagged request: what to send, and its poller.
type request struct {
	op     string
	args   []any
	poller *nm.Object
}

func run(ctx context.Context, agentRef, target string) error {
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
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		return err
	}
	say("the_receiver -> StockManager (%s)", rcv.Kind())

	requests := map[string]*request{
		"0": {op: "add_stock", args: []any{"ACME", 100.5}},
		"1": {op: "find_closest_symbol", args: []any{"ACMA"}},
	}
	var cur nm.Current
	for _, tag := range []string{"0", "1"} {
		r := requests[tag]
		cur.RequestTag = []byte(tag) // send one tagged request
		if _, err := rcv.Invoke(ctx, &cur, r.op, r.args...); err != nil {
			return err
		}
		if !cur.ReplyNotAvailable() || cur.Poller() == nil {
			return fmt.Errorf("tag %s: %s: no premature return with a poller", tag, r.op)
		}
		r.poller = cur.Poller()
		say("tag %s: %s -> premature", tag, describe(r.op, r.args))
	}

	// Poll the proxy for ready replies and pull them, until it is empty.
	for {
		tags, err := proxy.Poll(ctx, 5*time.Second, true)
		if errors.Is(err, nm.ErrPollingGroupIsEmpty) {
			say("poll -> PollingGroupIsEmpty")
			break
		}
		if err != nil {
			return err
		}
		for _, tag := range tags {
			r := requests[string(tag)]
			if r == nil {
				return fmt.Errorf("poll reported the unknown tag %q", tag)
			}
			res, err := r.poller.Invoke(ctx, &cur, r.op)
			if err != nil {
				return fmt.Errorf("tag %s: %w", tag, err)
			}
			if cur.ReplyNotAvailable() {
				return fmt.Errorf("tag %s: poll reported it ready, and its poller gave no reply", tag)
			}
			if len(res.Outs) > 0 {
				say("tag %s: %s -> %s %s", tag, r.op, stock.Bool(res.Return), res.Outs[0])
			} else {
				say("tag %s: %s -> %s", tag, r.op, stock.Bool(res.Return))
			}
		}
	}
	if err := proxy.Destroy(ctx, true); err != nil {
		return err
	}
	say("destroyed")
	return nil
}

// describe formats a call as "op arg1 arg2".
func describe(op string, args []any) string {
	for _, a := range args {
		op += " " + fmt.Sprint(a)
	}
	return op
}

package nm_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/nm"
)

// The examples run against an in-process agent and a Go StockManager
// target (startDemo, in demo_test.go). StockManager is Native Messaging's:
//
//	interface StockManager {
//	  boolean add_stock(in string symbol, in double quote);
//	  boolean find_closest_symbol(inout string symbol);
//	};

// The polling-pulling model: a call on the proxy's typed receiver returns
// at once (a premature return, in suppressed mode with zero values) and
// leaves a poller on the Current; the same operation on the poller pulls
// the target's real result.
func ExampleProxy_polling() {
	demo := startDemo()
	defer demo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a, err := nm.Dial(ctx, demo.AgentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	proxy, err := a.CreateRequestProxy(ctx, demo.Target, stock.RepoID, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}

	var cur nm.Current // suppressed mode, no tag, no cookie
	res, err := rcv.Invoke(ctx, &cur, "add_stock", "ACME", 100.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("add_stock ->", res.Return, "| reply not available:", cur.ReplyNotAvailable())

	poller := cur.Poller()
	cur.WaitTimeout = nm.WaitForever // block until the reply is there
	res, err = poller.Invoke(ctx, &cur, "add_stock")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("pulled add_stock ->", res.Return, "| reply not available:", cur.ReplyNotAvailable())

	// inout parameters come back in Result.Outs.
	if _, err := rcv.Invoke(ctx, &cur, "find_closest_symbol", "ACMA"); err != nil {
		fmt.Println(err)
		return
	}
	findPoller := cur.Poller()
	res, err = findPoller.Invoke(ctx, &cur, "find_closest_symbol")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("pulled find_closest_symbol ->", res.Return, res.Outs[0])

	// Another operation on a poller is a polling failure, not a result
	// (and once its reply is read, the request is trashed).
	_, err = findPoller.Invoke(ctx, &cur, "add_stock")
	fmt.Println(errors.Is(err, nm.ErrWrongOperation) || errors.Is(err, nm.ErrRequestTrashed), cur.ReplyNotAvailable())

	if err := proxy.Destroy(ctx, true); err != nil {
		fmt.Println(err)
	}
	// Output:
	// add_stock -> false | reply not available: true
	// pulled add_stock -> true | reply not available: false
	// pulled find_closest_symbol -> true ACME
	// true true
}

// Group polling, as Native Messaging's GroupPollingClient: tagged requests on one
// proxy, then poll the proxy for the tags whose replies are ready and pull
// each from its poller, until the group is empty.
func ExampleAgent_groupPolling() {
	demo := startDemo()
	defer demo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a, err := nm.Dial(ctx, demo.AgentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	proxy, err := a.CreateRequestProxy(ctx, demo.Target, stock.RepoID, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}

	var cur nm.Current
	pollers := map[string]*nm.Object{}
	cur.RequestTag = []byte("0")
	if _, err := rcv.Invoke(ctx, &cur, "add_stock", "ACME", 100.5); err != nil {
		fmt.Println(err)
		return
	}
	pollers["0"] = cur.Poller()
	cur.RequestTag = []byte("1")
	if _, err := rcv.Invoke(ctx, &cur, "find_closest_symbol", "ACMA"); err != nil {
		fmt.Println(err)
		return
	}
	pollers["1"] = cur.Poller()

	var results []string
	for {
		tags, err := proxy.Poll(ctx, 5*time.Second, true)
		if errors.Is(err, nm.ErrPollingGroupIsEmpty) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, tag := range tags {
			op := map[string]string{"0": "add_stock", "1": "find_closest_symbol"}[string(tag)]
			res, err := pollers[string(tag)].Invoke(ctx, &cur, op)
			if err != nil {
				fmt.Println(err)
				return
			}
			results = append(results, fmt.Sprintf("tag %s: %s -> %v %v", tag, op, res.Return, res.Outs))
		}
	}
	sort.Strings(results) // poll reports tags in the order the replies came
	for _, r := range results {
		fmt.Println(r)
	}
	if err := proxy.Destroy(ctx, true); err != nil {
		fmt.Println(err)
	}
	// Output:
	// tag 0: add_stock -> true []
	// tag 1: find_closest_symbol -> true [ACME]
}

// The request-object model: create_request makes an object with the
// target's interface; its first call sends the request, later calls with
// the same operation pull the reply. Agent.Poll reports the tags of a
// polling group.
func ExampleAgent_CreateRequest() {
	demo := startDemo()
	defer demo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a, err := nm.Dial(ctx, demo.AgentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	req, err := a.CreateRequest(ctx, nm.RequestDesc{Target: demo.Target, PollingGroup: "demo", RequestTag: []byte("acme")})
	if err != nil {
		fmt.Println(err)
		return
	}
	var cur nm.Current
	if _, err := req.Invoke(ctx, &cur, "add_stock", "ACME", 100.5); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("sent; reply not available:", cur.ReplyNotAvailable())

	tags, err := a.Poll(ctx, "demo", nm.WaitForever, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("ready: %s\n", tags)
	res, err := req.Invoke(ctx, &cur, "add_stock", "ACME", 100.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("add_stock ->", res.Return, "| reply not available:", cur.ReplyNotAvailable())
	// Output:
	// sent; reply not available: true
	// ready: [acme]
	// add_stock -> true | reply not available: false
}

// The callback model: the agent calls the recipient's reply_available with
// a reply holder, and the recipient pulls the result from it with the
// request's own operation, inside the callback. This recipient listens on
// a loopback port of the client's process.
func ExampleHostRecipient() {
	demo := startDemo()
	defer demo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a, err := nm.Dial(ctx, demo.AgentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()

	delivered := make(chan string, 1)
	rec, err := nm.HostRecipient(ctx, a, func(ctx context.Context, holder *nm.Object, op string, cookie []byte) error {
		var cur nm.Current
		res, err := holder.Invoke(ctx, &cur, op)
		if err != nil {
			return err // the agent calls again later
		}
		delivered <- fmt.Sprintf("reply_available op=%s cookie=%q -> %v (reply not available: %v)",
			op, cookie, res.Return, cur.ReplyNotAvailable())
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rec.Close()

	proxy, err := a.CreateRequestProxy(ctx, demo.Target, stock.RepoID, rec)
	if err != nil {
		fmt.Println(err)
		return
	}
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	cur := nm.Current{Cookie: []byte("add stock")}
	if _, err := rcv.Invoke(ctx, &cur, "add_stock", "ACME", 100.5); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("add_stock -> premature:", cur.ReplyNotAvailable())
	fmt.Println(<-delivered)
	// Output:
	// add_stock -> premature: true
	// reply_available op=add_stock cookie="add stock" -> true (reply not available: false)
}

// A recipient behind a firewall: no listening socket. The agent calls
// reply_available over the recipient's own connection to it, offered for
// bidirectional GIOP; the address in the recipient's IOR is only a name.
func ExampleOverBiDir() {
	demo := startDemo()
	defer demo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a, err := nm.Dial(ctx, demo.AgentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	delivered := make(chan string, 1)
	rec, err := nm.HostRecipient(ctx, a, func(ctx context.Context, holder *nm.Object, op string, cookie []byte) error {
		res, err := holder.Invoke(ctx, nil, op, "ACMA")
		if err != nil {
			return err
		}
		delivered <- fmt.Sprintf("%s cookie=%q -> %v %v", op, cookie, res.Return, res.Outs[0])
		return nil
	}, nm.OverBiDir())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rec.Close()
	lp, _ := rec.ListenPoint()
	fmt.Println("listen point is a name:", lp.Port == 1 && len(lp.Host) > len(".bidir.invalid"))

	proxy, err := a.CreateRequestProxy(ctx, demo.Target, stock.RepoID, rec)
	if err != nil {
		fmt.Println(err)
		return
	}
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	cur := nm.Current{Cookie: []byte("find symbol")}
	if _, err := rcv.Invoke(ctx, &cur, "find_closest_symbol", "ACMA"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-delivered)
	// Output:
	// listen point is a name: true
	// find_closest_symbol cookie="find symbol" -> false ACMA
}

// Evolving into a two-phase invocation: on a WaitReply proxy, a call with
// a wait timeout returns the mature result if the target answers in time,
// else a premature return with a poller, and the request carries on as a
// 2PI.
func ExampleCurrent_waitReply() {
	demo := startDemo()
	defer demo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a, err := nm.Dial(ctx, demo.AgentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	proxy, err := a.CreateRequestProxy(ctx, demo.Target, stock.RepoID, nil, nm.WaitReply(true))
	if err != nil {
		fmt.Println(err)
		return
	}
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}

	cur := nm.Current{WaitTimeout: 10 * time.Second}
	res, err := rcv.Invoke(ctx, &cur, "add_stock", "FAST", 1.0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("add_stock FAST ->", res.Return, "| evolved into a 2PI:", cur.ReplyNotAvailable())

	// The target takes 500 ms over SLOW500; we wait 50.
	cur.WaitTimeout = 50 * time.Millisecond
	res, err = rcv.Invoke(ctx, &cur, "add_stock", "SLOW500", 2.0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("add_stock SLOW500 ->", res.Return, "| evolved into a 2PI:", cur.ReplyNotAvailable())

	cur.WaitTimeout = nm.WaitForever
	res, err = cur.Poller().Invoke(ctx, &cur, "add_stock")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("pulled add_stock SLOW500 ->", res.Return, "| reply not available:", cur.ReplyNotAvailable())
	// Output:
	// add_stock FAST -> true | evolved into a 2PI: false
	// add_stock SLOW500 -> false | evolved into a 2PI: true
	// pulled add_stock SLOW500 -> true | reply not available: false
}

// Unsuppressed mode: a premature return is an RNA exception, and the
// Current still tells it from a failure.
func ExampleCurrent_SetSuppressMode() {
	demo := startDemo()
	defer demo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	a, err := nm.Dial(ctx, demo.AgentRef, nm.WithIDLSource("StockManager.idl", stock.IDL))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	proxy, err := a.CreateRequestProxy(ctx, demo.Target, stock.RepoID, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	rcv, err := proxy.Receiver(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	var cur nm.Current
	cur.SetSuppressMode(false)
	_, err = rcv.Invoke(ctx, &cur, "add_stock", "ACME", 100.5)
	fmt.Println(errors.Is(err, nm.ErrReplyNotAvailable), cur.ReplyNotAvailable(), cur.Poller() != nil)
	fmt.Println(err)
	// Output:
	// true true true
	// nm: add_stock: CORBA::NO_RESPONSE minor=0x4e4d0001 completed=COMPLETED_NO
}

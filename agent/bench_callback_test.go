package agent_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// BenchmarkCallbacks measures the callback model end to end: requests sent
// through a proxy whose recipient is a Go ReplyRecipient, which pulls each
// result through its reply holder inside reply_available. The recipient is
// reached by its address (a connection the agent opens) or over the
// client's own bidirectional connection (its advertised address is
// closed). Reports callbacks per second; the omniORB recipient's figures are
// in testdata/nm/README.md.
func BenchmarkCallbacks(b *testing.B) {
	for _, mode := range []string{"by-address", "bidir"} {
		b.Run(mode, func(b *testing.B) { benchCallbacks(b, mode == "bidir") })
	}
}

type benchRecipient struct {
	client *giop.Client
	n      atomic.Int64
	done   chan struct{}
	want   int64
}

func (r *benchRecipient) RepositoryID() string { return agent.ReplyRecipientID }

func (r *benchRecipient) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	holder := req.Args.IOR()
	op := req.Args.String()
	req.Args.Octets()
	if err := req.ArgsErr(); err != nil {
		return err
	}
	if _, err := r.client.Invoke(ctx, holder, &giop.Invocation{Operation: op, Args: stringArg("x"),
		Contexts: waitCtx(0)}); err != nil {
		return err
	}
	if r.n.Add(1) == r.want {
		close(r.done)
	}
	return nil
}

func benchCallbacks(b *testing.B, bidir bool) {
	port := peers.FreePort(b)
	srv := peers.Start(b, "echo_server", peers.Endpoint(port)...)
	target, err := giop.ParseIOR(srv.Line(b, 20*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	client := giop.NewClient(nil)
	defer client.Close()
	rec := &benchRecipient{client: client, done: make(chan struct{}), want: int64(b.N)}
	ad := giop.NewAdapter()
	ad.Register([]byte("Recipient"), rec)
	var recipientAddr *net.TCPAddr
	if bidir {
		closed := peers.ClosedPort(b)
		client.OfferBiDir(ad, []giop.ListenPoint{{Host: "127.0.0.1", Port: uint16(closed)}})
		recipientAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: closed}
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		rs := giop.NewServer(nil, ad)
		go rs.Serve(ln)
		defer rs.Close()
		recipientAddr = ln.Addr().(*net.TCPAddr)
	}
	recipientRef := giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(recipientAddr.Port), ObjectKey: []byte("Recipient")})
	ctx := context.Background()
	_, rcv := proxyAndReceiver(b, client, a.IOR(), target, recipientRef)
	send := reqInfoCtx("", "cookie", 0, false)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		resp, err := client.Invoke(ctx, rcv, &giop.Invocation{Operation: "echoString", Args: stringArg("x"), Contexts: send, RawReply: true})
		if err != nil {
			b.Fatal(err)
		}
		if c, ok, _ := nmproto.Find(resp.Header.ServiceContexts); !ok || c.Kind != nmproto.KindThePoller {
			b.Fatal("no premature return")
		}
	}
	select {
	case <-rec.done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("only %d of %d callbacks", rec.n.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "callbacks/s")
	if f := a.RecipientFailures(); len(f) > 0 {
		b.Fatal(fmt.Sprint("callbacks failed: ", f))
	}
}

// BenchmarkCallbacksOmniORB: the same callback model with the omniORB
// recipient of testdata/nm (recipient_client --bench), reached by address
// or over its own bidirectional connection (its published address is
// closed), against the omniORB StockManager target. Reports callbacks/s as
// the recipient measured them; runs once whatever b.N is.
func BenchmarkCallbacksOmniORB(b *testing.B) {
	tport := peers.FreePort(b)
	srv := peers.StartNM(b, "stock_server", peers.Endpoint(tport)...)
	target := srv.Line(b, 20*time.Second)
	for _, mode := range []string{"by-address", "bidir"} {
		b.Run(mode, func(b *testing.B) {
			a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0"})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			args := []string{"-ORBendPoint", fmt.Sprintf("giop:tcp:127.0.0.1:%d", peers.FreePort(b))}
			if mode == "bidir" {
				args = append([]string{"--bidir"}, append(args, "-ORBendPointPublish",
					fmt.Sprintf("giop:tcp:127.0.0.1:%d", peers.ClosedPort(b)), "-ORBconnectionWatchImmediate", "1")...)
			}
			const n = 2000
			args = append(args, "--bench", fmt.Sprint(n), a.IOR().String(), target)
			p := peers.StartNM(b, "recipient_client", args...)
			lines, err := p.Wait(b, 3*time.Minute)
			if err != nil {
				b.Fatalf("recipient_client: %v\n%s", err, p.Output())
			}
			for _, l := range lines {
				if f := peers.Fields(l); f["callbacks_per_s"] != "" {
					var v float64
					fmt.Sscan(f["callbacks_per_s"], &v)
					b.ReportMetric(v, "callbacks/s")
					return
				}
			}
			b.Fatalf("no BENCH line:\n%s", p.Output())
		})
	}
}

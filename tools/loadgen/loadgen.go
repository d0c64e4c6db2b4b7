package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// Models of invocation.
const (
	ModelWaitReply = "waitreply" // one call, mature within the wait
	Model2PI       = "2pi"       // premature return, then a pull on the poller
	ModelGroup     = "group"     // tagged sends, then proxy polls and pulls
	ModelCallback  = "callback"  // replies delivered to a recipient, pulled through the holder
	// ModelSend times only a 2PI's send, up to its premature return: the
	// agent's durable acknowledgement. Every reply is pulled after the timed
	// part, and reported apart.
	ModelSend = "send"
)

// Config describes a run.
type Config struct {
	// Agent is the agent's corbaloc or IOR; empty starts one in-process.
	Agent string
	// Target is the target's IOR; empty starts an echo target in-process.
	Target string
	// Model is one of the Model constants. Default waitreply.
	Model string
	// Clients is the number of concurrent clients. Default 16.
	Clients int
	// Count is the number of calls in all; if 0, Duration bounds the run.
	Count int
	// Duration bounds the run when Count is 0. Default 10s.
	Duration time.Duration
	// Size is the payload in bytes (echoBlob); 0 calls echoString("x").
	Size int
	// Durable applies to an in-process agent: flush each group commit.
	Durable bool
	// DataDir is where an in-process durable agent stores; default a temp dir.
	DataDir string
	// Timing, when set, is called just before the timed calls start
	// (true) and just after the last ends (false), before the send
	// model's pulls: a caller reads its processes' CPU time there, so that
	// a figure per call counts the calls timed, not the proxies made
	// first or the pulls after (tools/clusterbench).
	Timing func(begin bool)
}

// Result is what a run measured.
type Result struct {
	Calls, Errors      int64
	Elapsed            time.Duration
	P50, P90, P99, Max time.Duration
	PerSecond          float64
	// Pulled, PullErrors and PullElapsed are the send model's pulls after
	// the timed part: replies received, pulls that failed, and how long
	// they took.
	Pulled, PullErrors int64
	PullElapsed        time.Duration
	// Store is what the in-process agent's store did during the timed
	// part (nil when the agent runs elsewhere).
	Store *storage.Stats
}

// String formats the result as one report block.
func (r Result) String() string {
	s := fmt.Sprintf("%d calls in %v: %.0f calls/s, %d errors\nlatency p50 %v  p90 %v  p99 %v  max %v",
		r.Calls, r.Elapsed.Round(time.Millisecond), r.PerSecond, r.Errors,
		r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
	if st := r.Store; st != nil && st.Groups > 0 && r.Calls > 0 {
		s += fmt.Sprintf("\nstore: %.1f entries and %.2f commits per call, %.1f commits per flush; committer busy %.0f%% of the time, %v per flush",
			float64(st.Entries)/float64(r.Calls), float64(st.Commits)/float64(r.Calls), float64(st.Commits)/float64(st.Groups),
			100*st.Busy.Seconds()/r.Elapsed.Seconds(), (st.Busy / time.Duration(st.Groups)).Round(time.Microsecond))
	}
	if r.Pulled > 0 || r.PullErrors > 0 {
		// The sends alone can outrun the target; what the agent sustains
		// end to end is sends and pulls over both phases.
		s += fmt.Sprintf("\nthen %d replies pulled in %v, %d errors; end to end %.0f 2PIs/s",
			r.Pulled, r.PullElapsed.Round(time.Millisecond), r.PullErrors, float64(r.Pulled)/(r.Elapsed+r.PullElapsed).Seconds())
	}
	return s
}

// echoTarget is Demo::Echo (testdata/interop/demo.idl): echoString and echoBlob.
type echoTarget struct{}

func (echoTarget) RepositoryID() string { return "IDL:Demo/Echo:1.0" }
func (echoTarget) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	switch r.Operation() {
	case "echoString":
		s := r.Args.String()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		r.Results().WriteString(s)
	case "echoBlob":
		b := r.Args.OctetsNoCopy()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		r.Results().WriteOctets(b)
	default:
		return giop.BadOperation(r.Operation())
	}
	return nil
}

// recipient counts callbacks and pulls each result through its holder.
type recipient struct {
	client *giop.Client
	args   func(*giop.Encoder)
	done   chan struct{} // one token per callback delivered
}

func (r *recipient) RepositoryID() string { return agent.ReplyRecipientID }
func (r *recipient) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	holder := req.Args.IOR()
	op := req.Args.String()
	req.Args.Octets()
	if err := req.ArgsErr(); err != nil {
		return err
	}
	_, err := r.client.Invoke(ctx, holder, &giop.Invocation{Operation: op, Args: r.args})
	r.done <- struct{}{}
	return err
}

// Run runs the load and reports on w as it goes (start and end lines).
func Run(ctx context.Context, cfg Config, w io.Writer) (Result, error) {
	if cfg.Model == "" {
		cfg.Model = ModelWaitReply
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 16
	}
	if cfg.Count == 0 && cfg.Duration == 0 {
		cfg.Duration = 10 * time.Second
	}
	switch cfg.Model {
	case ModelWaitReply, Model2PI, ModelGroup, ModelCallback, ModelSend:
	default:
		return Result{}, fmt.Errorf("loadgen: unknown model %q (waitreply, 2pi, group, callback, send)", cfg.Model)
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	serve := func(key string, s giop.Servant, typeID string) (*giop.IOR, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ad := giop.NewAdapter()
		ad.Register([]byte(key), s)
		srv := giop.NewServer(nil, ad)
		go srv.Serve(ln)
		cleanups = append(cleanups, func() { srv.Close() })
		return giop.NewIOR(typeID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
			Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte(key),
			Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}}), nil
	}
	target, err := parseRef(cfg.Target)
	if err != nil {
		return Result{}, fmt.Errorf("loadgen: --target: %w", err)
	}
	if target == nil {
		if target, err = serve("Echo", echoTarget{}, "IDL:Demo/Echo:1.0"); err != nil {
			return Result{}, err
		}
	}
	agentRef, err := parseRef(cfg.Agent)
	if err != nil {
		return Result{}, fmt.Errorf("loadgen: --agent: %w", err)
	}
	var storeStats func() storage.Stats
	if agentRef == nil {
		scfg := storage.Config{InMemory: true}
		if cfg.Durable {
			scfg = storage.Config{Dir: cfg.DataDir, Durable: true}
		}
		a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", Store: scfg})
		if err != nil {
			return Result{}, err
		}
		cleanups = append(cleanups, func() { a.Close() })
		agentRef = a.IOR()
		storeStats = a.StoreStats
		fmt.Fprintf(w, "in-process agent (durable=%v) on %s\n", cfg.Durable, a.Corbaloc())
	}
	client := giop.NewClient(nil)
	cleanups = append(cleanups, func() { client.Close() })

	op, args := "echoString", func(e *giop.Encoder) { e.WriteString("x") }
	if cfg.Size > 0 {
		payload := make([]byte, cfg.Size)
		op, args = "echoBlob", func(e *giop.Encoder) { e.WriteOctets(payload) }
	}
	var rec *recipient
	var recipientRef *giop.IOR
	if cfg.Model == ModelCallback {
		rec = &recipient{client: client, args: args, done: make(chan struct{}, 1<<16)}
		if recipientRef, err = serve("Recipient", rec, agent.ReplyRecipientID); err != nil {
			return Result{}, err
		}
	}
	call := func(ctx context.Context, ref *giop.IOR, op string, ctxs giop.ServiceContextList, args func(*giop.Encoder)) (*giop.Response, error) {
		return client.Invoke(ctx, ref, &giop.Invocation{Operation: op, Args: args, Contexts: ctxs, RawReply: true})
	}
	props := func(e *giop.Encoder) {
		if cfg.Model == ModelWaitReply {
			e.WriteULong(1)
			e.WriteString(nmproto.PropWaitReply)
			e.WriteAny(giop.Any{Type: giop.TCBoolean, Value: true})
			return
		}
		e.WriteULong(0)
	}
	// One proxy per client, so group polls see only their own tags.
	type worker struct{ proxy, rcv *giop.IOR }
	workers := make([]worker, cfg.Clients)
	for i := range workers {
		resp, err := call(ctx, agentRef, "create_request_proxy", nil, func(e *giop.Encoder) {
			e.WriteIOR(target)
			e.WriteString("")
			e.WriteIOR(recipientRef)
			props(e)
		})
		if err != nil {
			return Result{}, fmt.Errorf("loadgen: create_request_proxy: %w", err)
		}
		if resp.Header.Status != giop.ReplyNoException {
			return Result{}, fmt.Errorf("loadgen: create_request_proxy: %v", resp.Header.Status)
		}
		workers[i].proxy = resp.Result.IOR()
		if resp, err = call(ctx, workers[i].proxy, "_get_the_receiver", nil, nil); err != nil {
			return Result{}, err
		}
		workers[i].rcv = resp.Result.IOR()
	}
	encode := func(c nmproto.Context) giop.ServiceContextList { return giop.ServiceContextList{c.Encode()} }
	waitReply := encode(nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{WaitTimeout: 30000}})
	send := encode(nmproto.Context{Kind: nmproto.KindReqInfo})
	pull := encode(nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: nmproto.WaitForever})

	pullOne := func(ctx context.Context, poller *giop.IOR) error {
		resp, err := call(ctx, poller, op, pull, args)
		if err == nil && resp.Header.Status != giop.ReplyNoException {
			err = fmt.Errorf("pull status %v", resp.Header.Status)
		}
		return err
	}
	// pollers holds each send-model client's pollers for after the timed part.
	pollers := make([][]*giop.IOR, cfg.Clients)
	one := func(ctx context.Context, w worker, i, n int) error {
		switch cfg.Model {
		case ModelWaitReply:
			resp, err := call(ctx, w.rcv, op, waitReply, args)
			if err == nil && resp.Header.Status != giop.ReplyNoException {
				err = fmt.Errorf("status %v", resp.Header.Status)
			}
			return err
		case Model2PI, ModelGroup, ModelCallback, ModelSend:
			ctxs := send
			if cfg.Model == ModelGroup {
				ctxs = encode(nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{RequestTag: []byte(fmt.Sprint(n))}})
			}
			resp, err := call(ctx, w.rcv, op, ctxs, args)
			if err != nil {
				return err
			}
			c, ok, _ := nmproto.Find(resp.Header.ServiceContexts)
			if !ok || c.Kind != nmproto.KindThePoller {
				return errors.New("no premature return")
			}
			switch cfg.Model {
			case ModelSend:
				pollers[i] = append(pollers[i], c.ThePoller)
				return nil
			case ModelCallback:
				select {
				case <-rec.done:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			case ModelGroup:
				if _, err := call(ctx, w.proxy, "poll", nil, func(e *giop.Encoder) { e.WriteULong(nmproto.WaitForever); e.WriteBool(true) }); err != nil {
					return err
				}
			}
			return pullOne(ctx, c.ThePoller)
		}
		return nil
	}

	fmt.Fprintf(w, "model %s, %d clients, payload %d B\n", cfg.Model, cfg.Clients, cfg.Size)
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
		deadline time.Time
	)
	if cfg.Count == 0 {
		deadline = time.Now().Add(cfg.Duration)
	}
	var before storage.Stats
	if storeStats != nil {
		before = storeStats()
	}
	if cfg.Timing != nil {
		cfg.Timing(true)
	}
	start := time.Now()
	for i := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			for {
				n := int(next.Add(1))
				if (cfg.Count > 0 && n > cfg.Count) || (cfg.Count == 0 && time.Now().After(deadline)) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := one(ctx, workers[i], i, n); err != nil {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	res := Result{Elapsed: time.Since(start), Errors: errs.Load(), Calls: int64(len(lat))}
	if cfg.Timing != nil {
		cfg.Timing(false)
	}
	if storeStats != nil {
		after := storeStats()
		res.Store = &storage.Stats{Commits: after.Commits - before.Commits, Groups: after.Groups - before.Groups,
			Entries: after.Entries - before.Entries, Busy: after.Busy - before.Busy}
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
		res.P50, res.P90, res.P99, res.Max = at(0.50), at(0.90), at(0.99), lat[len(lat)-1]
		res.PerSecond = float64(len(lat)) / res.Elapsed.Seconds()
	}
	if cfg.Model == ModelSend {
		var pulled, pullErrs atomic.Int64
		start := time.Now()
		for i := range cfg.Clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, p := range pollers[i] {
					if err := pullOne(ctx, p); err != nil {
						pullErrs.Add(1)
						continue
					}
					pulled.Add(1)
				}
			}()
		}
		wg.Wait()
		res.Pulled, res.PullErrors, res.PullElapsed = pulled.Load(), pullErrs.Load(), time.Since(start)
	}
	return res, nil
}

func parseRef(s string) (*giop.IOR, error) {
	if s == "" {
		return nil, nil
	}
	if loc, err := giop.ParseCorbaloc(s); err == nil {
		return loc.IOR(""), nil
	}
	return giop.ParseIOR(s)
}

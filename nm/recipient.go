package nm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/timerpool"
	"github.com/requestagent/requestagent/nmproto"
)

// RecipientFunc handles one reply_available call: the reply of a request
// whose operation was operation, and whose cookie was cookie, is ready.
// It pulls the result by invoking that same operation on holder — a
// nested call into the agent, with holder.Invoke — before returning; the
// holder is valid only until then (afterwards ErrReplyHolderExpired).
//
// Returning an error makes reply_available raise (a *giop.SystemException
// as is, anything else as UNKNOWN), and the agent calls again later,
// within its retry budget; after that the reply is left for polling.
// Calls may come concurrently, one per ready reply.
type RecipientFunc func(ctx context.Context, holder *Object, operation string, cookie []byte) error

// RecipientOption configures HostRecipient.
type RecipientOption func(*recipientOptions)

type recipientOptions struct {
	listen string
	bidir  bool
}

// ListenOn hosts the recipient on the client's own GIOP server at addr
// (default "127.0.0.1:0", a loopback port): the agent opens a connection
// to the address in the recipient's IOR to call it back, so the agent must
// be able to reach it.
func ListenOn(addr string) RecipientOption {
	return func(o *recipientOptions) { o.listen, o.bidir = addr, false }
}

// OverBiDir hosts the recipient without a listening socket, for a client
// behind a firewall or NAT: the Recipient opens its own connection to the
// agent and offers bidirectional GIOP on it (BI_DIR_IIOP), announcing a
// listen point that is only a name — a host of 128 random bits under the
// reserved .invalid domain, which nothing can dial. The recipient's IOR
// names that listen point, so the agent can deliver reply_available only
// over that connection (it never dials an announced listen point), and
// nobody can guess the address to divert the callbacks. If the connection
// breaks, the Recipient reconnects, announces again and hands itself over
// again (the agent's bind_recipient), so callbacks due meanwhile — and
// those the agent gave up on while it was away — are delivered over the
// new connection. Proxies and requests made with such a recipient are
// created over its connection: the agent calls a recipient back over the
// connection that handed it over and announced its address, and no other.
func OverBiDir() RecipientOption { return func(o *recipientOptions) { o.bidir = true } }

// Recipient is a NativeMessaging::ReplyRecipient hosted in this process.
// Pass it as the recipient of Agent.CreateRequestProxy or of a
// RequestDesc; Close it when done.
type Recipient struct {
	agent *Agent
	fn    RecipientFunc
	ref   *giop.IOR
	key   []byte

	srv   *giop.Server     // ListenOn
	bidir *giop.Client     // OverBiDir
	lp    giop.ListenPoint // OverBiDir

	mu   sync.Mutex // guards conn
	conn *giop.Conn // OverBiDir: the connection announcing lp

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// HostRecipient hosts fn as a ReplyRecipient for replies from agent a,
// either on a loopback port of this process (the default, ListenOn) or
// over a bidirectional connection to the agent (OverBiDir); ctx bounds
// opening that connection. Holders handed to fn are called through a.
func HostRecipient(ctx context.Context, a *Agent, fn RecipientFunc, opts ...RecipientOption) (*Recipient, error) {
	const what = "host recipient"
	if a == nil || fn == nil {
		return nil, wrap(what, errors.New("nil agent or function"))
	}
	o := recipientOptions{listen: "127.0.0.1:0"}
	for _, opt := range opts {
		opt(&o)
	}
	r := &Recipient{agent: a, fn: fn, key: []byte("nm-recipient-" + randomHex())}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	ad := giop.NewAdapter()
	ad.Register(r.key, recipientServant{r})
	if o.bidir {
		if err := r.startBiDir(ctx, ad); err != nil {
			r.Close()
			return nil, wrap(what, err)
		}
		return r, nil
	}
	if err := r.listen(o.listen, ad); err != nil {
		r.Close()
		return nil, wrap(what, err)
	}
	return r, nil
}

// IOR returns the recipient's reference.
func (r *Recipient) IOR() *giop.IOR { return r.ref }

// ListenPoint returns the listen point a bidirectional recipient
// announces, and false for one hosted on a port.
func (r *Recipient) ListenPoint() (giop.ListenPoint, bool) { return r.lp, r.bidir != nil }

// Close stops serving: reply_available calls in progress are ended and
// the agent will retry undelivered replies (or leave them for polling).
// It is idempotent.
func (r *Recipient) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		if r.srv != nil {
			r.srv.Close()
		}
		if r.bidir != nil {
			r.bidir.Close()
		}
		r.wg.Wait()
	})
	return nil
}

// listen serves the adapter on a TCP address of this process.
func (r *Recipient) listen(addr string, ad *giop.Adapter) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	r.srv = giop.NewServer(r.agent.cfg, ad)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.srv.Serve(ln)
	}()
	tcp := ln.Addr().(*net.TCPAddr)
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	r.ref = giop.NewIOR(ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: host,
		Port: uint16(tcp.Port), ObjectKey: r.key, Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})
	return nil
}

// startBiDir opens the bidirectional connection and keeps it open.
func (r *Recipient) startBiDir(ctx context.Context, ad *giop.Adapter) error {
	r.lp = giop.ListenPoint{Host: randomHex() + ".bidir.invalid", Port: 1}
	r.ref = giop.NewIOR(ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: r.lp.Host,
		Port: r.lp.Port, ObjectKey: r.key, Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})
	r.bidir = giop.NewClient(r.agent.cfg)
	r.bidir.OfferBiDir(ad, []giop.ListenPoint{r.lp})
	conn, err := r.announce(ctx)
	if err != nil {
		return err
	}
	r.setConn(conn)
	r.wg.Add(1)
	go r.keepConnected(conn)
	return nil
}

// announce makes a call to the agent over the bidirectional client, which
// opens its connection (GIOP 1.2, whatever the agent's reference says, as
// bidirectional GIOP needs) and announces the listen point on it.
func (r *Recipient) announce(ctx context.Context) (*giop.Conn, error) {
	ref := r.agent.ref
	if prof, err := ref.IIOP(); err == nil && prof.Version != giop.V1_2 {
		p := *prof
		p.Version = giop.V1_2
		ref = giop.NewIOR(ref.TypeID, &p)
	}
	resp, err := r.bidir.Invoke(ctx, ref, &giop.Invocation{Operation: "_non_existent"})
	if err != nil {
		return nil, fmt.Errorf("opening the bidirectional connection to the agent: %w", err)
	}
	return resp.Conn, nil
}

// keepConnected reopens the bidirectional connection whenever it closes,
// with backoff, until the Recipient is closed.
func (r *Recipient) keepConnected(conn *giop.Conn) {
	defer r.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-conn.Done():
		case <-r.ctx.Done():
			return
		}
		for {
			if !timerpool.Sleep(r.ctx, backoff) {
				return
			}
			ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
			c, err := r.announce(ctx)
			if err == nil {
				err = r.handOver(ctx, c)
			}
			cancel()
			if err == nil {
				conn, backoff = c, 50*time.Millisecond
				r.setConn(c)
				break
			}
			backoff = min(2*backoff, 2*time.Second)
		}
	}
}

// handOver hands the recipient to the agent again over a new connection,
// re-binding the callbacks of the proxies and requests made with it.
func (r *Recipient) handOver(ctx context.Context, c *giop.Conn) error {
	_, err := c.Invoke(ctx, r.agent.key(), &giop.Invocation{Operation: nmproto.BindRecipientOp,
		Args: func(e *giop.Encoder) { e.WriteIOR(r.ref) }})
	if err != nil {
		return fmt.Errorf("handing the recipient over again: %w", err)
	}
	return nil
}

// connection returns the bidirectional connection, waiting (up to ctx)
// while it is being reopened.
func (r *Recipient) connection(ctx context.Context) (*giop.Conn, error) {
	for {
		r.mu.Lock()
		c := r.conn
		r.mu.Unlock()
		if c != nil && c.Err() == nil {
			return c, nil
		}
		if !timerpool.Sleep(ctx, 10*time.Millisecond) {
			return nil, fmt.Errorf("the recipient's bidirectional connection to the agent is closed: %w", ctx.Err())
		}
	}
}

func (r *Recipient) setConn(c *giop.Conn) {
	r.mu.Lock()
	r.conn = c
	r.mu.Unlock()
}

// recipientServant serves reply_available for a Recipient.
type recipientServant struct{ r *Recipient }

func (s recipientServant) RepositoryID() string { return ReplyRecipientID }

func (s recipientServant) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	if req.Operation() != "reply_available" {
		return giop.BadOperation(req.Operation())
	}
	holder := req.Args.IOR()
	op := req.Args.String()
	cookie := req.Args.Octets()
	if err := req.ArgsErr(); err != nil {
		return err
	}
	r := s.r
	if holder.IsNil() {
		return giop.NewSystemExceptionCause(giop.ExcBadParam, 0, giop.CompletedNo, errors.New("nil reply holder"))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(r.ctx, cancel)
	defer stop()
	return r.fn(ctx, r.agent.object(holder, "").as(roleHolder), op, cookie)
}

// randomHex returns 128 random bits in hex.
func randomHex() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Package stock is Native Messaging's StockManager for the Go examples and tests:
// its IDL, embedded once, and a Go target that serves it, marshalling
// through the idl package. It behaves as the omniORB target
// testdata/nm/stock_server does.
package stock

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
)

// IDL is StockManager.idl:
//
//	interface StockManager {
//	  boolean add_stock(in string symbol, in double quote);
//	  boolean find_closest_symbol(inout string symbol);
//	};
//
//go:embed StockManager.idl
var IDL []byte

// RepoID is the interface's repository id.
const RepoID = "IDL:StockManager:1.0"

// ObjectKey is the target's object key, so that
// corbaloc:iiop:1.2@HOST:PORT/StockManager reaches it (as it reaches the
// omniORB target).
const ObjectKey = "StockManager"

// Repository returns a new IDL repository holding StockManager.
func Repository() (*idl.Repository, error) {
	r := idl.NewRepository()
	if err := r.LoadSource("StockManager.idl", IDL, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// Manager is the StockManager servant. add_stock stores the quote and
// returns TRUE when the symbol is new; a symbol "SLOW<N>" makes it sleep N
// ms first. find_closest_symbol sets its inout symbol to the stored symbol
// sharing the longest prefix with it (ties: the smallest) and returns TRUE
// when that prefix has at least one character; else FALSE and the symbol
// unchanged. It is safe for concurrent use.
type Manager struct {
	iface *idl.Interface
	// served, if set, gets one line per call served, before the reply:
	// "served add_stock ACME -> TRUE".
	served io.Writer

	mu     sync.Mutex // guards stocks and writes to served
	stocks map[string]float64
}

// NewManager returns a StockManager with no stocks. served, if not nil,
// gets a line per call served, as the omniORB target prints them.
func NewManager(served io.Writer) (*Manager, error) {
	r, err := Repository()
	if err != nil {
		return nil, err
	}
	iface, _ := r.Interface(RepoID)
	return &Manager{iface: iface, served: served, stocks: map[string]float64{}}, nil
}

// RepositoryID implements giop.Servant.
func (m *Manager) RepositoryID() string { return RepoID }

// Invoke implements giop.Servant.
func (m *Manager) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	op, ok := m.iface.Operation(req.Operation())
	if !ok {
		return giop.BadOperation(req.Operation())
	}
	args, err := op.UnmarshalArgs(req.Args)
	if err != nil {
		return giop.NewSystemExceptionCause(giop.ExcMarshal, 0, giop.CompletedNo, err)
	}
	var result any
	var outs []any
	switch op.Name {
	case "add_stock":
		sym, quote := args[0].(string), args[1].(float64)
		if err := slow(ctx, sym); err != nil {
			return err
		}
		m.mu.Lock()
		_, had := m.stocks[sym]
		m.stocks[sym] = quote
		m.line("add_stock %s -> %s", sym, boolText(!had))
		m.mu.Unlock()
		result = !had
	case "find_closest_symbol":
		asked := args[0].(string)
		m.mu.Lock()
		best, n := "", 0
		for k := range m.stocks {
			if p := commonPrefix(k, asked); p > n || (p == n && p > 0 && k < best) {
				best, n = k, p
			}
		}
		sym := asked
		if n > 0 {
			sym = best
		}
		m.line("find_closest_symbol %s -> %s %s", asked, boolText(n > 0), sym)
		m.mu.Unlock()
		result, outs = n > 0, []any{sym}
	default:
		return giop.BadOperation(op.Name)
	}
	return op.MarshalResults(req.Results(), result, outs)
}

// line writes a "served" line; m.mu must be held.
func (m *Manager) line(format string, args ...any) {
	if m.served != nil {
		fmt.Fprintf(m.served, "served "+format+"\n", args...)
	}
}

// slow sleeps N ms for a symbol "SLOW<N>".
func slow(ctx context.Context, sym string) error {
	digits, ok := strings.CutPrefix(sym, "SLOW")
	if !ok {
		return nil
	}
	ms, err := strconv.Atoi(digits)
	if err != nil || ms < 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return giop.NewSystemExceptionCause(giop.ExcTransient, 0, giop.CompletedMaybe, ctx.Err())
	}
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func boolText(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// Server is a Manager served on a TCP address.
type Server struct {
	srv  *giop.Server
	ior  *giop.IOR
	addr *net.TCPAddr
	done chan struct{}
}

// Serve serves m on addr (such as "127.0.0.1:0") under ObjectKey.
func Serve(addr string, m *Manager) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ad := giop.NewAdapter()
	ad.Register([]byte(ObjectKey), m)
	s := &Server{srv: giop.NewServer(nil, ad), addr: ln.Addr().(*net.TCPAddr), done: make(chan struct{})}
	host := s.addr.IP.String()
	if s.addr.IP.IsUnspecified() {
		host = "localhost"
	}
	s.ior = giop.NewIOR(RepoID, &giop.IIOPProfile{Version: giop.V1_2, Host: host, Port: uint16(s.addr.Port),
		ObjectKey: []byte(ObjectKey), Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})
	go func() {
		defer close(s.done)
		s.srv.Serve(ln)
	}()
	return s, nil
}

// IOR returns the target's reference.
func (s *Server) IOR() *giop.IOR { return s.ior }

// Corbaloc returns corbaloc:iiop:1.2@HOST:PORT/StockManager.
func (s *Server) Corbaloc() string {
	prof, _ := s.ior.IIOP()
	return (&giop.Corbaloc{Addresses: []giop.CorbalocAddress{{Version: giop.V1_2, Host: prof.Host, Port: prof.Port}},
		Key: []byte(ObjectKey)}).String()
}

// Shutdown stops accepting, lets calls in progress finish until ctx ends,
// and closes.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// Close closes the server at once.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

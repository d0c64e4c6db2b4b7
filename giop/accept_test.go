package giop_test

import (
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/syncbuf"
)

// The accept loop (giop/SPEC.md "Connections"): errors that pass are
// retried with a back-off and the server keeps accepting; any other error
// closes that listener, and Serve's return says so.

// fakeListener hands out a scripted sequence of accept results, then
// blocks until closed.
type fakeListener struct {
	mu     sync.Mutex
	script []acceptResult
	closed chan struct{}
	once   sync.Once
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func newFakeListener(script ...acceptResult) *fakeListener {
	return &fakeListener{script: script, closed: make(chan struct{})}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.script) > 0 {
		r := l.script[0]
		l.script = l.script[1:]
		l.mu.Unlock()
		return r.conn, r.err
	}
	l.mu.Unlock()
	<-l.closed
	return nil, net.ErrClosed
}

func (l *fakeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *fakeListener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2809} }

// acceptErr is an accept error as the net package returns it.
func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

// timeoutErr is an accept deadline passing.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// syncBuffer is a log sink safe for the accept loop's goroutine.
type syncBuffer = syncbuf.Buffer

// pipeConn is one end of an in-memory connection for the fake listener,
// with the other end as a raw client.
func pipeConn(t *testing.T) (net.Conn, *rawClient) {
	server, client := net.Pipe()
	t.Cleanup(func() { client.Close() })
	return server, &rawClient{t: t, nc: client}
}

func serveFake(t *testing.T, cfg *giop.Config, ln net.Listener) (*giop.Server, <-chan error) {
	t.Helper()
	a := giop.NewAdapter()
	a.Register(echoKey, newEchoServant())
	srv := giop.NewServer(cfg, a)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return srv, done
}

// TestServe_RetriesAcceptErrorsThatPass: every kind of accept error that
// passes — out of descriptors (EMFILE, ENFILE), buffers or memory, an
// aborted connection, EINTR, EAGAIN, a timeout — is retried: the
// connections accepted after each burst are served, each error is counted
// in AcceptErrors, and each burst is logged once when it starts and once
// when it ends, not once per attempt.
func TestServe_RetriesAcceptErrorsThatPass(t *testing.T) {
	c1srv, c1 := pipeConn(t)
	c2srv, c2 := pipeConn(t)
	ln := newFakeListener(
		acceptResult{err: acceptErr(syscall.EMFILE)},
		acceptResult{err: acceptErr(syscall.ENFILE)},
		acceptResult{err: acceptErr(syscall.ENOBUFS)},
		acceptResult{err: acceptErr(syscall.ENOMEM)},
		acceptResult{conn: c1srv},
		acceptResult{err: acceptErr(syscall.ECONNABORTED)},
		acceptResult{err: acceptErr(syscall.EINTR)},
		acceptResult{err: acceptErr(syscall.EAGAIN)},
		acceptResult{err: &net.OpError{Op: "accept", Net: "tcp", Err: timeoutErr{}}},
		acceptResult{conn: c2srv},
	)
	var logs syncBuffer
	cfg := giop.DefaultConfig()
	cfg.Logger = zerolog.New(&logs)
	srv, done := serveFake(t, cfg, ln)
	c1.echo(1, "after the first burst")
	c2.echo(1, "after the second burst")
	if st := srv.Stats(); st.AcceptErrors != 8 || st.Listeners != 1 || st.Accepted != 2 {
		t.Fatalf("stats %+v, want 8 accept errors, 1 listener, 2 connections accepted", st)
	}
	if n, m := logs.Count("accept failing"), logs.Count("accepting again"); n != 2 || m != 2 {
		t.Fatalf("%d \"accept failing\" and %d \"accepting again\" lines for two bursts of four errors, want 2 and 2:\n%s",
			n, m, logs.String())
	}
	srv.Close()
	if err := <-done; !errors.Is(err, giop.ErrServerClosed) {
		t.Fatalf("Serve returned %v, want ErrServerClosed", err)
	}
}

// TestServe_CloseDuringBackoff: a server shut down while its accept loop
// backs off from errors returns ErrServerClosed.
func TestServe_CloseDuringBackoff(t *testing.T) {
	var script []acceptResult
	for range 20 { // 5 ms doubling to 1 s: about 15 s of back-off in all
		script = append(script, acceptResult{err: acceptErr(syscall.EMFILE)})
	}
	ln := newFakeListener(script...)
	srv, done := serveFake(t, nil, ln)
	deadline := time.Now().Add(ioBound)
	for srv.Stats().AcceptErrors < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("accept errors: %d", srv.Stats().AcceptErrors)
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.Close()
	if err := <-done; !errors.Is(err, giop.ErrServerClosed) {
		t.Fatalf("Serve returned %v, want ErrServerClosed", err)
	}
}

// TestServe_PermanentAcceptErrorClosesListener: an accept error that does
// not pass ends Serve with that error, closes the listener and stops
// counting it, so a caller (the agent's readiness) can tell that it is
// dead; connections on the server's other listener are served throughout.
func TestServe_PermanentAcceptErrorClosesListener(t *testing.T) {
	srv, ref, _ := testServer(t, hostileConfig(), nil)
	prof, _ := ref.IIOP()
	good := dialRaw(t, net.JoinHostPort(prof.Host, strconv.Itoa(int(prof.Port))))
	good.echo(1, "before")

	bad := acceptErr(syscall.EBADF)
	ln := newFakeListener(acceptResult{err: bad})
	if got := srv.Stats().Listeners; got != 1 {
		t.Fatalf("%d listeners before, want 1", got)
	}
	err := srv.Serve(ln)
	if errors.Is(err, giop.ErrServerClosed) || !errors.Is(err, syscall.EBADF) {
		t.Fatalf("Serve returned %v, want the accept error", err)
	}
	if !ln.isClosed() {
		t.Fatal("the failed listener was not closed")
	}
	if st := srv.Stats(); st.Listeners != 1 || st.AcceptErrors != 0 {
		t.Fatalf("stats %+v, want the one good listener and no retried errors", st)
	}
	for _, a := range srv.Addrs() {
		if a.String() == ln.Addr().String() {
			t.Fatalf("Addrs still lists the dead listener: %v", srv.Addrs())
		}
	}
	good.echo(3, "after")
}

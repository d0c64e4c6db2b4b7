package giop_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// echoServant implements Demo::Echo from testdata/interop/demo.idl, the
// interface the omniORB peers use.
type echoServant struct {
	mu     sync.Mutex
	pings  []string
	pinged chan string
}

func newEchoServant() *echoServant { return &echoServant{pinged: make(chan string, 16)} }

func (s *echoServant) RepositoryID() string { return "IDL:Demo/Echo:1.0" }

func (s *echoServant) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	switch r.Operation() {
	case "echoString":
		m := r.Args.String()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		r.Results().WriteString(m)
	case "echoBlob":
		b := r.Args.OctetsNoCopy()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		r.Results().WriteOctets(b)
	case "echoDouble":
		v := r.Args.Double()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		r.Results().WriteDouble(v)
	case "echoWString":
		w := r.Args.WString()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		r.Results().WriteWString(w)
	case "fail":
		code := r.Args.Long()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		return &giop.UserException{RepoID: "IDL:Demo/Oops:1.0", Members: func(e *giop.Encoder) {
			e.WriteLong(code)
			e.WriteString("requested failure")
		}}
	case "failSystem":
		minor := r.Args.ULong()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		return giop.NewSystemException(giop.ExcNoPermission, minor, giop.CompletedNo)
	case "ping":
		n := r.Args.String()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		s.mu.Lock()
		s.pings = append(s.pings, n)
		s.mu.Unlock()
		select {
		case s.pinged <- n:
		default:
		}
	default:
		return giop.BadOperation(r.Operation())
	}
	return nil
}

// echoKey is the object key of the Go echo servant, as omniINSPOA's "Echo".
var echoKey = []byte("Echo")

// serveUntilCleanup runs serve — srv.Serve or srv.ServeTLS on a listener —
// until the test ends, then closes srv and checks that serve returned
// ErrServerClosed.
func serveUntilCleanup(t testing.TB, srv *giop.Server, serve func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- serve() }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, giop.ErrServerClosed) {
			t.Errorf("serving returned %v, want ErrServerClosed", err)
		}
	})
}

// testServer runs a GIOP server with an Echo servant on a loopback port and
// returns the servant's IOR.
func testServer(t testing.TB, cfg *giop.Config, extra map[string]giop.Servant) (*giop.Server, *giop.IOR, *echoServant) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := giop.NewAdapter()
	echo := newEchoServant()
	a.Register(echoKey, echo)
	for k, s := range extra {
		a.Register([]byte(k), s)
	}
	srv := giop.NewServer(cfg, a)
	serveUntilCleanup(t, srv, func() error { return srv.Serve(ln) })
	port := ln.Addr().(*net.TCPAddr).Port
	return srv, objectIOR("IDL:Demo/Echo:1.0", port, echoKey), echo
}

// objectIOR builds the kind of IOR the agent hands out: IIOP 1.2 with our
// ORB type and code sets (SPEC.md).
func objectIOR(typeID string, port int, key []byte) *giop.IOR {
	return giop.NewIOR(typeID, &giop.IIOPProfile{
		Version:   giop.V1_2,
		Host:      "127.0.0.1",
		Port:      uint16(port),
		ObjectKey: key,
		Components: []giop.TaggedComponent{
			giop.ORBTypeComponent(giop.ORBTypeRequestAgent),
			giop.DefaultCodeSets.Component(),
		},
	})
}

func testClient(t testing.TB) *giop.Client {
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	return c
}

func callString(ctx context.Context, c *giop.Client, ref *giop.IOR, op, in string) (string, error) {
	resp, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: op, Args: func(e *giop.Encoder) { e.WriteString(in) }})
	if err != nil {
		return "", err
	}
	out := resp.Result.String()
	return out, resp.Result.Err()
}

// blob returns the 100 KiB pattern the omniORB echo client sends.
func blob(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// runEchoConformance makes the calls of testdata/interop/echo_client.cc on
// ref, from Go, and checks each result.
func runEchoConformance(t *testing.T, c *giop.Client, ref *giop.IOR, wstring bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if got, err := callString(ctx, c, ref, "echoString", "hello"); err != nil || got != "hello" {
		t.Fatalf("echoString = %q, %v", got, err)
	}
	in := blob(100 << 10)
	resp, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: "echoBlob", Args: func(e *giop.Encoder) { e.WriteOctets(in) }})
	if err != nil {
		t.Fatalf("echoBlob: %v", err)
	}
	if out := resp.Result.OctetsNoCopy(); !bytes.Equal(out, in) || resp.Result.Err() != nil {
		t.Fatalf("echoBlob returned %d bytes (err %v), want the %d sent", len(out), resp.Result.Err(), len(in))
	}
	resp, err = c.Invoke(ctx, ref, &giop.Invocation{Operation: "echoDouble", Args: func(e *giop.Encoder) { e.WriteDouble(3.25) }})
	if err != nil || resp.Result.Double() != 3.25 {
		t.Fatalf("echoDouble: %v", err)
	}

	_, err = c.Invoke(ctx, ref, &giop.Invocation{Operation: "fail", Args: func(e *giop.Encoder) { e.WriteLong(7) }})
	var ue *giop.UserException
	if !errors.As(err, &ue) || ue.RepoID != "IDL:Demo/Oops:1.0" {
		t.Fatalf("fail(7) = %v, want Demo::Oops", err)
	}
	if code, why := ue.Body.Long(), ue.Body.String(); code != 7 || why != "requested failure" || ue.Body.Err() != nil {
		t.Fatalf("Oops{%d, %q} (err %v)", code, why, ue.Body.Err())
	}

	_, err = c.Invoke(ctx, ref, &giop.Invocation{Operation: "failSystem", Args: func(e *giop.Encoder) { e.WriteULong(42) }})
	var se *giop.SystemException
	if !errors.As(err, &se) || se.Name != giop.ExcNoPermission || se.Minor != 42 || se.Completed != giop.CompletedNo {
		t.Fatalf("failSystem(42) = %v, want NO_PERMISSION minor 42 completed NO", err)
	}

	if wstring {
		const w = "h\u00e9llo w\u00f6rld \u4e16\u754c"
		if got, err := callWString(ctx, c, ref, w); err != nil || got != w {
			t.Fatalf("echoWString = %q, %v", got, err)
		}
	}

	if _, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: "ping", Oneway: true, Args: func(e *giop.Encoder) { e.WriteString("go") }}); err != nil {
		t.Fatalf("ping: %v", err)
	}

	resp, err = c.Invoke(ctx, ref, &giop.Invocation{Operation: "_is_a", Args: func(e *giop.Encoder) { e.WriteString("IDL:Demo/Echo:1.0") }})
	if err != nil || !resp.Result.Bool() {
		t.Fatalf("_is_a(Echo): %v", err)
	}
	resp, err = c.Invoke(ctx, ref, &giop.Invocation{Operation: "_is_a", Args: func(e *giop.Encoder) { e.WriteString("IDL:Other:1.0") }})
	if err != nil || resp.Result.Bool() {
		t.Fatalf("_is_a(Other) should be false: %v", err)
	}
	resp, err = c.Invoke(ctx, ref, &giop.Invocation{Operation: "_non_existent"})
	if err != nil || resp.Result.Bool() {
		t.Fatalf("_non_existent should be false: %v", err)
	}
	_, err = c.Invoke(ctx, ref, &giop.Invocation{Operation: "noSuchOperation"})
	if !errors.Is(err, &giop.SystemException{Name: giop.ExcBadOperation}) {
		t.Fatalf("unknown operation = %v, want BAD_OPERATION", err)
	}
}

func callWString(ctx context.Context, c *giop.Client, ref *giop.IOR, w string) (string, error) {
	resp, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: "echoWString", Args: func(e *giop.Encoder) { e.WriteWString(w) }})
	if err != nil {
		return "", err
	}
	out := resp.Result.WString()
	return out, resp.Result.Err()
}

// TestEcho_GoToGo runs the conformance calls between a Go client and the Go
// servant framework over loopback.
func TestEcho_GoToGo(t *testing.T) {
	_, ref, echo := testServer(t, nil, nil)
	c := testClient(t)
	runEchoConformance(t, c, ref, true)
	select {
	case n := <-echo.pinged:
		if n != "go" {
			t.Fatalf("ping carried %q", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("oneway ping never arrived")
	}
}

// TestEcho_UnknownKey checks that an unknown object key raises
// OBJECT_NOT_EXIST as omniORB does (SPEC.md), and that
// _non_existent answers TRUE for it.
func TestEcho_UnknownKey(t *testing.T) {
	_, ref, _ := testServer(t, nil, nil)
	prof, _ := ref.IIOP()
	other := objectIOR("IDL:Demo/Echo:1.0", int(prof.Port), []byte("nobody"))
	c := testClient(t)
	ctx := context.Background()
	_, err := callString(ctx, c, other, "echoString", "x")
	var se *giop.SystemException
	if !errors.As(err, &se) || se.Name != giop.ExcObjectNotExist || se.Minor != giop.MinorObjectNotExistNoObject || se.Completed != giop.CompletedNo {
		t.Fatalf("unknown key: %v", err)
	}
	resp, err := c.Invoke(ctx, other, &giop.Invocation{Operation: "_non_existent"})
	if err != nil || !resp.Result.Bool() {
		t.Fatalf("_non_existent on unknown key: %v", err)
	}
}

// TestEcho_Concurrent checks request multiplexing on one connection:
// replies are matched to callers by request id.
func TestEcho_Concurrent(t *testing.T) {
	_, ref, _ := testServer(t, nil, nil)
	c := testClient(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := string(rune('A'+i%26)) + string(blob(i))
			for range 20 {
				got, err := callString(ctx, c, ref, "echoString", want)
				if err != nil {
					errs <- err
					return
				}
				if got != want {
					errs <- errors.New("reply crossed with another caller's")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

package giop_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
)

// Interop with omniORB 4.2.5: the C++ peers
// in testdata/interop are built and run by the test itself.

var conformanceLines = []string{
	"echoString -> hello",
	"echoBlob -> 102400 bytes ok",
	"echoDouble -> 3.25",
	"user exception Oops code=7 why=requested failure",
	"system exception NO_PERMISSION minor=42 completed=1",
	"ping -> sent",
	"PASS",
}

func checkLines(t *testing.T, got []string, err error, want []string) {
	t.Helper()
	if err != nil || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("echo_client: %v\ngot:\n%s\nwant:\n%s", err, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestInterop_OmniClientCallsGoServer: an omniORB C++ client calls the Go
// echo servant via an IOR, via corbaloc:iiop:1.2 and via corbaloc:: (GIOP
// 1.0). Over GIOP 1.2 and 1.1 omniORB fragments the 100 KiB blob, and it
// sends a LocateRequest (IOR) or a remote _is_a (corbaloc) first
// (SPEC.md).
func TestInterop_OmniClientCallsGoServer(t *testing.T) {
	peers.Dir(t)
	_, ref, echo := testServer(t, nil, nil)
	prof, _ := ref.IIOP()
	port := prof.Port
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"IOR", []string{"--wstring", ref.String()}, append(conformanceLines[:5:5], "echoWString -> ok", "ping -> sent", "PASS")},
		{"corbaloc_1.2", []string{fmt.Sprintf("corbaloc:iiop:1.2@127.0.0.1:%d/Echo", port)}, conformanceLines},
		{"corbaloc_1.1", []string{fmt.Sprintf("corbaloc:iiop:1.1@127.0.0.1:%d/Echo", port)}, conformanceLines},
		{"corbaloc_1.0", []string{fmt.Sprintf("corbaloc::127.0.0.1:%d/Echo", port)}, conformanceLines},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := peers.Start(t, "echo_client", tc.args...)
			lines, err := p.Wait(t, 30*time.Second)
			checkLines(t, lines, err, tc.want)
			select {
			case n := <-echo.pinged:
				if n == "" {
					t.Fatal("empty ping")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the oneway ping never reached the Go servant")
			}
		})
	}
}

// TestInterop_GoClientCallsOmniServer: the Go client calls the omniORB
// echo server via its IOR and via corbaloc in every GIOP version, including
// fragmented 100 KiB replies.
func TestInterop_GoClientCallsOmniServer(t *testing.T) {
	port := peers.FreePort(t)
	srv := peers.Start(t, "echo_server", peers.Endpoint(port)...)
	iorText := srv.Line(t, 20*time.Second)
	ref, err := giop.ParseIOR(iorText)
	if err != nil {
		t.Fatalf("omniORB IOR %q: %v", iorText, err)
	}
	c := testClient(t)
	t.Run("IOR", func(t *testing.T) { runEchoConformance(t, c, ref, true) })
	for _, v := range []string{"1.2", "1.1", "1.0"} {
		t.Run("corbaloc_"+v, func(t *testing.T) {
			url := fmt.Sprintf("corbaloc:iiop:%s@127.0.0.1:%d/Echo", v, port)
			if v == "1.0" {
				url = fmt.Sprintf("corbaloc::127.0.0.1:%d/Echo", port)
			}
			loc, err := giop.ParseCorbaloc(url)
			if err != nil {
				t.Fatal(err)
			}
			// A fresh client, so the connection speaks this version only.
			runEchoConformance(t, testClient(t), loc.IOR(""), false)
		})
	}
	// The oneway pings the Go client sent reached the omniORB servant.
	srv.Expect(t, "ping: go", 4, 10*time.Second)
}

// callbackServer implements Demo::CallbackServer: one_time calls the
// client's callback object `times` times before it returns, so the
// callbacks are nested inside the client's call.
type callbackServer struct {
	client   *giop.Client
	sameConn chan bool
}

func (s *callbackServer) RepositoryID() string { return "IDL:Demo/CallbackServer:1.0" }

func (s *callbackServer) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	if r.Operation() != "one_time" {
		return giop.BadOperation(r.Operation())
	}
	cb := r.Args.IOR()
	mesg := r.Args.String()
	times := r.Args.Long()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	for range times {
		inv := &giop.Invocation{Operation: "call_back", Args: func(e *giop.Encoder) { e.WriteString(mesg) }}
		var resp *giop.Response
		var err error
		if prof, perr := cb.IIOP(); perr == nil && r.Conn.AnnouncedFor(cb) {
			// The client handed cb over on the connection that announced
			// cb's address: call it back there.
			resp, err = r.Conn.Invoke(ctx, prof.ObjectKey, inv)
		} else {
			resp, err = s.client.Invoke(ctx, cb, inv)
		}
		if err != nil {
			return err
		}
		s.sameConn <- resp.Conn == r.Conn
	}
	return nil
}

// TestInterop_BiDirCallbackOverClientConnection: an omniORB client offers
// bidirectional GIOP and advertises a callback address where nothing
// listens. The Go server calls it back anyway, over the client's own
// connection, nested inside the client's call, with odd request ids
// (SPEC.md; docs/callbacks.md).
func TestInterop_BiDirCallbackOverClientConnection(t *testing.T) {
	peers.Dir(t)
	client := testClient(t)
	cbs := &callbackServer{client: client, sameConn: make(chan bool, 16)}
	_, echoRef, _ := testServer(t, nil, map[string]giop.Servant{"CallbackServer": cbs})
	prof, _ := echoRef.IIOP()
	ref := objectIOR("IDL:Demo/CallbackServer:1.0", int(prof.Port), []byte("CallbackServer"))

	closed := peers.ClosedPort(t)
	own := peers.FreePort(t)
	p := peers.Start(t, "bidir_client",
		"-ORBendPoint", fmt.Sprintf("giop:tcp:127.0.0.1:%d", own),
		"-ORBendPointPublish", fmt.Sprintf("giop:tcp:127.0.0.1:%d", closed),
		ref.String(), "3")
	lines, err := p.Wait(t, 30*time.Second)
	want := []string{"call_back: hello", "call_back: hello", "call_back: hello", "one_time returned", "PASS"}
	if err != nil || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("bidir_client: %v\n%s", err, p.Output())
	}
	for range 3 {
		if !<-cbs.sameConn {
			t.Fatal("callback went over another connection than the client's")
		}
	}
}

package admin_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/admin"
	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConfig_LoopbackOnly: the admin listener never faces the network,
// and it needs a token file.
func TestConfig_LoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:5556": true, "[::1]:1": true, "localhost:9": true,
		"0.0.0.0:5556": false, ":5556": false, "192.0.2.1:1": false} {
		err := (&admin.Config{Listen: addr, TokenFile: "t"}).Validate()
		if ok != (err == nil) || (!ok && !errors.Is(err, admin.ErrNotLoopback) && !strings.Contains(err.Error(), "admin")) {
			t.Errorf("Validate(%s) = %v", addr, err)
		}
	}
	if err := (&admin.Config{Listen: "127.0.0.1:1"}).Validate(); !errors.Is(err, admin.ErrBadConfig) {
		t.Errorf("no token file: %v", err)
	}
}

const token = "0123456789abcdef0123456789abcdef"

func startAgent(t *testing.T) *agent.Agent {
	t.Helper()
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// call makes one request to h with the token (when with) and the given
// Host and Origin.
func call(h http.Handler, method, path string, with bool, host, origin string) (int, string) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, nil)
	req.Host = host
	if with {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestHandler: health, readiness, metrics, the JSON API's errors, and no
// profiler unless asked for.
func TestHandler(t *testing.T) {
	a := startAgent(t)
	hosts := admin.HostNames("127.0.0.1:5556")
	for _, pprof := range []bool{false, true} {
		h := admin.Handler(a, admin.HandlerConfig{Token: token, Pprof: pprof, Hosts: hosts})
		cases := []struct {
			method, path string
			code         int
			body         string
		}{
			{"GET", "/healthz", 200, "ok"},
			{"GET", "/readyz", 200, "ready"},
			{"GET", "/metrics", 200, "requestagent_live_requests 0"},
			{"GET", "/v1/requests", 200, `"requests": []`},
			{"GET", "/v1/requests/nothex", 404, "is not an id"},
			{"DELETE", "/v1/requests/00000000000000000000000000000000", 404, "no such"},
			{"DELETE", "/v1/proxies/00000000-0000-0000-0000-000000000000", 404, "no such"},
		}
		for _, c := range cases {
			if code, body := call(h, c.method, c.path, true, "127.0.0.1:5556", ""); code != c.code || !strings.Contains(body, c.body) {
				t.Errorf("%s %s = %d %q", c.method, c.path, code, body)
			}
		}
		if code, _ := call(h, "GET", "/debug/pprof/", true, "localhost:5556", ""); (code == http.StatusOK) != pprof {
			t.Errorf("pprof=%v: /debug/pprof/ answered %d", pprof, code)
		}
	}
	a.Close()
	h := admin.Handler(a, admin.HandlerConfig{Token: token})
	if code, _ := call(h, "GET", "/readyz", false, "", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after shutdown = %d", code)
	}
}

// TestAttack_AdminNeedsTokenAndOwnHost: without the token nothing under
// /v1 or /debug answers; a request whose Host or Origin is not the
// listener's (a DNS-rebinding page in a local browser) is refused before
// anything is read; nothing changes state on GET.
func TestAttack_AdminNeedsTokenAndOwnHost(t *testing.T) {
	a := startAgent(t)
	h := admin.Handler(a, admin.HandlerConfig{Token: token, Pprof: true, Hosts: admin.HostNames("127.0.0.1:5556")})
	for _, p := range []string{"/v1/requests", "/v1/proxies", "/v1/requests/x", "/v1/recipients/failing", "/debug/pprof/"} {
		if code, _ := call(h, "GET", p, false, "127.0.0.1:5556", ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token = %d, want 401", p, code)
		}
	}
	if code, _ := call(h, "DELETE", "/v1/requests/00000000000000000000000000000000", false, "127.0.0.1:5556", ""); code != http.StatusUnauthorized {
		t.Errorf("DELETE without the token = %d, want 401", code)
	}
	for _, host := range []string{"evil.example:5556", "127.0.0.1:80", "attacker.test", ""} {
		if code, _ := call(h, "GET", "/metrics", true, host, ""); code != http.StatusForbidden {
			t.Errorf("Host %q = %d, want 403", host, code)
		}
	}
	if code, _ := call(h, "GET", "/v1/requests", true, "127.0.0.1:5556", "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("foreign Origin = %d, want 403", code)
	}
	if code, _ := call(h, "GET", "/v1/requests", true, "localhost:5556", "http://localhost:5556"); code != http.StatusOK {
		t.Errorf("own Origin = %d, want 200", code)
	}
	if code, _ := call(h, "GET", "/v1/requests", true, "localhost:5556", ""); code != http.StatusOK {
		t.Errorf("the loopback name = %d, want 200", code)
	}
	// GET never trashes: the state-changing routes answer DELETE only.
	if code, _ := call(h, "GET", "/v1/proxies/00000000000000000000000000000000", true, "127.0.0.1:5556", ""); code != http.StatusMethodNotAllowed && code != http.StatusNotFound {
		t.Errorf("GET on a proxy's DELETE route = %d", code)
	}
}

// TestAttack_AdminIDsAreNotKeys: the ids the admin API lists are not the
// secret part of the object keys: turned into a request object's or
// poller's or receiver's key they reach nothing, while the listing's own
// ids work for show and trash.
func TestAttack_AdminIDsAreNotKeys(t *testing.T) {
	a := startAgent(t)
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, a.IOR(), &giop.Invocation{Operation: "create_request", Args: func(e *giop.Encoder) {
		e.WriteIOR(giop.NewIOR("IDL:X:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 9, ObjectKey: []byte("x")}))
		e.WriteString("")
		e.WriteIOR(nil)
		e.WriteOctets([]byte("cookie"))
		e.WriteString("g")
		e.WriteOctets([]byte("tag"))
		e.WriteULong(0)
	}})
	if err != nil {
		t.Fatal(err)
	}
	reqObj := resp.Result.IOR()
	h := admin.Handler(a, admin.HandlerConfig{Token: token})
	code, body := call(h, "GET", "/v1/requests", true, "", "")
	var page agent.RequestPage
	if code != 200 || json.Unmarshal([]byte(body), &page) != nil || len(page.Requests) != 1 {
		t.Fatalf("listing = %d %s", code, body)
	}
	id := page.Requests[0].ID
	raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil || len(raw) != 16 {
		t.Fatalf("id %q is not 16 bytes", id)
	}
	prof, _ := reqObj.IIOP()
	if string(prof.ObjectKey[1:]) == string(raw) {
		t.Fatal("the listed id is the request object's key")
	}
	for _, kind := range []byte{'Q', 'L', 'R', 'P', 'H'} {
		ref := giop.NewIOR("", &giop.IIOPProfile{Version: giop.V1_2, Host: prof.Host, Port: prof.Port, ObjectKey: append([]byte{kind}, raw...)})
		r, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: "_non_existent"})
		if err != nil || !r.Result.Bool() {
			t.Errorf("key %c+listed id reached an object (%v)", kind, err)
		}
	}
	if code, body := call(h, "GET", "/v1/requests/"+id, true, "", ""); code != 200 || !strings.Contains(body, `"state": "created"`) {
		t.Fatalf("show %s = %d %s", id, code, body)
	}
	if code, _ := call(h, "DELETE", "/v1/requests/"+id, true, "", ""); code != http.StatusNoContent {
		t.Fatalf("trash = %d", code)
	}
	r, err := c.Invoke(ctx, reqObj, &giop.Invocation{Operation: "_non_existent"})
	if err != nil || !r.Result.Bool() {
		t.Fatalf("the request object after trash: %v", err)
	}
}

// TestListRequests_Pages: a listing comes in pages; following Next sees
// every request once, oldest first, with filters applied.
func TestListRequests_Pages(t *testing.T) {
	a := startAgent(t)
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 250
	for i := range n {
		group := "even"
		if i%2 == 1 {
			group = "odd"
		}
		_, err := c.Invoke(ctx, a.IOR(), &giop.Invocation{Operation: "create_request", Args: func(e *giop.Encoder) {
			e.WriteIOR(giop.NewIOR("IDL:X:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 9, ObjectKey: []byte("x")}))
			e.WriteString("")
			e.WriteIOR(nil)
			e.WriteOctets(nil)
			e.WriteString(group)
			e.WriteOctets(nil)
			e.WriteULong(0)
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []struct {
		filter agent.RequestFilter
		want   int
	}{{agent.RequestFilter{}, n}, {agent.RequestFilter{Group: "odd"}, n / 2}, {agent.RequestFilter{State: "replied"}, 0}} {
		seen := map[string]bool{}
		after, pages := "", 0
		var last time.Time
		for {
			page, err := a.ListRequests(f.filter, after, 40)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(page.Requests) > 40 || page.Live != n {
				t.Fatalf("page of %d, live %d", len(page.Requests), page.Live)
			}
			for _, r := range page.Requests {
				if seen[r.ID] {
					t.Fatalf("%s listed twice", r.ID)
				}
				if r.Created.Before(last) {
					t.Fatalf("not oldest first")
				}
				seen[r.ID], last = true, r.Created
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		if len(seen) != f.want {
			t.Fatalf("filter %+v: %d requests listed, want %d", f.filter, len(seen), f.want)
		}
		if f.want == n && pages < n/40 {
			t.Fatalf("%d pages for %d requests by 40", pages, n)
		}
	}
}

// TestStart_TokenFile: Start makes a token file readable by its owner
// only, and the client reads it; a second start keeps the token.
func TestStart_TokenFile(t *testing.T) {
	a := startAgent(t)
	dir := t.TempDir()
	file := filepath.Join(dir, admin.TokenFileName)
	s, err := admin.Start(admin.Config{Listen: "127.0.0.1:0", TokenFile: file}, a)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	cl, err := admin.NewClient(s.Addr(), file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Requests(context.Background(), agent.RequestFilter{}, "", 0); err != nil {
		t.Fatalf("client with the token: %v", err)
	}
	cl.Token = "wrong-token-wrong-token"
	if _, err := cl.Requests(context.Background(), agent.RequestFilter{}, "", 0); err == nil {
		t.Fatal("a wrong token was accepted")
	}
	_, port, _ := net.SplitHostPort(s.Addr())
	if names := admin.HostNames(s.Addr()); !contains(names, "localhost:"+port) {
		t.Fatalf("HostNames = %v", names)
	}
	tok1, _ := os.ReadFile(file)
	tok2, err := admin.LoadOrCreateToken(file)
	if err != nil || strings.TrimSpace(string(tok1)) != tok2 {
		t.Fatalf("token changed on reload: %v", err)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestStart_ConnectionsBounded: the admin listener holds at most
// MaxConnections connections; one more waits, unanswered, until one of
// them closes, and is then served.
func TestStart_ConnectionsBounded(t *testing.T) {
	a := startAgent(t)
	file := filepath.Join(t.TempDir(), admin.TokenFileName)
	s, err := admin.Start(admin.Config{Listen: "127.0.0.1:0", TokenFile: file, MaxConnections: 4}, a)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	var idle []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	extra, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	fmt.Fprintf(extra, "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", s.Addr())
	answered := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(extra)
		answered <- string(b)
	}()
	select {
	case got := <-answered:
		t.Fatalf("a fifth connection was served while four were open: %q", got)
	case <-time.After(300 * time.Millisecond):
	}
	idle[0].Close()
	if got := <-answered; !strings.Contains(got, "200 OK") {
		t.Fatalf("after one closed: %q", got)
	}
}

// TestHandler_BadArguments: a malformed limit, an unknown state or a
// cursor that is not one is 400 naming it, not a silent default page or a
// 404; the bearer scheme is matched without regard to case.
func TestHandler_BadArguments(t *testing.T) {
	a := startAgent(t)
	const token = "0123456789abcdef0123456789abcdef"
	h := admin.Handler(a, admin.HandlerConfig{Token: token})
	get := func(path, auth string) (int, string) {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	for _, path := range []string{"/v1/requests?limit=abc", "/v1/requests?limit=0", "/v1/requests?limit=-1",
		"/v1/requests?limit=10001", "/v1/proxies?limit=1e3", "/v1/requests?state=bogus",
		"/v1/requests?after=not-a-cursor", "/v1/proxies?after=not-a-cursor"} {
		if code, body := get(path, "Bearer "+token); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", path, code, body)
		}
	}
	for _, auth := range []string{"bearer " + token, "BEARER " + token} {
		if code, body := get("/v1/requests?limit=5", auth); code != http.StatusOK {
			t.Errorf("%q: %d %s, want 200", auth, code, body)
		}
	}
	for _, auth := range []string{"Basic " + token, "Bearer " + strings.ToUpper(token), "Bearer", token} {
		if code, _ := get("/v1/requests", auth); code != http.StatusUnauthorized {
			t.Errorf("%q: %d, want 401", auth, code)
		}
	}
}

// TestSwap_StandbyThenOwner: a cluster standby's admin interface says why
// it is not ready and answers 503 for what only the owner knows; once its
// agent starts, the same interface serves the agent.
func TestSwap_StandbyThenOwner(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "standby_metric 1\n") })
	sw := admin.NewSwap(admin.Standby{Reason: func() string { return "standby: b owns the store" }, Metrics: metrics})
	h := admin.Handler(sw, admin.HandlerConfig{Token: token})
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 503, "standby: b owns the store"},
		{"/metrics", 200, "standby_metric 1"},
		{"/v1/requests", 503, "cluster standby"},
		{"/v1/proxies", 503, "cluster standby"},
	} {
		if code, body := call(h, "GET", c.path, true, "", ""); code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("standby: GET %s = %d %q, want %d with %q", c.path, code, body, c.code, c.body)
		}
	}
	sw.Set(startAgent(t))
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/readyz", 200, "ready"},
		{"/metrics", 200, "requestagent_live_requests 0"},
		{"/v1/requests", 200, `"requests": []`},
	} {
		if code, body := call(h, "GET", c.path, true, "", ""); code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("owner: GET %s = %d %q, want %d with %q", c.path, code, body, c.code, c.body)
		}
	}
}

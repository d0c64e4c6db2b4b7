package admin_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/admin"
	"github.com/requestagent/requestagent/agent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConfig_LoopbackOnly: the admin listener never faces the network.
func TestConfig_LoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:5556": true, "[::1]:1": true, "localhost:9": true,
		"0.0.0.0:5556": false, ":5556": false, "192.0.2.1:1": false} {
		err := (&admin.Config{Listen: addr}).Validate()
		if ok != (err == nil) || (!ok && !errors.Is(err, admin.ErrNotLoopback) && !strings.Contains(err.Error(), "admin")) {
			t.Errorf("Validate(%s) = %v", addr, err)
		}
	}
}

// TestHandler: health, readiness, metrics, the JSON API's errors, and no
// profiler unless asked for.
func TestHandler(t *testing.T) {
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, pprof := range []bool{false, true} {
		h := admin.Handler(a, pprof)
		get := func(method, path string) (int, string) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			return rec.Code, rec.Body.String()
		}
		cases := []struct {
			method, path string
			code         int
			body         string
		}{
			{"GET", "/healthz", 200, "ok"},
			{"GET", "/readyz", 200, "ready"},
			{"GET", "/metrics", 200, "requestagent_live_requests 0"},
			{"GET", "/v1/requests", 200, "[]"},
			{"GET", "/v1/requests/nothex", 404, "is not an id"},
			{"DELETE", "/v1/requests/00000000000000000000000000000000", 404, "no such"},
		}
		for _, c := range cases {
			if code, body := get(c.method, c.path); code != c.code || !strings.Contains(body, c.body) {
				t.Errorf("%s %s = %d %q", c.method, c.path, code, body)
			}
		}
		if code, _ := get("GET", "/debug/pprof/"); (code == http.StatusOK) != pprof {
			t.Errorf("pprof=%v: /debug/pprof/ answered %d", pprof, code)
		}
	}
	a.Close()
	rec := httptest.NewRecorder()
	admin.Handler(a, false).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after shutdown = %d", rec.Code)
	}
}

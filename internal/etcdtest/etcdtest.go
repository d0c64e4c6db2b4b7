// Package etcdtest is test support for what runs on etcd: a real etcd
// cluster of three members started in the test's own process (etcd's embed
// package), on loopback, and a TestMain that waits for the goroutines its
// stopped members leave behind.
package etcdtest

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/etcdserver/api/rafthttp"
	"go.uber.org/goleak"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/syncbuf"
)

// Cluster is a real etcd cluster of three members in this process, on
// loopback, each in a directory of its own.
type Cluster struct {
	t       testing.TB
	members []*embed.Etcd
	clients []string // client URLs, by member
	stopped []bool
}

// New starts a 3-member cluster, tuned by tune (nil: etcd's defaults)
// for each member, waits for it to elect a leader, and stops it on
// cleanup.
func New(t testing.TB, tune func(*embed.Config)) *Cluster {
	t.Helper()
	// A port found free may be taken before a member binds it: start
	// again on new ports, a few times.
	for attempt := 1; ; attempt++ {
		c, err := start(t, tune)
		if err == nil {
			return c
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("etcd: %v; starting again on other ports", err)
	}
}

// start is New's one attempt.
func start(t testing.TB, tune func(*embed.Config)) (*Cluster, error) {
	t.Helper()
	const n = 3
	c := &Cluster{t: t, stopped: make([]bool, n)}
	// The members log at error level into log, shown if the test fails:
	// a member closing logs its listeners' ends as errors.
	log := &syncbuf.Buffer{}
	lg := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(log), zapcore.ErrorLevel))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("etcd's log:\n%s", log.String())
		}
	})
	var peerURLs, clientURLs []url.URL
	var initial []string
	for i := range n {
		p := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t))}
		cl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t))}
		peerURLs, clientURLs = append(peerURLs, p), append(clientURLs, cl)
		initial = append(initial, fmt.Sprintf("m%d=%s", i, p.String()))
		c.clients = append(c.clients, cl.String())
	}
	for i := range n {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = t.TempDir()
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURLs[i]}, []url.URL{peerURLs[i]}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURLs[i]}, []url.URL{clientURLs[i]}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = t.Name()
		cfg.LogLevel = "error"
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
		if tune != nil {
			tune(cfg)
		}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			c.StopAll()
			return nil, fmt.Errorf("start etcd member %d: %w", i, err)
		}
		c.members = append(c.members, e)
	}
	t.Cleanup(c.StopAll)
	for i, e := range c.members {
		select {
		case <-e.Server.ReadyNotify():
		case <-time.After(30 * time.Second):
			c.StopAll()
			return nil, fmt.Errorf("etcd member %d not ready within 30 s", i)
		}
	}
	return c, nil
}

// Endpoints are the client URLs of the members still running.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for i, u := range c.clients {
		if !c.stopped[i] {
			eps = append(eps, u)
		}
	}
	return eps
}

// Leader is the index of the member the others follow.
func (c *Cluster) Leader() int {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i, e := range c.members {
			if !c.stopped[i] && e.Server.Leader() == e.Server.MemberID() {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader within 10 s")
	return -1
}

// Stop stops member i.
func (c *Cluster) Stop(i int) {
	if !c.stopped[i] {
		c.stopped[i] = true
		c.members[i].Close()
	}
}

// StopAll stops every member.
func (c *Cluster) StopAll() {
	for i := range c.members {
		c.Stop(i)
	}
}

// Main runs the tests and checks that no goroutine outlives them, as goleak's
// VerifyTestMain does, but waits longer for the last ones to end: a
// stopped member's peer connections (net/http's persistConn.readLoop
// and writeLoop, and conn.serve in connReader.abortPendingRead, between
// etcd's rafthttp transports) end only when their reads time out,
// rafthttp.DefaultConnReadTimeout (5 s) after the members closed, and
// goleak gives up after about 2 s. Nothing is ignored.
func Main(m *testing.M) {
	code := m.Run()
	deadline := time.Now().Add(rafthttp.DefaultConnReadTimeout + 2*time.Second)
	err := goleak.Find()
	for err != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		err = goleak.Find()
	}
	if err != nil {
		os.Stderr.WriteString("goleak: errors on successful test run: " + err.Error() + "\n")
		code = 1
	}
	os.Exit(code)
}

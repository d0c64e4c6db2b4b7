package etcdstore_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/syncbuf"
)

// cluster is a real etcd cluster of three members in this process, on
// loopback, each in a directory of its own.
type cluster struct {
	t       *testing.T
	members []*embed.Etcd
	clients []string // client URLs, by member
	stopped []bool
}

// newCluster starts a 3-member cluster, tuned by tune (nil: etcd's
// defaults) for each member, waits for it to elect a leader, and stops
// it on cleanup.
func newCluster(t *testing.T, tune func(*embed.Config)) *cluster {
	t.Helper()
	const n = 3
	c := &cluster{t: t, stopped: make([]bool, n)}
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
			c.stopAll()
			t.Fatalf("start etcd member %d: %v", i, err)
		}
		c.members = append(c.members, e)
	}
	t.Cleanup(c.stopAll)
	for i, e := range c.members {
		select {
		case <-e.Server.ReadyNotify():
		case <-time.After(30 * time.Second):
			t.Fatalf("etcd member %d not ready within 30 s", i)
		}
	}
	return c
}

// endpoints are the client URLs of the members still running.
func (c *cluster) endpoints() []string {
	var eps []string
	for i, u := range c.clients {
		if !c.stopped[i] {
			eps = append(eps, u)
		}
	}
	return eps
}

// leader is the index of the member the others follow.
func (c *cluster) leader() int {
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

// stop stops member i.
func (c *cluster) stop(i int) {
	if !c.stopped[i] {
		c.stopped[i] = true
		c.members[i].Close()
	}
}

func (c *cluster) stopAll() {
	for i := range c.members {
		c.stop(i)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/storage/etcdstore"
)

// clusterFlags are cluster mode's (docs/cluster.md): the store on etcd,
// owned by one agent at a time.
func clusterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cluster", EnvVars: env("cluster"),
			Usage: "cluster mode: keep the store on this etcd cluster (etcd://h1:2379,h2:2379,h3:2379, or http(s):// URLs, comma-separated) instead of --data-dir; one agent owns it at a time, the others wait as standbys and take over when its lease ends (docs/cluster.md)"},
		&cli.StringFlag{Name: "cluster-prefix", Value: "requestagent/", EnvVars: env("cluster-prefix"),
			Usage: "the etcd key prefix of this cluster's store: agents that share one are one cluster"},
		&cli.StringFlag{Name: "cluster-name", EnvVars: env("cluster-name"),
			Usage: "this agent's name in the cluster, shown to the standbys (default: the host name and the listen address)"},
		&cli.DurationFlag{Name: "cluster-lease", Value: cluster.DefaultTTL, EnvVars: env("cluster-lease"),
			Usage: "the ownership lease: how long after an owner stops renewing it a standby takes over (whole seconds, at least 2s)"},
	}
}

// clusterEndpoints reads --cluster: etcd://h1:2379,h2:2379, or client URLs.
func clusterEndpoints(s string) ([]string, error) {
	rest, short := strings.CutPrefix(strings.TrimSpace(s), "etcd://")
	var eps []string
	for _, e := range strings.Split(rest, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		hostPort := e
		if short {
			e = "http://" + e
		} else if h, ok := strings.CutPrefix(e, "http://"); ok {
			hostPort = h
		} else if h, ok := strings.CutPrefix(e, "https://"); ok {
			hostPort = h
		} else {
			return nil, fmt.Errorf("%q: an etcd://host:port list, or http:// or https:// URLs", e)
		}
		if _, _, err := net.SplitHostPort(strings.TrimSuffix(hostPort, "/")); err != nil {
			return nil, fmt.Errorf("%q: %v", e, err)
		}
		eps = append(eps, e)
	}
	if len(eps) == 0 {
		return nil, errors.New("no etcd endpoint")
	}
	return eps, nil
}

// joinCluster waits until this agent owns the cluster's store, then gives
// the agent that store, every write of it fenced by the ownership. leave
// gives the ownership up (a standby takes over at once) and ends the
// connection; call it once the agent has stopped.
func joinCluster(ctx context.Context, c *cli.Context, cfg *agent.Config, log zerolog.Logger) (owner *cluster.Owner, leave func(), err error) {
	eps, err := clusterEndpoints(c.String("cluster"))
	if err != nil {
		return nil, nil, badFlag("cluster", err.Error())
	}
	prefix := c.String("cluster-prefix")
	name := c.String("cluster-name")
	if name == "" {
		host, _ := os.Hostname()
		name = host + " " + cfg.Listen
	}
	ccfg := cluster.Config{Key: prefix + "cluster/owner", Name: name, TTL: c.Duration("cluster-lease"), Logger: log}
	if err := ccfg.Validate(); err != nil {
		return nil, nil, badFlag("cluster-lease", err.Error())
	}
	// etcd's client logs through zap; its retries are this agent's to
	// report, in its own log.
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, nil, fmt.Errorf("requestagent: etcd %v: %w", eps, err)
	}
	log.Info().Strs("etcd", eps).Str("prefix", prefix).Str("name", name).Msg("requestagent: cluster mode: taking the store's ownership")
	owner, err = cluster.Acquire(ctx, cli, ccfg)
	if err != nil {
		cli.Close()
		return nil, nil, fmt.Errorf("requestagent: cluster: %w", err)
	}
	store, err := etcdstore.Open(etcdstore.Config{Endpoints: eps, KeyPrefix: prefix, Fence: owner.Fence, Logger: log})
	if err != nil {
		owner.Release(context.Background())
		cli.Close()
		return nil, nil, fmt.Errorf("requestagent: cluster: %w", err)
	}
	cfg.Backend = store
	cfg.Owned = owner.Held
	return owner, func() {
		if err := owner.Release(context.Background()); err != nil {
			log.Warn().Err(err).Msg("requestagent: cluster: giving up the ownership")
		}
		cli.Close()
	}, nil
}

// lost is the owner's Lost, or nil (never ready) without cluster mode.
func lost(o *cluster.Owner) <-chan struct{} {
	if o == nil {
		return nil
	}
	return o.Lost()
}

// clusterCommand is "requestagent cluster status": what etcd says of the
// cluster, asked of etcd itself, so that it works while no agent owns.
func clusterCommand() *cli.Command {
	cf := clusterFlags()
	flags := []cli.Flag{cf[0], cf[1], jsonFlag} // --cluster, --cluster-prefix
	return &cli.Command{Name: "cluster", Usage: "cluster mode on etcd (docs/cluster.md)",
		Subcommands: []*cli.Command{{Name: "status", Flags: flags, Action: clusterStatus,
			Usage: "the etcd members, the agent that owns the store, and the requests and proxies it holds"}}}
}

// clusterState is what "cluster status" prints.
type clusterState struct {
	Members []clusterMember `json:"members"`
	Owner   string          `json:"owner"` // "" while nobody owns the store
	// Requests and Proxies are the records in the store: requests not
	// trashed (pending, replied or kept), and proxies.
	Requests int64 `json:"requests"`
	Proxies  int64 `json:"proxies"`
}

type clusterMember struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
	Leader   bool   `json:"leader"`
	DBBytes  int64  `json:"db_bytes"`
	Error    string `json:"error,omitempty"`
}

func clusterStatus(c *cli.Context) error {
	if c.String("cluster") == "" {
		return badFlag("cluster", "required: the etcd endpoints of the cluster")
	}
	eps, err := clusterEndpoints(c.String("cluster"))
	if err != nil {
		return badFlag("cluster", err.Error())
	}
	prefix := c.String("cluster-prefix")
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fmt.Errorf("requestagent: etcd %v: %w", eps, err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(c.Context, 10*time.Second)
	defer cancel()
	names := map[uint64]string{} // member ids to names, asked once
	if ml, err := cli.MemberList(ctx); err == nil {
		for _, mm := range ml.Members {
			names[mm.ID] = mm.Name
		}
	}
	var st clusterState
	for _, ep := range eps {
		m := clusterMember{Endpoint: ep}
		if s, err := cli.Status(ctx, ep); err != nil {
			m.Error = err.Error()
		} else {
			m.Leader, m.DBBytes, m.Name = s.Leader == s.Header.MemberId, s.DbSize, names[s.Header.MemberId]
		}
		st.Members = append(st.Members, m)
	}
	owner, err := cli.Get(ctx, prefix+"cluster/owner")
	if err != nil {
		return fmt.Errorf("requestagent: cluster status: %w", err)
	}
	if len(owner.Kvs) > 0 {
		st.Owner = string(owner.Kvs[0].Value)
	}
	for _, k := range []struct {
		prefix string
		n      *int64
	}{{"q/", &st.Requests}, {"p/", &st.Proxies}} {
		resp, err := cli.Get(ctx, prefix+k.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return fmt.Errorf("requestagent: cluster status: %w", err)
		}
		*k.n = resp.Count
	}
	if c.Bool("json") {
		return printJSON(st)
	}
	owned := st.Owner
	if owned == "" {
		owned = "nobody (no agent serves: the standbys take over as one starts)"
	}
	fmt.Printf("owner: %s\nrequests: %d\nproxies: %d\nmembers:\n", owned, st.Requests, st.Proxies)
	for _, m := range st.Members {
		switch {
		case m.Error != "":
			fmt.Printf("  %s  DOWN: %s\n", m.Endpoint, m.Error)
		case m.Leader:
			fmt.Printf("  %s  %s  leader  db %d bytes\n", m.Endpoint, m.Name, m.DBBytes)
		default:
			fmt.Printf("  %s  %s  follower  db %d bytes\n", m.Endpoint, m.Name, m.DBBytes)
		}
	}
	return nil
}

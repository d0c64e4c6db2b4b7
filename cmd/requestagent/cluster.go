package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/requestagent/requestagent/admin"
	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/cluster/standby"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/configerr"
	"github.com/requestagent/requestagent/storage/etcdstore"
)

// clusterFlags are cluster mode's (docs/cluster.md): the store on etcd,
// owned by one agent at a time, the others standbys that forward to it.
func clusterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cluster", EnvVars: env("cluster"),
			Usage: "cluster mode: keep the store on this etcd cluster (etcd://h1:2379,h2:2379,h3:2379, or http(s):// URLs, comma-separated) instead of --data-dir; one agent owns it at a time, the others are standbys that forward calls to it and take over when its lease ends (docs/cluster.md)"},
		&cli.StringFlag{Name: "cluster-prefix", Value: "requestagent/", EnvVars: env("cluster-prefix"),
			Usage: "the etcd key prefix of this cluster's keys: agents that share one are one cluster (a slash is added if it lacks one; it may not be empty)"},
		&cli.StringFlag{Name: "cluster-name", EnvVars: env("cluster-name"),
			Usage: "this agent's name in the cluster, unique in it (default: the host name and the listen address)"},
		&cli.DurationFlag{Name: "cluster-lease", Value: cluster.DefaultTTL, EnvVars: env("cluster-lease"),
			Usage: "the ownership lease: how long after an owner stops renewing it a standby takes over (whole seconds, at least 2s)"},
		&cli.StringFlag{Name: "advertise", EnvVars: env("advertise"),
			Usage: "this agent's own GIOP address, host:port, as clients and the other agents reach it: standbys forward calls to the owner's, and the owner's references list it first when it is in --host (default: the --listen address when it names a host, else this host's name and the --listen port)"},
		&cli.BoolFlag{Name: "cluster-depose", Value: true, EnvVars: env("cluster-depose"),
			Usage: "a standby revokes the owner's lease when the owner's --advertise address has refused connections, and the lease gone unrenewed, for a third of the lease (its process is gone), and takes over at once instead of waiting the rest out; safe, since a live owner's writes are fenced by that lease (docs/cluster.md)"},
		&cli.DurationFlag{Name: "cluster-hold", Value: standby.DefaultHold, EnvVars: env("cluster-hold"),
			Usage: "how long a standby holds a call while no agent owns the store (a takeover) before it answers TRANSIENT; 0 for the default, at most 5m"},
		// The store cannot read etcd's limits from etcd: they are told,
		// as the cluster's flags are set (docs/cluster.md, "etcd's limits").
		&cli.IntFlag{Name: "cluster-max-txn-ops", Value: etcdstore.DefaultMaxTxnOps, EnvVars: env("cluster-max-txn-ops"),
			Usage: "the etcd cluster's --max-txn-ops: one group commit holds at most this many mutations; raising both lets one etcd transaction carry more acknowledgements"},
		&cli.IntFlag{Name: "cluster-max-request-bytes", Value: etcdstore.DefaultMaxRequestBytes, EnvVars: env("cluster-max-request-bytes"),
			Usage: "the etcd cluster's --max-request-bytes: one group commit holds mutations up to this less 64 KiB; a request too big for it is refused IMP_LIMIT"},
		&cli.Int64Flag{Name: "cluster-quota-backend-bytes", Value: etcdstore.DefaultQuotaBytes, EnvVars: env("cluster-quota-backend-bytes"),
			Usage: "the etcd cluster's --quota-backend-bytes: new requests and proxies get IMP_LIMIT within an eighth of it, so that work already accepted still commits"},
	}
}

// storeConfig is the etcd store's configuration from the flags; fence is
// the owner's, once it owns.
func storeConfig(c *cli.Context, eps []string, prefix string, fence func() []clientv3.Cmp, reg prometheus.Registerer,
	log zerolog.Logger) etcdstore.Config {
	return etcdstore.Config{Endpoints: eps, KeyPrefix: prefix, Fence: fence, Registerer: reg, Logger: log,
		MaxTxnOps: c.Int("cluster-max-txn-ops"), MaxRequestBytes: c.Int("cluster-max-request-bytes"),
		QuotaBytes: c.Int64("cluster-quota-backend-bytes")}
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

// member is this agent's part in a cluster: its etcd client, its view of
// who owns, the front it serves as a standby and the admin interface that
// outlives it, and, once it owns, the ownership.
type member struct {
	cli      *clientv3.Client
	follower *cluster.Follower
	front    *standby.Front
	swap     *admin.Swap
	adm      *admin.Server
	owner    atomic.Pointer[cluster.Owner] // set once it owns; read by the metrics
	log      zerolog.Logger
}

// leave gives the ownership up (a standby takes over at once), stops the
// front and ends the connection to etcd; call it once the agent has
// stopped. The admin interface is the caller's to shut down.
func (m *member) leave() {
	if o := m.owner.Load(); o != nil {
		if err := o.Release(context.Background()); err != nil {
			m.log.Warn().Err(err).Msg("requestagent: cluster: giving up the ownership")
		}
	}
	if m.front != nil {
		m.front.Close() // after a handover, a no-op: the agent closed the listener
	}
	if m.follower != nil {
		m.follower.Close()
	}
	m.cli.Close()
}

// clusterPrefix is --cluster-prefix as every key of the cluster takes
// it: the ownership key, the members' and the store's records alike.
// It ends with a slash, added if missing, so that "requestagent" and
// "requestagent/" are one cluster, not two owners side by side; it may
// not be empty, which the store would read as its default and the
// ownership key would not, so that two agents could each own one store.
func clusterPrefix(c *cli.Context) (string, error) {
	prefix := strings.TrimSpace(c.String("cluster-prefix"))
	if prefix == "" {
		return "", badFlag("cluster-prefix", fmt.Sprintf("%q: the cluster's keys need a prefix of their own (default requestagent/)", c.String("cluster-prefix")))
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return prefix, nil
}

// errStandbyStopped is joinCluster's return when a signal ended the wait
// as a standby: nothing to shut down but what it started.
var errStandbyStopped = errors.New("requestagent: stopped as a standby")

// joinCluster serves as a standby until this agent owns the cluster's
// store — a GIOP front on --listen that forwards calls to the owner, and
// the admin interface, not ready — then gives the agent the front's
// listener and the store, every write of it fenced by the ownership.
func joinCluster(ctx context.Context, c *cli.Context, cfg *agent.Config, adminCfg admin.Config, log zerolog.Logger) (m *member, err error) {
	eps, err := clusterEndpoints(c.String("cluster"))
	if err != nil {
		return nil, badFlag("cluster", err.Error())
	}
	prefix, err := clusterPrefix(c)
	if err != nil {
		return nil, err
	}
	name := c.String("cluster-name")
	if name == "" {
		host, _ := os.Hostname()
		name = host + " " + cfg.Listen
	}
	self, err := advertised(c.String("advertise"), cfg.Listen)
	if err != nil {
		return nil, badFlag("advertise", err.Error())
	}
	cfg.Host = selfFirst(cfg.Host, self)
	addrs := []string{self}
	if cfg.TLS.Only {
		// No clear-text listener to forward to or to probe.
		addrs = nil
	}
	probe := storeConfig(c, eps, prefix, nil, nil, log)
	if err := probe.Validate(); err != nil {
		return nil, badFlag(storeFlag(err), err.Error())
	}
	ccfg := cluster.Config{Key: prefix + "cluster/owner", Name: name, Addrs: addrs,
		Members: prefix + "cluster/members/", TTL: c.Duration("cluster-lease"), Logger: log}
	if err := ccfg.Validate(); err != nil {
		return nil, badFlag("cluster-lease", err.Error())
	}
	reg := prometheus.NewRegistry()
	cfg.Metrics = reg
	// etcd's client logs through zap; its retries are this agent's to
	// report, in its own log.
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("requestagent: etcd %v: %w", eps, err)
	}
	m = &member{cli: cli, log: log}
	defer func() {
		if err != nil {
			if m.adm != nil {
				m.adm.Shutdown(context.Background())
			}
			m.leave()
		}
	}()
	m.follower = cluster.Follow(cli, ccfg.Key, log)
	// The front takes the agent's connection limits, and logs as it does.
	gcfg := *giop.DefaultConfig()
	if cfg.GIOP != nil {
		gcfg = *cfg.GIOP
	}
	gcfg.Logger = log
	scfg := standby.Config{Owners: m.follower, Self: name, Addrs: []string{self}, Hold: c.Duration("cluster-hold"), GIOP: &gcfg,
		Registerer: reg, Logger: log}
	if c.Bool("cluster-depose") {
		scfg.Deposer = m.follower
	}
	if err := scfg.Validate(); err != nil {
		return nil, badFlag("cluster-hold", err.Error())
	}
	reason := func() string { return "standby: no GIOP front (TLS only): waiting to own the store" }
	if !cfg.TLS.Only {
		// The standby serves --listen from the start: clients whose
		// references name this agent are forwarded to the owner rather
		// than refused (docs/cluster.md, "Standbys forward").
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return m, fmt.Errorf("requestagent: listen on %s: %w", cfg.Listen, err)
		}
		if m.front, err = standby.Start(scfg, ln); err != nil {
			ln.Close()
			return m, err
		}
		reason = m.front.NotReady
	}
	registerClusterMetrics(reg, m)
	m.swap = admin.NewSwap(admin.Standby{Reason: reason, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})})
	if m.adm, err = admin.Start(adminCfg, m.swap); err != nil {
		return m, err
	}
	log.Info().Strs("etcd", eps).Str("prefix", prefix).Str("name", name).Str("advertise", self).
		Msg("requestagent: cluster mode: taking the store's ownership")
	owner, err := cluster.Acquire(ctx, cli, ccfg)
	if err != nil {
		if ctx.Err() != nil {
			return m, errStandbyStopped
		}
		return m, fmt.Errorf("requestagent: %w", err) // cluster's errors name it
	}
	m.owner.Store(owner)
	if m.front != nil {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ln, err := m.front.Handover(hctx)
		cancel()
		if err != nil && ln == nil {
			return m, fmt.Errorf("requestagent: cluster: taking the front's listener over: %w", err)
		}
		cfg.Listener = ln
	}
	store, err := etcdstore.Open(storeConfig(c, eps, prefix, owner.Fence, reg, log))
	if err != nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		return m, fmt.Errorf("requestagent: cluster: %w", err)
	}
	cfg.Backend = store
	cfg.Owned = owner.Held
	return m, nil
}

// registerClusterMetrics puts this member's role on reg.
func registerClusterMetrics(reg *prometheus.Registry, m *member) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "requestagent_cluster_owner",
		Help: "1 while this agent owns the cluster's store (and its lease is known to be held), 0 while it is a standby.",
	}, func() float64 {
		if o := m.owner.Load(); o != nil && o.Held() == nil {
			return 1
		}
		return 0
	}))
}

// advertised is --advertise, or its default: the --listen address when
// it names a host, else this host's name and the listen port.
func advertised(flag, listen string) (string, error) {
	if flag != "" {
		if _, err := standby.ParseAddrs([]string{flag}); err != nil {
			return "", fmt.Errorf("%q: a host:port", flag)
		}
		return flag, nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("--listen %q: %v", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if host, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("no host name to advertise (%v): set it", err)
		}
	}
	return net.JoinHostPort(host, port), nil
}

// selfFirst moves self to the front of the --host list when it is in it:
// the references this agent hands out then name it first, and a client
// reaches the owner without a forward. A list that does not name it (a
// stable address in front of the agents) is left as it is.
func selfFirst(hosts, self string) string {
	list := strings.Split(hosts, ",")
	for i, h := range list {
		if strings.TrimSpace(h) == self && i > 0 {
			out := append([]string{self}, list[:i]...)
			return strings.Join(append(out, list[i+1:]...), ",")
		}
	}
	return hosts
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
	// OwnerGIOP are the owner's GIOP addresses, where standbys forward.
	OwnerGIOP []string `json:"owner_giop,omitempty"`
	// Agents are the agents registered, owner and standbys.
	Agents []clusterAgent `json:"agents"`
	// Requests and Proxies are the records in the store: requests not
	// trashed (pending, replied or kept), and proxies.
	Requests int64 `json:"requests"`
	Proxies  int64 `json:"proxies"`
}

type clusterAgent struct {
	Name string   `json:"name"`
	GIOP []string `json:"giop"`
	Role string   `json:"role"` // owner or standby
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
	prefix, err := clusterPrefix(c)
	if err != nil {
		return err
	}
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
		h := cluster.DecodeHolder(owner.Kvs[0].Value)
		st.Owner, st.OwnerGIOP = h.Name, h.GIOP
	}
	agents, err := cluster.Members(ctx, cli, prefix+"cluster/members/")
	if err != nil {
		return fmt.Errorf("requestagent: cluster status: %w", err)
	}
	st.Agents = []clusterAgent{}
	for _, h := range agents {
		role := "standby"
		if h.Name == st.Owner {
			role = "owner"
		}
		st.Agents = append(st.Agents, clusterAgent{Name: h.Name, GIOP: h.GIOP, Role: role})
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
	if len(st.OwnerGIOP) > 0 {
		owned += " at " + strings.Join(st.OwnerGIOP, ",")
	}
	fmt.Printf("owner: %s\nrequests: %d\nproxies: %d\nagents:\n", owned, st.Requests, st.Proxies)
	for _, a := range st.Agents {
		fmt.Printf("  %s  %s  %s\n", a.Name, strings.Join(a.GIOP, ","), a.Role)
	}
	fmt.Printf("etcd members:\n")
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

// lost is closed once the ownership is lost; nil (never ready) without
// cluster mode.
func (m *member) lost() <-chan struct{} {
	if m == nil || m.owner.Load() == nil {
		return nil
	}
	return m.owner.Load().Lost()
}

// storeFlag names the flag behind the etcd store's invalid field.
func storeFlag(err error) string {
	var f *configerr.Field
	if errors.As(err, &f) {
		switch f.Name {
		case "MaxTxnOps":
			return "cluster-max-txn-ops"
		case "MaxRequestBytes":
			return "cluster-max-request-bytes"
		case "QuotaBytes", "AdmitReserve":
			return "cluster-quota-backend-bytes"
		}
	}
	return "cluster"
}

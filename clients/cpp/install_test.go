// Package cpp_test checks clients/cpp, the C++ Native Messaging runtime for
// omniORB, the way its users get it (docs/cpp-client.md): installed with
// `make install PREFIX=...` into a fresh prefix, the examples built against
// it by pkg-config alone, and run against a real agent and the omniORB
// stock_server target. There is no Go package here, only this test.
package cpp_test

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// installed is a prefix holding the installed library and the examples
// built against it.
type installed struct {
	prefix, examples string
}

// install runs make install into a temporary prefix and builds
// clients/cpp/examples with PKG_CONFIG_PATH pointing there and nothing
// else: no include or library path of the source tree.
func install(t *testing.T) installed {
	t.Helper()
	for _, tool := range []string{"omniidl", "g++", "make", "pkg-config"} {
		if _, err := exec.LookPath(tool); err != nil {
			if peers.Required() {
				t.Fatalf("%s is not installed (run scripts/install-omniorb.sh): %v", tool, err)
			}
			t.Skipf("%s not installed; run `make test` or scripts/install-omniorb.sh", tool)
		}
	}
	src := filepath.Join(peers.RepoRoot(), "clients", "cpp")
	tmp := t.TempDir()
	in := installed{prefix: filepath.Join(tmp, "prefix"), examples: filepath.Join(tmp, "examples")}
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run(nil, "make", "-C", src, "BUILD="+filepath.Join(tmp, "build"), "install", "PREFIX="+in.prefix)
	for _, f := range []string{"lib/librequestagent-nm.a", "lib/librequestagent-nm.so.1", "lib/librequestagent-nm.so",
		"lib/pkgconfig/requestagent-nm.pc", "include/requestagent/nm.hh", "include/requestagent/NativeMessaging.hh",
		"include/requestagent/NativeMessaging_c.hh", "share/idl/requestagent/NativeMessaging.idl"} {
		if _, err := os.Stat(filepath.Join(in.prefix, f)); err != nil {
			t.Errorf("make install did not install %s: %v", f, err)
		}
	}
	pc := []string{"PKG_CONFIG_PATH=" + filepath.Join(in.prefix, "lib", "pkgconfig")}
	if v := run(pc, "pkg-config", "--modversion", "requestagent-nm"); v == "" {
		t.Error("pkg-config gives requestagent-nm no version")
	}
	run(pc, "make", "-C", filepath.Join(src, "examples"), "OUT="+in.examples)
	// The wire check, built the same way: pkg-config's flags only.
	flags := strings.Fields(run(pc, "pkg-config", "--cflags", "--libs", "requestagent-nm"))
	args := append([]string{"-O2", "-std=c++17", "-I" + in.examples, "-o", filepath.Join(in.examples, "nm_wire_client"),
		filepath.Join(src, "test", "nm_wire_client.cc"), filepath.Join(in.examples, "StockManagerSK.cc")}, flags...)
	run(nil, "g++", append(args, "-pthread")...)
	// The examples must load the installed shared library, not contain a
	// copy of the runtime.
	f, err := elf.Open(filepath.Join(in.examples, "group_client"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(libs, "librequestagent-nm.so.1") {
		t.Fatalf("group_client does not link librequestagent-nm.so.1: %v", libs)
	}
	t.Setenv("LD_LIBRARY_PATH", filepath.Join(in.prefix, "lib"))
	return in
}

// env is the examples' stock_server and an agent in front of it, with
// StockManager's IDL so that suppressed premature returns have their zero
// values (docs/native-messaging.md).
type env struct {
	in     installed
	server *peers.Process
	target string
	agent  *agent.Agent
}

func newEnv(t *testing.T, in installed) *env {
	t.Helper()
	e := &env{in: in}
	e.server = peers.StartIn(t, in.examples, "stock_server", peers.Endpoint(peers.FreePort(t))...)
	e.target = e.server.Line(t, 20*time.Second)
	if !strings.HasPrefix(e.target, "IOR:") {
		t.Fatalf("stock_server's first line is not an IOR: %q", e.target)
	}
	repo := idl.NewRepository()
	if err := repo.LoadFile(filepath.Join(peers.RepoRoot(), "clients", "cpp", "examples", "StockManager.idl"), nil); err != nil {
		t.Fatal(err)
	}
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", ConnectRetryBudget: 5 * time.Second,
		IDL: agent.RepositoryIDL(repo)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.agent = a
	return e
}

// run runs an example with flags, the agent's IOR and the target's IOR,
// and returns its lines; it fails the test unless the example passed.
func (e *env) run(t *testing.T, prog string, flags ...string) []string {
	t.Helper()
	args := append(flags, e.agent.IOR().String(), e.target)
	p := peers.StartIn(t, e.in.examples, prog, args...)
	lines, err := p.Wait(t, 90*time.Second)
	if err != nil || len(lines) == 0 || lines[len(lines)-1] != "PASS" {
		t.Fatalf("%s failed (%v):\n%s", prog, err, p.Output())
	}
	return lines
}

// want fails the test unless every line of want is among got.
func want(t *testing.T, prog string, got []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s did not print %q:\n  %s", prog, w, strings.Join(got, "\n  "))
		}
	}
}

// TestInstalledLibrary_Examples: every model of the Native Messaging
// documents, suppressed and unsuppressed, through the installed library.
// The examples check the Current themselves (reply_not_available,
// the_poller and its TAG_NM_REF, no_more_reply, push/pop_context) and
// print PASS only when all of it held; the target must have served each
// request exactly once.
func TestInstalledLibrary_Examples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs the C++ library")
	}
	in := install(t)

	t.Run("Polling", func(t *testing.T) {
		e := newEnv(t, in)
		got := e.run(t, "polling_client")
		peers.CheckLines(t, "polling_client", got, peers.PollingTranscript())
		e.server.Served(t, 2)
	})
	for _, suppress := range []bool{false, true} {
		var flags []string
		name, premature := "Unsuppressed", "premature (REPLY_NOT_AVAILABLE)"
		if suppress {
			flags, name, premature = []string{"--suppress"}, "Suppressed", "premature (suppressed FALSE)"
		}
		t.Run("GroupPolling/"+name, func(t *testing.T) {
			e := newEnv(t, in)
			got := e.run(t, "group_client", flags...)
			find := peers.StockPair(t, e.server.Served(t, 2))
			want(t, "group_client", got, "create_request_proxy -> RequestProxy",
				"the_receiver -> StockManager (typed receiver)", "tag 0: add_stock -> "+premature,
				"tag 0: add_stock -> TRUE", "tag 1: find_closest_symbol -> "+find,
				"poll -> PollingGroupIsEmpty", "destroyed")
		})
		t.Run("WaitReply/"+name, func(t *testing.T) {
			e := newEnv(t, in)
			got := e.run(t, "waitreply_client", flags...)
			peers.CheckLines(t, "waitreply_client", got, []string{
				"create_request_proxy WaitReply=TRUE -> RequestProxy",
				"add_stock FAST -> TRUE (mature)",
				"add_stock SLOW1500 -> premature (evolved into 2PI)",
				"add_stock SLOW1500 -> TRUE (mature)",
				"PASS",
			})
			e.server.Served(t, 2)
		})
	}
	t.Run("Wire", func(t *testing.T) { checkWire(t, in) })
	t.Run("Callback", func(t *testing.T) {
		e := newEnv(t, in)
		got := e.run(t, "recipient_client", peers.Endpoint(peers.FreePort(t))...)
		find := peers.StockPair(t, e.server.Served(t, 2))
		want(t, "recipient_client", got, "add_stock -> premature (REPLY_NOT_AVAILABLE)",
			"find_closest_symbol -> premature (REPLY_NOT_AVAILABLE)",
			"reply_available op=add_stock cookie=add stock", "pulled add_stock -> TRUE",
			"reply_available op=find_closest_symbol cookie=find symbol", "pulled find_closest_symbol -> "+find)
	})
}

// The NMService octets of docs/nm-wire.md's examples, as the C++ runtime
// must send them (big-endian).
var (
	wireRequestInfo = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, '0', 0, 0, 0, 0, 0, 0, 2, 'a', 'b', 0, 0,
		0, 0, 0x13, 0x88, 1}
	wireWaitTimeout = []byte{0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}
)

// agentReceiver is a fake agent's typed receiver: each add_stock is a
// suppressed premature return (TRUE) naming the next of its pollers.
type agentReceiver struct {
	mu      sync.Mutex
	pollers []*giop.IOR
	next    int
}

func (r *agentReceiver) RepositoryID() string { return "IDL:StockManager:1.0" }

func (r *agentReceiver) Invoke(_ context.Context, req *giop.ServerRequest) error {
	if req.Operation() != "add_stock" {
		return giop.BadOperation(req.Operation())
	}
	r.mu.Lock()
	p := r.pollers[r.next%len(r.pollers)]
	r.next++
	r.mu.Unlock()
	req.SetReplyContexts(giop.ServiceContextList{(&nmproto.Context{Kind: nmproto.KindThePoller, ThePoller: p}).Encode()})
	req.Results().WriteBool(true)
	return nil
}

// agentPoller is one of agentReceiver's pollers: it notes its key when
// pulled and answers TRUE with NMNoMoreReply.
type agentPoller struct {
	mu     *sync.Mutex
	pulled *[]string
	key    string
}

func (p agentPoller) RepositoryID() string { return "IDL:StockManager:1.0" }

func (p agentPoller) Invoke(_ context.Context, req *giop.ServerRequest) error {
	if req.Operation() != "add_stock" {
		return giop.BadOperation(req.Operation())
	}
	p.mu.Lock()
	*p.pulled = append(*p.pulled, p.key)
	p.mu.Unlock()
	req.SetReplyContexts(giop.ServiceContextList{nmproto.NoMoreReplyContext})
	req.Results().WriteBool(true)
	return nil
}

// wireServant is a fake typed receiver or poller: it keeps the NMService
// data of each add_stock and answers TRUE, the receiver with an NM_POLLER
// context naming the poller, the poller with NMNoMoreReply.
type wireServant struct {
	mu     *sync.Mutex
	got    *[][]byte
	poller *giop.IOR // nil: this is the poller
}

func (s wireServant) RepositoryID() string { return "IDL:StockManager:1.0" }

func (s wireServant) Invoke(_ context.Context, req *giop.ServerRequest) error {
	if req.Operation() != "add_stock" {
		return giop.BadOperation(req.Operation())
	}
	data, _ := req.Header.ServiceContexts.Get(nmproto.ServiceID)
	s.mu.Lock()
	*s.got = append(*s.got, bytes.Clone(data))
	s.mu.Unlock()
	if s.poller != nil {
		req.SetReplyContexts(giop.ServiceContextList{(&nmproto.Context{Kind: nmproto.KindThePoller, ThePoller: s.poller}).Encode()})
	} else {
		req.SetReplyContexts(giop.ServiceContextList{nmproto.NoMoreReplyContext})
	}
	req.Results().WriteBool(true)
	return nil
}

// checkWire runs nm_wire_client against a fake receiver and poller and
// compares what the runtime sent with docs/nm-wire.md, octet for octet;
// the client checks what it made of the replies' contexts.
func checkWire(t *testing.T, in installed) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	ref := func(key string, k nmproto.RefKind) *giop.IOR {
		return giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: port,
			ObjectKey: []byte(key), Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component(), nmproto.RefComponent(k)}})
	}
	var (
		mu  sync.Mutex
		got [][]byte
	)
	poller := ref("poller", nmproto.RefPoller)
	ad := giop.NewAdapter()
	ad.Register([]byte("receiver"), wireServant{mu: &mu, got: &got, poller: poller})
	ad.Register([]byte("poller"), wireServant{mu: &mu, got: &got})
	// An agent's receiver: its pollers carry the agent's ORB type and
	// differ only in their key, so the runtime makes all but the first from
	// the first one's decoded IOR (src/current.cc, PollerTemplate). Each
	// must still marshal as sent and reach its own object.
	agentRef := func(key string, k nmproto.RefKind) *giop.IOR {
		r := ref(key, k)
		prof, _ := r.IIOP()
		prof.Components = append([]giop.TaggedComponent{giop.ORBTypeComponent(giop.ORBTypeRequestAgent)}, prof.Components...)
		return giop.NewIOR(r.TypeID, prof)
	}
	var agentPollers []*giop.IOR
	var pulled []string
	for i := range 3 {
		key := fmt.Sprintf("agent-poller-%d", i)
		agentPollers = append(agentPollers, agentRef(key, nmproto.RefPoller))
		ad.Register([]byte(key), agentPoller{mu: &mu, pulled: &pulled, key: key})
	}
	ad.Register([]byte("agent-receiver"), &agentReceiver{pollers: agentPollers})
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	p := peers.StartIn(t, in.examples, "nm_wire_client", ref("receiver", nmproto.RefTypedReceiver).String(),
		agentRef("agent-receiver", nmproto.RefTypedReceiver).String())
	lines, err := p.Wait(t, 60*time.Second)
	if err != nil || len(lines) == 0 || lines[len(lines)-1] != "PASS" {
		t.Fatalf("nm_wire_client failed (%v):\n%s", err, p.Output())
	}
	var printed []string
	for _, l := range lines {
		if ior, ok := strings.CutPrefix(l, "POLLER "); ok {
			printed = append(printed, ior)
		}
	}
	if len(printed) != len(agentPollers) {
		t.Fatalf("nm_wire_client printed %d pollers, want %d:\n%s", len(printed), len(agentPollers), p.Output())
	}
	for i, s := range printed {
		got, err := giop.ParseIOR(s)
		if err != nil {
			t.Fatalf("poller %d: object_to_string gave %q: %v", i, s, err)
		}
		if want := agentPollers[i]; got.TypeID != want.TypeID || !reflect.DeepEqual(got.Profiles, want.Profiles) {
			t.Errorf("poller %d marshals as\n  %+v\nwant the agent's\n  %+v", i, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"agent-poller-0", "agent-poller-1", "agent-poller-2"}; !reflect.DeepEqual(pulled, want) {
		t.Errorf("the pulls reached %q, want %q", pulled, want)
	}
	if len(got) != 2 {
		t.Fatalf("the fake saw %d add_stock calls, want 2", len(got))
	}
	if !bytes.Equal(got[0], wireRequestInfo) {
		t.Errorf("NM_REQUEST_INFO sent:\n  % x\nwant (docs/nm-wire.md):\n  % x", got[0], wireRequestInfo)
	}
	if !bytes.Equal(got[1], wireWaitTimeout) {
		t.Errorf("NM_WAIT_TIMEOUT sent:\n  % x\nwant (docs/nm-wire.md):\n  % x", got[1], wireWaitTimeout)
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/tmpfs"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// echo is a Go StockManager target whose find_closest_symbol gives back
// the symbol it is sent.
type echo struct{}

func (echo) RepositoryID() string { return "IDL:StockManager:1.0" }
func (echo) Invoke(_ context.Context, r *giop.ServerRequest) error {
	sym := r.Args.String()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	r.Results().WriteBool(true)
	r.Results().WriteString(sym)
	return nil
}

func startEchoTarget(t *testing.T) *giop.IOR {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), echo{})
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager")})
}

// echo makes one 2PI of find_closest_symbol and returns its poller.
func (c *client) echo(rcv *giop.IOR, sym string) (*giop.IOR, error) {
	resp, err := c.invoke(rcv, "find_closest_symbol", reqInfo(), func(e *giop.Encoder) { e.WriteString(sym) })
	if err != nil {
		return nil, err
	}
	nc, ok, _ := nmproto.Find(resp.Header.ServiceContexts)
	if ok && nc.Kind == nmproto.KindThePoller && !nc.ThePoller.IsNil() {
		return nc.ThePoller, nil
	}
	if resp.Header.Status == giop.ReplySystemException {
		if x := resp.Result.SystemException(); x != nil {
			return nil, x
		}
	}
	return nil, fmt.Errorf("no poller (status %v)", resp.Header.Status)
}

// kill ends the agent the way a crash would, and waits for it.
func (p *agentProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// startFails runs the agent on dataDir expecting it not to start, and
// returns its exit code and the last line it wrote.
func startFails(t *testing.T, dataDir string, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--host", "127.0.0.1",
		"--admin", fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), "--data-dir", dataDir}, extra...)
	// One that starts after all is ended: it would serve for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ctx.Err() != nil {
		return -1, "still running after 30 s: it started"
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	return code, lines[len(lines)-1]
}

// TestServe_FullDiskRefusesNewWorkAndLosesNothing: with the store on a
// small filesystem, new requests are refused with IMP_LIMIT/STORE_FULL
// before the disk fills — no SIGBUS, the agent stays ready — every
// acknowledged request survives a SIGKILL and is pulled after the
// restart, room made is used without a restart, and a start on a
// filesystem too full to hold the store exits 4 in one line.
func TestServe_FullDiskRefusesNewWorkAndLosesNothing(t *testing.T) {
	const size = 192 << 20
	fs := tmpfs.Mount(t, size)
	data := filepath.Join(fs, "data")
	target := startEchoTarget(t)
	port := peers.FreePort(t)
	p := startAgent(t, data, port)
	c := newClient(t, port)
	rcv := c.receiver(target, nil)
	// Random, so that no compression shrinks it.
	raw := make([]byte, 48<<10)
	rand.Read(raw)
	big := base64.StdEncoding.EncodeToString(raw)
	var pollers []*giop.IOR
	var refused error
	// Each reply holds its 64 KiB until pulled.
	for i := 0; i < (size>>16)+100 && refused == nil; i++ {
		pl, err := c.echo(rcv, fmt.Sprintf("%06d%s", i, big))
		if err != nil {
			refused = err
			break
		}
		pollers = append(pollers, pl)
	}
	var x *giop.SystemException
	if !errors.As(refused, &x) || x.Name != giop.ExcImpLimit || x.Minor != nmproto.StoreFull || x.Completed != giop.CompletedNo {
		t.Fatalf("after %d requests of 64 KiB on a %d MiB filesystem: %v; want IMP_LIMIT/STORE_FULL, completed NO",
			len(pollers), size>>20, refused)
	}
	if len(pollers) < 100 {
		t.Fatalf("only %d requests taken before the refusal", len(pollers))
	}
	if code, body := httpGet(t, "http://"+p.adminAddr+"/readyz"); code != 200 {
		t.Fatalf("/readyz while new work is refused = %d %s", code, body)
	}
	if !strings.Contains(p.stderr.String(), "new work refused until the store has room") {
		t.Errorf("the refusal is not logged")
	}
	if n := metric(t, p.adminAddr, "requestagent_store_disk_free_bytes"); n <= 0 || n > size {
		t.Errorf("requestagent_store_disk_free_bytes = %v", n)
	}
	p.kill()
	if strings.Contains(p.stderr.String(), "SIGBUS") {
		t.Fatalf("the agent died of SIGBUS")
	}

	// After the crash every acknowledged request is there: its reply is
	// pulled through its poller (at the same address).
	p = startAgent(t, data, port)
	c = newClient(t, port)
	for i, pl := range pollers {
		resp, err := c.invoke(pl, "find_closest_symbol", nil, func(e *giop.Encoder) { e.WriteString("x") })
		if err != nil || resp.Header.Status != giop.ReplyNoException || !resp.Result.Bool() ||
			resp.Result.String() != fmt.Sprintf("%06d%s", i, big) {
			t.Fatalf("acknowledged request %d of %d after the restart: %v", i, len(pollers), err)
		}
	}
	// Room made is used at once.
	tmpfs.Resize(t, fs, 2*size)
	var err error
	for range 50 {
		// The free space is measured at most every 100 ms.
		time.Sleep(100 * time.Millisecond)
		if _, err = c.echo(rcv, "after"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("new work after room was made: %v", err)
	}
	p.kill()

	// A filesystem too full even to open the store on: one line, exit 4.
	fill, ferr := os.Create(filepath.Join(fs, "fill"))
	if ferr != nil {
		t.Fatal(ferr)
	}
	chunk := make([]byte, 1<<20)
	for {
		if _, err := fill.Write(chunk); err != nil {
			break
		}
	}
	fill.Close()
	code, last := startFails(t, data)
	if code != exitNoSpace || !strings.Contains(last, "space") || !strings.Contains(last, data) {
		t.Fatalf("a start on a full filesystem: exit %d, last line %q; want exit %d naming the directory", code, last, exitNoSpace)
	}
	os.Remove(filepath.Join(fs, "fill"))
	startAgent(t, data, peers.FreePort(t))
}

// TestServe_DamagedStoreRefusesToStart: one flipped byte in the
// memtable log of a store holding acknowledged requests makes the next
// start exit 3 with one line naming the file and the way out; started
// once with --force-recover the agent serves again, and after that a
// plain start does too.
func TestServe_DamagedStoreRefusesToStart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	_, target := startTarget(t)
	port := peers.FreePort(t)
	p := startAgent(t, data, port, "--connect-retry-budget", "100ms")
	c := newClient(t, port)
	rcv := c.receiver(target, nil)
	for i := range 500 {
		if _, err := c.send(rcv, fmt.Sprintf("sym%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	p.kill()
	mems, _ := filepath.Glob(filepath.Join(data, "*.mem"))
	if len(mems) == 0 {
		t.Fatalf("no memtable log in %s", data)
	}
	// Flip a byte half-way through what the newest log holds (it is
	// preallocated: zeroes follow its last entry).
	mem := mems[len(mems)-1]
	b, err := os.ReadFile(mem)
	if err != nil {
		t.Fatal(err)
	}
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	if end < 4096 {
		t.Fatalf("%s holds only %d bytes", mem, end)
	}
	b[end/2] ^= 0x40
	if err := os.WriteFile(mem, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, last := startFails(t, data)
	if code != exitCorrupt || !strings.Contains(last, filepath.Base(mem)) || !strings.Contains(last, "--force-recover") {
		t.Fatalf("a start on a damaged store: exit %d, last line %q; want exit %d naming %s and --force-recover",
			code, last, exitCorrupt, filepath.Base(mem))
	}
	code, again := startFails(t, data)
	if code != exitCorrupt || again != last {
		t.Fatalf("the second start on a damaged store: exit %d, %q", code, again)
	}
	r := startAgent(t, data, peers.FreePort(t), "--force-recover")
	if !strings.Contains(r.stderr.String(), `"level":"error"`) {
		t.Errorf("--force-recover logged no loss:\n%s", r.stderr)
	}
	r.kill()
	startAgent(t, data, peers.FreePort(t))
}

// TestServe_StoreOfANewerReleaseRefused: a store holding a record of a
// version this release does not read — a later release wrote it — is not
// served: exit 3, which the unit does not restart, with a last line that
// says so and names the record by its public id, and the store is left as
// it was.
func TestServe_StoreOfANewerReleaseRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	_, target := startTarget(t)
	port := peers.FreePort(t)
	p := startAgent(t, data, port)
	c := newClient(t, port)
	c.receiver(target, nil) // a proxy, stored
	p.kill()

	st, err := storage.Open(storage.Config{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	var b storage.Batch
	n := 0
	if err := st.Scan([]byte("p/"), func(k, v []byte) error {
		v = append([]byte(nil), v...)
		v[0] = 99 // a version no release has written yet
		b.Set(append([]byte(nil), k...), v)
		n++
		return nil
	}); err != nil || n != 1 {
		t.Fatalf("proxy records: %d, %v", n, err)
	}
	if err := st.CommitWithin(&b, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st.Close()

	code, last := startFails(t, data)
	if code != exitCorrupt || !strings.Contains(last, "version 99") || !strings.Contains(last, "the record of ") {
		t.Fatalf("a start on a newer release's store: exit %d, last line %q; want exit %d naming the version and the record",
			code, last, exitCorrupt)
	}
	if code, again := startFails(t, data); code != exitCorrupt || again != last {
		t.Fatalf("the second start: exit %d, %q; want the same refusal", code, again)
	}
}

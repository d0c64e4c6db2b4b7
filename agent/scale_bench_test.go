package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/storage"
)

// BenchmarkScale_PendingRequests stores N pending requests (default
// 1,000,000; REQUESTAGENT_SCALE_N to change) of one proxy — replied but
// unread, the state that must survive — then starts the real binary on that
// store and reports the time from start to serving (recovery included),
// its resident memory, and the store's size (the aims: ≤ 5 s and
// ≤ 512 MiB). It runs once whatever b.N is.
func BenchmarkScale_PendingRequests(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("REQUESTAGENT_SCALE_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	dir := b.TempDir()
	// REQUESTAGENT_SCALE_DIR keeps the filled store there, and reuses it
	// when it is already filled: to iterate on recovery without refilling.
	keep := os.Getenv("REQUESTAGENT_SCALE_DIR")
	if keep != "" {
		dir = keep
	}
	bin := peers.AgentBinary(b)
	if _, err := os.Stat(filepath.Join(dir, "filled")); keep != "" && err == nil {
		b.Logf("reusing the store in %s", dir)
		serveScale(b, bin, dir, n, 0)
		return
	}

	st, err := storage.Open(storage.Config{Dir: dir, Durable: false, MaxBatchEntries: 1 << 14})
	if err != nil {
		b.Fatal(err)
	}
	target := giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: 9, ObjectKey: []byte("StockManager"), Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})
	p := &proxyRecord{id: newID(), target: target, repoID: "IDL:StockManager:1.0", created: time.Now()}
	var batch storage.Batch
	batch.Set(proxyKey(p.id), p.encode())
	body := make([]byte, 64)
	reply := (&replyRecord{status: giop.ReplyNoException, version: giop.V1_2, little: true, body: []byte{1}}).encode()
	start := time.Now()
	ctx := context.Background()
	for i := range n {
		r := &requestRecord{id: newID(), proxyID: p.id, group: proxyGroup(p.id), target: target,
			repoID: p.repoID, operation: "add_stock", state: lifecycle.Replied, version: giop.V1_2, little: true, created: time.Now().UnixNano()}
		qKey, bKey, yKey := r.keys()
		batch.Set(qKey, r.encode())
		batch.Set(bKey, body)
		batch.Set(yKey, reply)
		if batch.Len() >= 3*4096 || i == n-1 {
			if err := st.Commit(ctx, &batch); err != nil {
				b.Fatal(err)
			}
			batch = storage.Batch{}
		}
	}
	st.Close()
	fill := time.Since(start)
	if keep != "" {
		os.WriteFile(filepath.Join(dir, "filled"), nil, 0o644)
	}
	serveScale(b, bin, dir, n, fill)
}

// serveScale starts the agent on the filled store in dir and reports.
func serveScale(b *testing.B, bin, dir string, n int, fill time.Duration) {
	storeBytes := duBytes(b, dir)
	ctx := context.Background()
	port := peers.FreePort(b)
	b.ResetTimer()
	t0 := time.Now()
	adminAddr := fmt.Sprintf("127.0.0.1:%d", peers.FreePort(b))
	cmd := exec.Command(bin, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", "127.0.0.1",
		"--data-dir", dir, "--admin", adminAddr, "--pprof", "--log-level", "warn")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	c := giop.NewClient(nil)
	defer c.Close()
	loc, _ := giop.ParseCorbaloc(fmt.Sprintf("corbaloc:iiop:1.2@127.0.0.1:%d/RequestAgent", port))
	for {
		if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			conn.Close()
			cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			_, err := c.Invoke(cctx, loc.IOR(""), &giop.Invocation{Operation: "_non_existent"})
			cancel()
			if err == nil {
				break
			}
		}
		if time.Since(t0) > 10*time.Minute {
			b.Fatal("the agent did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ready := time.Since(t0)
	b.StopTimer()
	rss := vmRSS(b, cmd.Process.Pid)
	if out := os.Getenv("REQUESTAGENT_SCALE_HEAPPROFILE"); out != "" {
		saveHeapProfile(b, adminAddr, out)
	}
	b.ReportMetric(float64(n), "pending_requests")
	b.ReportMetric(ready.Seconds(), "s_to_serving")
	b.ReportMetric(float64(rss)/(1<<20), "RSS_MiB")
	b.ReportMetric(float64(storeBytes)/(1<<20), "store_MiB")
	if fill > 0 {
		b.ReportMetric(fill.Seconds(), "s_to_fill")
	}
}

func vmRSS(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// duBytes is the disk space the files under dir use, as du counts it:
// Badger's value log is a sparse file whose apparent size says little.
func duBytes(b *testing.B, dir string) int64 {
	var total int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	return total
}

// saveHeapProfile writes the agent's heap profile (REQUESTAGENT_SCALE_HEAPPROFILE)
// for go tool pprof.
func saveHeapProfile(b *testing.B, adminAddr, out string) {
	resp, err := http.Get("http://" + adminAddr + "/debug/pprof/heap")
	if err != nil {
		b.Logf("heap profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	io.Copy(f, resp.Body)
}

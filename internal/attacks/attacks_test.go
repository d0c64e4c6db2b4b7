package attacks

import (
	"bufio"
	"bytes"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/rawgiop"
	"github.com/requestagent/requestagent/nmproto"
)

// TestAttacks runs the attacks of RELIABILITY.md's "Attacks and faults
// from outside" against one binary and prints the table (doc.go).
func TestAttacks(t *testing.T) {
	if os.Getenv("REQUESTAGENT_ATTACKS") != "1" {
		t.Skip("set REQUESTAGENT_ATTACKS=1 (make attacks) to run the attacks on the real binary")
	}
	s := &suite{bin: os.Getenv("REQUESTAGENT_ATTACK_BINARY"), scale: 1, label: os.Getenv("REQUESTAGENT_ATTACK_LABEL")}
	if s.bin == "" {
		s.bin = buildWorktree(t, t.TempDir())
	}
	if v := os.Getenv("REQUESTAGENT_ATTACK_SCALE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("REQUESTAGENT_ATTACK_SCALE=%q: want 1, 10, …", v)
		}
		s.scale = n
	}
	if s.label == "" {
		s.label = filepath.Base(s.bin)
	}
	help, _ := exec.Command(s.bin, "--help").CombinedOutput()
	s.help = string(help)
	only := map[string]bool{}
	for _, f := range strings.Split(os.Getenv("REQUESTAGENT_ATTACK_ONLY"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			only[f] = true
		}
	}
	attacks := []struct {
		n  string
		fn func(*testing.T, *suite)
	}{
		{"1", attackBiDir}, {"2", attackAdmin}, {"3", attackFDs}, {"4", attackStore}, {"5", attackFragments},
		{"6", attackForwardLoop}, {"7", attackSpellings}, {"8", attackKeyFlip}, {"9", attackBigGroup},
		{"10", attackCorruption}, {"11", attackOverload}, {"12", attackGlobalCaps}, {"13", attackPseudoOps},
		{"14", attackLiar},
	}
	for _, a := range attacks {
		if len(only) > 0 && !only[a.n] {
			continue
		}
		t.Run(a.n, func(t *testing.T) { a.fn(t, s) })
	}
	out := s.table()
	fmt.Print(out)
	if path := os.Getenv("REQUESTAGENT_ATTACK_OUT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			f.WriteString(out)
			f.Close()
		}
	}
}

// --- 1. Bidirectional GIOP: announced addresses --------------------------

func attackBiDir(t *testing.T, s *suite) {
	// A target that cannot be reached gives TRANSIENT after the reconnect
	// budget: 2 s, for an answer within the attack's time.
	budget := []string{"--connect-retry-budget", "2s"}
	t.Run("target", func(t *testing.T) {
		r := s.start(t, "waitreply", budget...)
		victimStock, victimTarget := startStock(t)
		prof := profileOf(victimTarget)
		f := &forger{}
		attacker := giop.NewClient(nil)
		defer attacker.Close()
		ad := giop.NewAdapter()
		ad.Register([]byte("StockManager"), f)
		attacker.OfferBiDir(ad, []giop.ListenPoint{{Host: "127.0.0.1", Port: prof.Port},
			{Host: "::ffff:127.0.0.1", Port: prof.Port}, {Host: "localhost", Port: prof.Port}})
		_, aerr := nonExistent(attacker, r.p.ref, 10*time.Second)
		victim := giop.NewClient(nil)
		defer victim.Close()
		_, vrcv := proxyAndReceiver(t, victim, r.p.ref, victimTarget, boolProp("WaitReply", true))
		first := nmCall(victim, vrcv, "add_stock", reqInfoCtx("", "", 10_000), addStockArgs("REAL", 1), 15*time.Second)
		ranTarget, ranAttacker := victimStock.calls.Load(), f.calls.Load()
		attacker.Close()
		time.Sleep(300 * time.Millisecond)
		after := nmCall(victim, vrcv, "add_stock", reqInfoCtx("", "", 10_000), addStockArgs("AFTER", 1), 15*time.Second)
		ranAfter := victimStock.calls.Load() - ranTarget
		r.attackDone()
		who := "the real target"
		switch {
		case ranAttacker > 0 && ranTarget == 0:
			who = "the attacker"
		case ranAttacker > 0:
			who = "both"
		case ranTarget == 0:
			who = "nobody"
		}
		r.row("1a", "BI_DIR_IIOP announcing a target's host:port (3 spellings), then another client's WaitReply call to that target (--connect-retry-budget 2s)",
			fmt.Sprintf("_non_existent: %v; it served %d of the agent's calls to the target", errText(aerr), ranAttacker),
			fmt.Sprintf("victim's call: %s, run by %s; after the attacker left: %s (target ran it %d×)", first.kind(), who, after.kind(), ranAfter))
	})
	t.Run("many", func(t *testing.T) {
		r := s.start(t, "waitreply", budget...)
		conns, per := s.n(64), 16
		st := &stock{}
		_, refs := serve(t, "StockManager", st, conns*per)
		cs := clients(t, 8)
		var announced counts
		parallel(conns, 4, func(w, i int) {
			var pts []giop.ListenPoint
			for _, ref := range refs[i*per : (i+1)*per] {
				prof := profileOf(ref)
				pts = append(pts, giop.ListenPoint{Host: prof.Host, Port: prof.Port})
			}
			c := giop.NewClient(nil)
			ad := giop.NewAdapter()
			ad.Register([]byte("StockManager"), &forger{})
			c.OfferBiDir(ad, pts)
			_, err := nonExistent(c, r.p.ref, 10*time.Second)
			announced.add(errText(err))
			c.Close()
		})
		time.Sleep(300 * time.Millisecond)
		var reached counts
		took := parallel(len(refs), 128, func(w, i int) {
			c := cs[w%len(cs)]
			proxy, err := createProxy(c, r.p.ref, refs[i], boolProp("WaitReply", true))
			if err != nil {
				reached.add("proxy: " + shortErr(err))
				return
			}
			rcv, err := receiverOf(c, proxy)
			if err != nil {
				reached.add("receiver: " + shortErr(err))
				return
			}
			reached.add(nmCall(c, rcv, "add_stock", reqInfoCtx("", "", 10_000), addStockArgs("P", 1), 20*time.Second).kind())
		})
		r.attackDone()
		r.row("1b", fmt.Sprintf("%d short connections announcing %d listen points each, then a WaitReply call to a target on each of those %s ports (--connect-retry-budget 2s)",
			conns, per, commas(int64(len(refs)))),
			"announcements: _non_existent "+announced.String(),
			fmt.Sprintf("calls to the %s targets: %s (in %v); targets ran %d", commas(int64(len(refs))), reached.String(),
				took.Round(time.Millisecond), st.calls.Load()))
	})
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return shortErr(err)
}

// --- 2. The admin listener -------------------------------------------------

// listedIDs reads the ids of a /v1/requests answer, old (a list) or new
// (a page).
func listedIDs(body []byte) (ids []string, next string, err error) {
	type info struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	var list []info
	if err := json.Unmarshal(body, &list); err != nil {
		var page struct {
			Requests []info `json:"requests"`
			Next     string `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, "", err
		}
		list, next = page.Requests, page.Next
	}
	for _, i := range list {
		ids = append(ids, i.ID)
	}
	return ids, next, nil
}

var idsRE = regexp.MustCompile(`"next":\s*"([^"]*)"`)

func attackAdmin(t *testing.T, s *suite) {
	r := s.start(t, "waitreply", "--durable=false")
	c := giop.NewClient(nil)
	defer c.Close()
	proxy, rcv := proxyAndReceiver(t, c, r.p.ref, r.target)
	sent := nmCall(c, rcv, "add_stock", reqInfoCtx("secret", "", 0), addStockArgs("SECRET", 42), 10*time.Second)
	if sent.poller == nil {
		t.Fatalf("2PI: %s", sent.kind())
	}
	pollTags(c, proxy, nil, 5000, false, 10*time.Second) // its reply is in
	reqObj, err := createRequest(c, r.p.ref, r.target, "g", "t1", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := r.p.http("GET", "/v1/requests", true, "")
	ids, _, jerr := listedIDs(body)
	if err != nil || code != 200 || jerr != nil || len(ids) != 2 {
		t.Fatalf("GET /v1/requests: %d %v %v %s", code, err, jerr, body)
	}
	// Each listed id, as the bytes of an object key.
	attacker := giop.NewClient(nil)
	defer attacker.Close()
	pulled, reachedQ := "no", "no"
	var pullKinds, qKinds counts
	for _, id := range ids {
		raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
		if err != nil || len(raw) != 16 {
			t.Fatalf("listed id %q", id)
		}
		pr := nmCall(attacker, atKey(r.p.ref, stockID, append([]byte{'L'}, raw...)), "add_stock", waitCtx(1000), addStockArgs("", 0), 5*time.Second)
		pullKinds.add(pr.kind())
		if pr.err == nil && pr.poller == nil {
			if v := pr.resp.Result.Bool(); pr.resp.Result.Err() == nil && v {
				pulled = "yes (the reply, true)"
			}
		}
		gone, err := nonExistent(attacker, atKey(r.p.ref, stockID, append([]byte{'Q'}, raw...)), 5*time.Second)
		qKinds.add(fmt.Sprintf("_non_existent=%v %s", gone, errText(err)))
		if err == nil && !gone {
			reachedQ = "yes"
		}
	}
	// DELETE without the token, of the create_request's request.
	var delCode int
	var delGone bool
	for _, id := range ids {
		delCode, _, _ = r.p.http("DELETE", "/v1/requests/"+id, false, "")
		if g, err := nonExistent(c, reqObj, 5*time.Second); err == nil && g {
			delGone = true
			break
		}
	}
	foreign, _, _ := r.p.http("GET", "/v1/requests", true, "attacker.example:"+strings.Split(r.p.adminAddr, ":")[1])

	r.row("2a", "admin: the ids /v1/requests lists turned into object keys ('L'+id, 'Q'+id); DELETE without the token; a foreign Host header",
		fmt.Sprintf("'L'+id pull: %s; 'Q'+id: %s; DELETE without token: %d; foreign Host: %d", pullKinds.String(), qKinds.String(), delCode, foreign),
		fmt.Sprintf("an id gives a key that pulls the reply: %s, that reaches the request: %s; DELETE without credentials deletes: %v; foreign Host answered %d",
			pulled, reachedQ, delGone, foreign))

	// The listing load: many live requests, two loops listing them.
	n := s.n(100_000)
	cs := clients(t, 8)
	var filled counts
	took := parallel(n, 32, func(w, i int) {
		_, err := createRequest(cs[w%len(cs)], r.p.ref, r.target, "fill", fmt.Sprintf("f%d", i), nil, 30*time.Second)
		filled.add(errText(err))
	})
	t.Logf("filled %d requests in %v: %s", n, took, filled.String())
	for _, all := range []bool{true, false} {
		r.again()
		r.remarkIdle(2 * time.Second)
		var listings, pages atomic.Int64
		var listTime atomic.Int64
		var listErr atomic.Value
		stop := time.Now().Add(10 * time.Second)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					start := time.Now()
					after := ""
					for {
						// The old release ignores the query and lists all.
						path := "/v1/requests"
						if all {
							path += "?limit=10000&after=" + after
						}
						code, body, err := r.p.http("GET", path, true, "")
						if err != nil || code != 200 {
							listErr.Store(fmt.Sprintf("%d %v", code, err))
							time.Sleep(100 * time.Millisecond)
							break
						}
						pages.Add(1)
						// The cursor is at the end of a page; look only there.
						m := idsRE.FindSubmatch(body[max(0, len(body)-512):])
						if !all || m == nil || len(m[1]) == 0 {
							break
						}
						after = string(m[1])
					}
					listings.Add(1)
					listTime.Add(int64(time.Since(start)))
				}
			}()
		}
		wg.Wait()
		r.attackDone()
		mean := time.Duration(listTime.Load() / max(listings.Load(), 1))
		errNote := ""
		if e := listErr.Load(); e != nil {
			errNote = "; a listing failed: " + e.(string)
		}
		if all {
			r.row("2b", fmt.Sprintf("admin: two loops listing all of /v1/requests (pages of 10,000 where there are pages) for 10 s, %s live requests", commas(int64(n))),
				fmt.Sprintf("%d full listings (%d pages), %v each%s", listings.Load(), pages.Load(), mean.Round(time.Millisecond), errNote),
				liveNote(r.p))
		} else {
			r.row("2c", fmt.Sprintf("admin: two loops of GET /v1/requests (no parameters) for 10 s, %s live requests", commas(int64(n))),
				fmt.Sprintf("%d answers, %v each%s", listings.Load(), mean.Round(time.Millisecond), errNote),
				liveNote(r.p))
		}
	}
}

// liveNote says how many requests are live and, where the binary counts
// it, what they hold against MaxIndexBytes.
func liveNote(p *agentProc) string {
	m, err := p.metrics()
	if err != nil {
		return "live requests ?"
	}
	s := fmt.Sprintf("live requests %s", num(m["requestagent_live_requests"]))
	if v, ok := m["requestagent_index_bytes"]; ok {
		s += fmt.Sprintf(", index bytes %s (of MaxIndexBytes)", withUnit(v))
	}
	return s
}

// --- 3. Running out of file descriptors -------------------------------------

func attackFDs(t *testing.T, s *suite) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		s.note("3", "fd exhaustion", "not run: no prlimit(1)")
		return
	}
	limit, n := s.n(100), s.n(120)
	wrap := []string{"prlimit", fmt.Sprintf("--nofile=%d:%d", limit, limit), "--"}
	r := s.startIn(t, filepath.Join(t.TempDir(), "data"), wrap, "waitreply")
	addr := fmt.Sprintf("127.0.0.1:%d", r.p.port)
	held, _ := dialMany(addr, n)
	time.Sleep(time.Second)
	readyDuring, _, _ := r.p.http("GET", "/readyz", false, "")
	closeAll(held)
	start := time.Now()
	served := "not within 20 s"
	var lastErr error
	for time.Since(start) < 20*time.Second {
		c := giop.NewClient(nil)
		_, err := nonExistent(c, r.p.ref, 2*time.Second)
		c.Close()
		if err == nil {
			served = fmt.Sprintf("yes, after %v", time.Since(start).Round(time.Millisecond))
			break
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	if served != "" && lastErr != nil && !strings.HasPrefix(served, "yes") {
		served += " (" + shortErr(lastErr) + ")"
	}
	time.Sleep(500 * time.Millisecond)
	r.attackDone()
	ready, _, _ := r.p.http("GET", "/readyz", false, "")
	health, _, _ := r.p.http("GET", "/healthz", false, "")
	acceptErrs := r.p.metric("requestagent_giop_accept_errors_total")
	extra := ""
	if acceptErrs >= 0 {
		extra = fmt.Sprintf("; accept errors counted: %s", num(acceptErrs))
	}
	r.row("3", fmt.Sprintf("fd exhaustion: the binary under a limit of %d open files, %d idle connections opened and closed", limit, n),
		fmt.Sprintf("%d of %d connections opened; /readyz during: %d", len(held), n, readyDuring),
		fmt.Sprintf("a new client afterwards served: %s; /readyz %d, /healthz %d; process %s%s", served, ready, health, r.p.exitStatus(), extra))
}

// --- 4. The store: big fields, a full disk -----------------------------------

// bigIOR is a reference of about n bytes: base's profile followed by
// filler profiles of an unknown tag (agent/attack_limits_test.go).
func bigIOR(base *giop.IOR, profiles, size int) *giop.IOR {
	out := &giop.IOR{TypeID: base.TypeID, Profiles: append([]giop.TaggedProfile(nil), base.Profiles...)}
	for range profiles {
		out.Profiles = append(out.Profiles, giop.TaggedProfile{Tag: 0x7777, Data: bytes.Repeat([]byte{1}, size)})
	}
	return out
}

// diskUsage is what du says of dir: the blocks its files take.
func diskUsage(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

func attackStore(t *testing.T, s *suite) {
	t.Run("fields", func(t *testing.T) {
		r := s.start(t, "waitreply", "--max-store-bytes", "50000000")
		n := s.n(600)
		big := bigIOR(r.target, 31, 60<<10)
		cookie := bytes.Repeat([]byte{'c'}, 64<<10)
		cs := clients(t, 4)
		var got counts
		took := parallel(n, 4, func(w, i int) {
			_, err := createRequest(cs[w], r.p.ref, big, "store", fmt.Sprintf("s%d", i), cookie, 60*time.Second)
			got.add(errText(err))
		})
		r.attackDone()
		du := diskUsage(r.p.dataDir)
		restart := "not ready"
		var rssAfter float64
		if err := r.p.restart(); err == nil {
			samp := r.p.startSampler()
			time.Sleep(3 * time.Second)
			_, peak, _, _ := samp.finish()
			rssAfter = peak.rss
			restart = "RSS after restart " + withUnit(rssAfter)
		} else {
			restart = "restart: " + err.Error()
		}
		r.row("4a", fmt.Sprintf("%s create_request, each a %.1f MiB target reference (31 profiles) and a 64 KiB cookie, --max-store-bytes 50000000",
			commas(int64(n)), float64(big.Size())/(1<<20)),
			fmt.Sprintf("%s (in %v)", got.String(), took.Round(time.Millisecond)),
			fmt.Sprintf("%s MB on disk; %s", commas(du/1_000_000), restart))
	})
	t.Run("diskfull", func(t *testing.T) {
		if os.Geteuid() != 0 {
			s.note("4b", "disk full", "not run: mounting a tmpfs needs root")
			return
		}
		// Above the agent's default --store-reserve (64 MiB), which
		// refuses new work on any smaller filesystem from the start.
		size := s.n(192)
		mnt := filepath.Join(t.TempDir(), "tmpfs")
		os.MkdirAll(mnt, 0o755)
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", size), "tmpfs", mnt).CombinedOutput(); err != nil {
			s.note("4b", "disk full", fmt.Sprintf("not run: mount: %v %s", err, out))
			return
		}
		// Registered before the agent's own clean-up, so it runs after it.
		t.Cleanup(func() {
			if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v %s", mnt, err, out)
			}
		})
		r := s.startIn(t, filepath.Join(mnt, "data"), nil, "waitreply")
		c := giop.NewClient(nil)
		defer c.Close()
		_, rcv := proxyAndReceiver(t, c, r.p.ref, r.target)
		// Incompressible (Badger compresses its tables), without NULs
		// (a CDR string).
		rnd := make([]byte, 512<<10)
		crand.Read(rnd)
		for i := range rnd {
			rnd[i] = 1 + rnd[i]%255
		}
		payload := string(rnd)
		var acked []*giop.IOR
		var refusals counts
		fails := 0
		for i := 0; i < 100_000 && fails < 5 && r.p.alive(); i++ {
			res := nmCall(c, rcv, "add_stock", reqInfoCtx("", "", 0), addStockArgs(payload, float64(i)), 30*time.Second)
			if res.poller != nil {
				acked = append(acked, res.poller)
				fails = 0
				continue
			}
			refusals.add(res.kind())
			fails++
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		r.attackDone()
		status := r.p.exitStatus()
		if strings.Contains(r.p.errors(), "signal SIGBUS") {
			status += ", SIGBUS"
		}
		if !r.p.alive() {
			t.Logf("the agent's last words:\n%s", crashLines(r.p.errors()))
		}
		lastLog := lastLogLine(r.p.errors())
		exec.Command("mount", "-o", fmt.Sprintf("remount,size=%dm", 16*size), mnt).Run()
		var after counts
		restart := "ready"
		if err := r.p.restart(); err != nil {
			restart = "restart: " + err.Error() + ": " + lastLogLine(r.p.errors())
		} else {
			pc := clients(t, 8)
			parallel(len(acked), 8, func(w, i int) {
				res := nmCall(pc[w], acked[i], "add_stock", waitCtx(10_000), addStockArgs("", 0), 20*time.Second)
				switch {
				case res.err == nil && res.poller == nil:
					after.add("served")
				case res.replierName:
					after.add("served (" + shortErr(res.err) + ")")
				default:
					after.add(res.kind())
				}
			})
		}
		r.row("4b", fmt.Sprintf("disk full: data dir on a %d MiB tmpfs, 2PIs of 512 KiB (random bytes) until refused; then the tmpfs grown, the agent restarted", size),
			fmt.Sprintf("%d acknowledged; then %s", len(acked), refusals.String()),
			fmt.Sprintf("agent %s (last log: %s); after the restart (%s): %s of %d acknowledged", status, lastLog, restart, after.String(), len(acked)))
	})
}

// crashLines is a Go crash's message and the first frames of the
// crashing goroutine.
func crashLines(stderr string) string {
	i := strings.Index(stderr, "unexpected fault address")
	if i < 0 {
		i = strings.Index(stderr, "fatal error")
	}
	if i < 0 {
		return tail(stderr, 10)
	}
	lines := strings.Split(stderr[i:], "\n")
	return strings.Join(lines[:min(len(lines), 24)], "\n")
}

// lastLogLine is the message of the agent's last log line of level warn
// or above, or its last line.
func lastLogLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if strings.Contains(l, `"level":"error"`) || strings.Contains(l, `"level":"fatal"`) ||
			strings.Contains(l, `"level":"warn"`) || strings.HasPrefix(l, "unexpected fault") ||
			strings.HasPrefix(l, "panic") || strings.HasPrefix(l, "fatal") || strings.HasPrefix(l, "requestagent:") {
			return logMessage(l)
		}
	}
	if len(lines) > 0 && lines[len(lines)-1] != "" {
		return logMessage(lines[len(lines)-1])
	}
	return "none"
}

func logMessage(l string) string {
	var m map[string]any
	if json.Unmarshal([]byte(l), &m) == nil {
		msg := fmt.Sprint(m["message"])
		if e, ok := m["error"]; ok {
			msg += ": " + fmt.Sprint(e)
		}
		l = msg
	}
	if len(l) > 160 {
		l = l[:160] + "…"
	}
	return l
}

// --- 5. Fragments ----------------------------------------------------------

func attackFragments(t *testing.T, s *suite) {
	r := s.start(t, "waitreply")
	n, chains := s.n(128), 8
	conns, failed := dialMany(fmt.Sprintf("127.0.0.1:%d", r.p.port), n)
	var complete atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rawgiop.FragmentChains(nc, chains) {
				complete.Add(1)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	time.Sleep(time.Second)
	open := r.p.metric("requestagent_giop_connections")
	r.attackDone()
	closeAll(conns)
	r.row("5", fmt.Sprintf("%s connections each sending %d legal GIOP 1.2 fragment chains of 2 MiB, never finished", commas(int64(n)), chains),
		fmt.Sprintf("%s; %d of them wrote all their chains, in %v", dialed(conns, n, failed), complete.Load(), took.Round(time.Millisecond)),
		fmt.Sprintf("GIOP connections the agent still held 1 s later: %s", num(open)))
}

// --- 6. LOCATION_FORWARD into the agent ---------------------------------------

func attackForwardLoop(t *testing.T, s *suite) {
	r := s.start(t, "waitreply")
	f := &forwarder{}
	_, frefs := serve(t, "Forwarder", f, 1)
	c := giop.NewClient(nil)
	defer c.Close()
	proxy, err := createProxy(c, r.p.ref, frefs[0])
	if err != nil {
		r.row("6", "a target answering LOCATION_FORWARD to its proxy's receiver", "proxy refused: "+shortErr(err), "–")
		return
	}
	rcv, err := receiverOf(c, proxy)
	if err != nil {
		t.Fatal(err)
	}
	p := *profileOf(rcv)
	p.Host = "::ffff:127.0.0.1"
	f.where.Store(giop.NewIOR(rcv.TypeID, &p))
	accepted := `requestagent_requests_total{outcome="accepted"}`
	before := max(r.p.metric(accepted), 0)
	n := s.n(1)
	var pollers []*giop.IOR
	var sent counts
	for i := range n {
		res := nmCall(c, rcv, "add_stock", reqInfoCtx("", "", 0), addStockArgs(fmt.Sprintf("LOOP%d", i), 1), 10*time.Second)
		sent.add(res.kind())
		if res.poller != nil {
			pollers = append(pollers, res.poller)
		}
	}
	time.Sleep(15 * time.Second)
	stored := r.p.metric(accepted) - before
	live := r.p.metric("requestagent_live_requests")
	var results counts
	for _, pl := range pollers {
		results.add(nmCall(c, pl, "add_stock", waitCtx(1000), addStockArgs("", 0), 5*time.Second).kind())
	}
	r.attackDone()
	r.row("6", fmt.Sprintf("a target answering every call with LOCATION_FORWARD to its proxy's receiver (spelt ::ffff:127.0.0.1); %d client call(s), 15 s", n),
		fmt.Sprintf("call: %s; its result: %s", sent.String(), results.String()),
		fmt.Sprintf("%s requests stored in 15 s (%s live at the end); the target was called %s times", num(stored), num(live), commas(f.calls.Load())))
}

// --- 7. Spellings of the agent's own address ----------------------------------

// mappedSpellings returns n different ways of writing ::ffff:127.0.0.1.
func mappedSpellings(n int) []string {
	tails := []string{"127.0.0.1", "7f00:1", "7f00:0001", "7F00:01", "7f00:001"}
	ffs := []string{"ffff", "FFFF", "Ffff", "fFff", "ffFf", "fffF", "FFff", "ffFF", "FfFf", "fFfF", "FffF", "fFFf", "FFFf", "FFfF", "FfFF", "fFFF"}
	seen := map[string]bool{}
	var out []string
	for _, ff := range ffs {
		for _, tl := range tails {
			for w := range 1024 {
				var groups []string
				for g := range 5 {
					groups = append(groups, strings.Repeat("0", 1+(w>>(2*g))&3))
				}
				s := strings.Join(groups, ":") + ":" + ff + ":" + tl
				if !seen[s] {
					seen[s] = true
					out = append(out, s)
					if len(out) == n {
						return out
					}
				}
			}
		}
	}
	return out
}

func attackSpellings(t *testing.T, s *suite) {
	maxConns := s.n(300)
	r := s.start(t, "waitreply", "--max-connections", strconv.Itoa(maxConns))
	n := s.n(400)
	fdsBefore := r.p.sample().fds
	cs := clients(t, 4)
	var made counts
	sp := mappedSpellings(n)
	parallel(n, 8, func(w, i int) {
		c := cs[w%len(cs)]
		target := giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: sp[i], Port: uint16(r.p.port),
			ObjectKey: []byte("RequestAgent")})
		proxy, err := createProxy(c, r.p.ref, target)
		if err != nil {
			made.add("proxy " + shortErr(err))
			return
		}
		rcv, err := receiverOf(c, proxy)
		if err != nil {
			made.add("receiver " + shortErr(err))
			return
		}
		made.add("call " + nmCall(c, rcv, "add_stock", reqInfoCtx("", "", 0), addStockArgs("SELF", 1), 20*time.Second).kind())
	})
	time.Sleep(3 * time.Second)
	fdsAfter := r.p.sample().fds
	var fresh counts
	for range 20 {
		c := giop.NewClient(nil)
		_, err := nonExistent(c, r.p.ref, 5*time.Second)
		fresh.add(errText(err))
		c.Close()
	}
	r.attackDone()
	r.row("7", fmt.Sprintf("%s proxies whose target spells ::ffff:127.0.0.1 a different way, at the agent's own port, one 2PI each; --maxConnections %d",
		commas(int64(n)), maxConns),
		made.String(),
		fmt.Sprintf("fds %s → %s; 20 new real clients afterwards: %s", num(fdsBefore), num(fdsAfter), fresh.String()))
}

// --- 8. A receiver's key, one byte changed -------------------------------------

func attackKeyFlip(t *testing.T, s *suite) {
	r := s.start(t, "waitreply")
	c := giop.NewClient(nil)
	defer c.Close()
	var props, destroy, proxyGone counts
	for range s.n(1) {
		proxy, rcv := proxyAndReceiver(t, c, r.p.ref, r.target)
		key := bytes.Clone(profileOf(rcv).ObjectKey)
		if key[0] != 'R' {
			t.Logf("receiver key starts with %q", key[0])
		}
		key[0] = 'P'
		ref := atKey(rcv, nmproto.RequestProxyID, key)
		props.add(nmCall(c, ref, "_get_properties", nil, nil, 5*time.Second).kind())
		destroy.add(nmCall(c, ref, "destroy", nil, func(e *giop.Encoder) { e.WriteBool(true) }, 5*time.Second).kind())
		gone, err := nonExistent(c, proxy, 5*time.Second)
		proxyGone.add(fmt.Sprintf("proxy gone: %v %s", gone, errText(err)))
	}
	r.attackDone()
	r.row("8", "a typed receiver's object key with its first byte changed ('R'→'P')",
		fmt.Sprintf("properties(): %s; destroy(true): %s", props.String(), destroy.String()),
		proxyGone.String())
}

// --- 9. One big group polled ------------------------------------------------------

func attackBigGroup(t *testing.T, s *suite) {
	extra := []string{"--maxThreads", "1", "--maxQueueSize", "0", "--durable=false"}
	if s.has("--max-queue-per-target") {
		extra = append(extra, "--max-queue-per-target", "0", "--max-threads-per-target", "1")
	}
	r := s.start(t, "create", extra...)
	h := hung(t)
	c := giop.NewClient(nil)
	defer c.Close()
	proxy, rcv := proxyAndReceiver(t, c, r.p.ref, h)
	n := s.n(200_000)
	cs := clients(t, 8)
	var filled counts
	took := parallel(n, 32, func(w, i int) {
		filled.add(nmCall(cs[w%len(cs)], rcv, "add_stock", reqInfoCtx("", "", 0), addStockArgs("G", 1), 30*time.Second).kind())
	})
	t.Logf("filled %d in %v: %s", n, took, filled.String())
	r.remarkIdle(2 * time.Second)
	var polls atomic.Int64
	var pollTime atomic.Int64
	var res counts
	stop := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	for range 3 {
		pc := giop.NewClient(nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.Close()
			for time.Now().Before(stop) {
				start := time.Now()
				tags, err := pollTags(pc, proxy, nil, pollTimeout(), false, 60*time.Second)
				pollTime.Add(int64(time.Since(start)))
				polls.Add(1)
				if err != nil {
					res.add(shortErr(err))
				} else {
					res.add(fmt.Sprintf("%d tags", len(tags)))
				}
			}
		}()
	}
	wg.Wait()
	r.attackDone()
	mean := time.Duration(pollTime.Load() / max(polls.Load(), 1))
	r.row("9", fmt.Sprintf("one proxy's group of %s requests pending on a held target (%s); 3 connections polling it in a loop for 10 s; the bystander makes create_request calls",
		commas(int64(n)), strings.Join(extra, " ")),
		fmt.Sprintf("fill: %s in %v; %d polls (%v each): %s", filled.String(), took.Round(time.Second), polls.Load(), mean.Round(time.Microsecond), res.String()),
		liveNote(r.p))
}

// --- 10. A corrupt store ---------------------------------------------------------------

// ackedThenKilled starts an agent, has n 2PIs acknowledged, kills it with
// SIGKILL and returns it with the pollers, its newest memtable log and
// how many bytes of that log were written: the store the corruption
// attacks then damage.
func ackedThenKilled(t *testing.T, s *suite, n int) (r *run, acked []*giop.IOR, mem string, used int64) {
	t.Helper()
	r = s.start(t, "waitreply")
	c := giop.NewClient(nil)
	defer c.Close()
	_, rcv := proxyAndReceiver(t, c, r.p.ref, r.target)
	acked = sendAcked(t, r.p, rcv, n)
	time.Sleep(200 * time.Millisecond)
	r.p.kill()
	mem, used, err := newestMem(r.p.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return r, acked, mem, used
}

// newestMem returns the newest memtable log of a Badger directory and how
// many of its bytes are written (the rest is the zeroes of its
// preallocation).
func newestMem(dir string) (string, int64, error) {
	mems, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	if len(mems) == 0 {
		return "", 0, fmt.Errorf("no .mem file in %s", dir)
	}
	slices.Sort(mems)
	path := mems[len(mems)-1]
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, err
	}
	end := int64(len(b))
	for end > 0 && b[end-1] == 0 {
		end--
	}
	return path, end, nil
}

// sendAcked makes n 2PIs through rcv and returns the pollers of those
// acknowledged.
func sendAcked(t *testing.T, p *agentProc, rcv *giop.IOR, n int) []*giop.IOR {
	cs := clients(t, 8)
	out := make([]*giop.IOR, n)
	parallel(n, 16, func(w, i int) {
		res := nmCall(cs[w%len(cs)], rcv, "add_stock", reqInfoCtx("", "", 0), addStockArgs(fmt.Sprintf("C%d", i), 1), 20*time.Second)
		out[i] = res.poller
	})
	return slices.DeleteFunc(out, func(p *giop.IOR) bool { return p == nil })
}

// served counts the pollers whose request the agent still has: the pull
// gives a result (a normal reply, or an exception that is the result).
func served(t *testing.T, pollers []*giop.IOR, pull bool) (n int, kinds string) {
	cs := clients(t, 8)
	var k counts
	var ok atomic.Int64
	parallel(len(pollers), 16, func(w, i int) {
		if !pull {
			gone, err := nonExistent(cs[w%len(cs)], pollers[i], 10*time.Second)
			switch {
			case err != nil:
				k.add(shortErr(err))
			case gone:
				k.add("gone")
			default:
				k.add("there")
				ok.Add(1)
			}
			return
		}
		res := nmCall(cs[w%len(cs)], pollers[i], "add_stock", waitCtx(10_000), addStockArgs("", 0), 20*time.Second)
		switch {
		case res.err == nil && res.poller == nil:
			k.add("served")
			ok.Add(1)
		case res.replierName:
			k.add("served (" + shortErr(res.err) + ")")
			ok.Add(1)
		default:
			k.add(res.kind())
		}
	})
	return int(ok.Load()), k.String()
}

// logSaid sums up what the agent logged at warn or above, besides the
// usual.
func logSaid(stderr string) string {
	var said []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`) || strings.Contains(l, `"level":"fatal"`) ||
			strings.HasPrefix(l, "requestagent:") || strings.HasPrefix(l, "panic") {
			m := logMessage(l)
			if !slices.Contains(said, m) {
				said = append(said, m)
			}
		}
	}
	if len(said) == 0 {
		return "nothing"
	}
	if len(said) > 3 {
		said = append(said[:3], fmt.Sprintf("… (%d messages)", len(said)))
	}
	return `"` + strings.Join(said, `"; "`) + `"`
}

func attackCorruption(t *testing.T, s *suite) {
	n := s.n(2000)
	t.Run("flip", func(t *testing.T) {
		r, acked, mem, used := ackedThenKilled(t, s, n)
		f, err := os.OpenFile(mem, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		var b [1]byte
		f.ReadAt(b[:], used/2)
		b[0] ^= 0xff
		f.WriteAt(b[:], used/2)
		f.Close()
		r.p.start()
		outcome := ""
		if err := r.p.waitReady(60 * time.Second); err != nil {
			outcome = fmt.Sprintf("restart: %v; said %s", err, logSaid(r.p.errors()))
		} else {
			got, kinds := served(t, acked, true)
			outcome = fmt.Sprintf("after the restart %s of %s acknowledged served (%s); said %s", commas(int64(got)), commas(int64(len(acked))), kinds, logSaid(r.p.errors()))
		}
		r.attackDone()
		r.row("10a", fmt.Sprintf("%s 2PIs acknowledged, SIGKILL, one byte flipped mid-way in the newest .mem (%s, at %s of %s written bytes), restart",
			commas(int64(n)), filepath.Base(mem), commas(used/2), commas(used)),
			fmt.Sprintf("%d acknowledged", len(acked)), outcome)
	})
	// Truncated to half its written bytes, and to nothing (as a crash
	// while the file is being made, or a full disk, leaves it).
	for _, cut := range []struct {
		n, name string
		frac    float64
	}{{"10b", "truncate", 0.5}, {"10c", "empty", 0}} {
		t.Run(cut.name, func(t *testing.T) {
			r, acked, mem, used := ackedThenKilled(t, s, n)
			if err := os.Truncate(mem, int64(float64(used)*cut.frac)); err != nil {
				t.Fatal(err)
			}
			var starts []string
			for i := 1; i <= 2; i++ {
				r.p.start()
				if err := r.p.waitReady(60 * time.Second); err != nil {
					starts = append(starts, fmt.Sprintf("start %d: %v, said %s", i, err, logSaid(r.p.errors())))
					r.p.kill()
					continue
				}
				got, kinds := served(t, acked, i == 2)
				starts = append(starts, fmt.Sprintf("start %d: %s of %s there (%s), said %s", i, commas(int64(got)), commas(int64(len(acked))), kinds, logSaid(r.p.errors())))
				r.p.stop(30 * time.Second)
			}
			r.attackDone()
			what := fmt.Sprintf("truncated to half its %s written bytes", commas(used))
			if cut.frac == 0 {
				what = "truncated to 0 bytes"
			}
			r.row(cut.n, fmt.Sprintf("%s 2PIs acknowledged, SIGKILL, the newest .mem (%s) %s; started twice",
				commas(int64(n)), filepath.Base(mem), what),
				fmt.Sprintf("%d acknowledged", len(acked)), strings.Join(starts, "; "))
		})
	}
}

// --- 11. Overload at the defaults -------------------------------------------------------

func attackOverload(t *testing.T, s *suite) {
	r := s.start(t, "waitreply")
	h := hung(t)
	c := giop.NewClient(nil)
	defer c.Close()
	_, rcv := proxyAndReceiver(t, c, r.p.ref, h)
	n := s.n(40_000)
	cs := clients(t, 8)
	var got counts
	took := parallel(n, 32, func(w, i int) {
		got.add(nmCall(cs[w%len(cs)], rcv, "add_stock", reqInfoCtx("", "", 0), addStockArgs("O", 1), 30*time.Second).kind())
	})
	time.Sleep(2 * time.Second)
	r.attackDone()
	r.row("11", fmt.Sprintf("overload at the defaults: %s 2PIs to a target that accepts and never answers", commas(int64(n))),
		fmt.Sprintf("%s in %v", got.String(), took.Round(time.Millisecond)),
		fmt.Sprintf("delegations in flight %s, queued %s", num(r.p.metric("requestagent_delegations_in_flight")), num(r.p.metric("requestagent_queue_depth"))))
}

// --- 12. Global caps: forever polls, slowloris ---------------------------------------------

func attackGlobalCaps(t *testing.T, s *suite) {
	t.Run("polls", func(t *testing.T) {
		r := s.start(t, "waitreply")
		h := hung(t)
		c := giop.NewClient(nil)
		defer c.Close()
		proxy, rcv := proxyAndReceiver(t, c, r.p.ref, h)
		if res := nmCall(c, rcv, "add_stock", reqInfoCtx("", "", 0), addStockArgs("W", 1), 10*time.Second); res.poller == nil {
			t.Fatalf("2PI: %s", res.kind())
		}
		key := profileOf(proxy).ObjectKey
		n, per := s.n(40), 1024
		var msgs [][]byte
		for i := range per {
			msgs = append(msgs, rawRequest(uint32(2*i+1), key, "poll", func(e *giop.Encoder) {
				e.WriteULong(nmproto.WaitForever)
				e.WriteBool(false)
			}))
		}
		batch := bytes.Join(msgs, nil)
		conns, failed := dialMany(fmt.Sprintf("127.0.0.1:%d", r.p.port), n)
		var replies counts
		var replied atomic.Int64
		var lastReply atomic.Int64
		start := time.Now()
		var readers sync.WaitGroup
		for _, nc := range conns {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					m, err := readMessage(nc)
					if err != nil {
						return
					}
					if m.Type != giop.MsgReply {
						replies.add(m.Type.String())
						continue
					}
					replied.Add(1)
					lastReply.Store(int64(time.Since(start)))
					h, d, err := giop.DecodeReply(m)
					switch {
					case err != nil:
						replies.add("bad reply")
					case h.Status == giop.ReplySystemException:
						replies.add(sysName(d.SystemException()))
					default:
						replies.add(h.Status.String())
					}
				}
			}()
			go func() {
				nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
				nc.Write(batch)
			}()
		}
		// Until the refusals stop coming (at least 3 s, at most 60 s).
		for prev := int64(-1); time.Since(start) < 60*time.Second; {
			time.Sleep(time.Second)
			if now := replied.Load(); time.Since(start) > 3*time.Second && now == prev {
				break
			} else {
				prev = now
			}
		}
		waiting := r.p.metric("requestagent_calls_waiting")
		r.attackDone()
		closeAll(conns)
		readers.Wait()
		time.Sleep(2 * time.Second)
		after := r.p.sample()
		w := ""
		if waiting >= 0 {
			w = fmt.Sprintf("calls waiting %s; ", num(waiting))
		}
		r.row("12a", fmt.Sprintf("%d connections × %d forever polls (RequestProxy::poll, timeout 0xFFFFFFFF)", n, per),
			fmt.Sprintf("%s; replies: %s, the last after %v; the rest blocked", dialed(conns, n, failed), replies.String(),
				time.Duration(lastReply.Load()).Round(time.Millisecond)),
			fmt.Sprintf("%sgoroutines after they closed: %s, RSS %s", w, num(after.goroutines), withUnit(after.rss)))
	})
	t.Run("slowloris", func(t *testing.T) {
		r := s.start(t, "waitreply")
		n := s.n(4000)
		// In helper processes of at most 10,000 connections each: this
		// machine allows a process 20,000 open files.
		var helpers []*helperProc
		for left := n; left > 0; left -= 10_000 {
			helpers = append(helpers, startHelper(t, fmt.Sprintf("slowloris 127.0.0.1:%d %d", r.p.port, min(left, 10_000))))
		}
		connected := 0
		var why []string
		for _, h := range helpers {
			c, reason := h.result()
			connected += c
			if reason != "none" {
				why = append(why, reason)
			}
		}
		time.Sleep(3 * time.Second)
		open := r.p.metric("requestagent_giop_connections")
		r.attackDone()
		for _, h := range helpers {
			h.finish()
		}
		attacker := fmt.Sprintf("%s of %s connected", commas(int64(connected)), commas(int64(n)))
		if len(why) > 0 {
			attacker += " (" + strings.Join(why, "; ") + ")"
		}
		r.row("12b", fmt.Sprintf("slowloris: %s connections (from %d processes) each sending 12 bytes of a GIOP header declaring a 2 MiB body, then nothing",
			commas(int64(n)), len(helpers)),
			attacker, fmt.Sprintf("GIOP connections held: %s", num(open)))
	})
}

// helperEnv makes the test binary a helper process (TestMain): it holds
// connections for an attack that needs more open files than one process
// may have.
const helperEnv = "REQUESTAGENT_ATTACK_HELPER"

// runHelper serves "slowloris ADDR N": it opens N connections to ADDR,
// sends each a GIOP header declaring a 2 MiB Request, prints how many
// connected and why the others did not, and holds them until its
// standard input closes.
func runHelper(spec string) int {
	var addr string
	var n int
	if _, err := fmt.Sscanf(spec, "slowloris %s %d", &addr, &n); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	conns, failed := dialMany(addr, n)
	hdr := rawgiop.Header(1, 2, 1, giop.MsgRequest, 2<<20)
	for _, nc := range conns {
		nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		nc.Write(hdr)
	}
	fmt.Printf("%d\t%s\n", len(conns), failed.String())
	io.Copy(io.Discard, os.Stdin)
	closeAll(conns)
	return 0
}

// helperProc is a running helper.
type helperProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHelper(t *testing.T, spec string) *helperProc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &helperProc{cmd: exec.Command(self, "-test.run=^$")}
	h.cmd.Env = append(os.Environ(), helperEnv+"="+spec)
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	h.cmd.Stderr = os.Stderr
	if h.stdin, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.out = bufio.NewReader(stdout)
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.finish)
	return h
}

// result waits for the helper's report: connections made, and why the
// others were not.
func (h *helperProc) result() (int, string) {
	line, err := h.out.ReadString('\n')
	if err != nil {
		return 0, "helper: " + err.Error()
	}
	n, why, _ := strings.Cut(strings.TrimSpace(line), "\t")
	c, _ := strconv.Atoi(n)
	return c, why
}

// finish makes the helper close its connections and exit; idempotent.
func (h *helperProc) finish() {
	if h.stdin == nil {
		return
	}
	h.stdin.Close()
	h.stdin = nil
	h.cmd.Wait()
}

// --- 13. Pseudo-operations on a typed receiver ----------------------------------------------

func attackPseudoOps(t *testing.T, s *suite) {
	r := s.start(t, "waitreply")
	st, target := startStock(t)
	c := giop.NewClient(nil)
	defer c.Close()
	proxy, rcv := proxyAndReceiver(t, c, r.p.ref, target)
	ops := []struct {
		name string
		args func(*giop.Encoder)
	}{
		{"_component", nil}, {"_get_component", nil}, {"_domain_managers", nil},
		{"_get_policy", func(e *giop.Encoder) { e.WriteULong(1) }},
	}
	var answers []string
	stored := 0
	for i := range s.n(1) {
		for _, op := range ops {
			res := nmCall(c, rcv, op.name, reqInfoCtx(fmt.Sprintf("tag-%s-%d", op.name, i), "", 0), op.args, 10*time.Second)
			if res.poller != nil {
				stored++
			}
			if i == 0 {
				answers = append(answers, op.name+": "+res.kind())
			}
		}
	}
	time.Sleep(500 * time.Millisecond)
	tags, err := pollTags(c, proxy, nil, 2000, false, 10*time.Second)
	poll := ""
	if err != nil {
		poll = "poll: " + shortErr(err)
	} else {
		empty := 0
		for _, tg := range tags {
			if tg == "" {
				empty++
			}
		}
		poll = fmt.Sprintf("poll: %d tags (%d empty)", len(tags), empty)
	}
	r.attackDone()
	r.row("13", fmt.Sprintf("pseudo-operations on a typed receiver (_component, _get_component, _domain_managers, _get_policy) ×%d", s.n(1)),
		strings.Join(answers, "; "),
		fmt.Sprintf("%d of %d stored as requests; %s; the target got %d calls", stored, len(ops)*s.n(1), poll, st.calls.Load()))
}

// --- 14. A target that lies about CloseConnection ----------------------------------------------

func attackLiar(t *testing.T, s *suite) {
	r := s.start(t, "waitreply")
	ref, ran, bySym := liar(t)
	c := giop.NewClient(nil)
	defer c.Close()
	_, rcv := proxyAndReceiver(t, c, r.p.ref, ref, boolProp("WaitReply", true))
	n := s.n(1)
	var results counts
	var wg sync.WaitGroup
	var longest atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			results.add(nmCall(c, rcv, "add_stock", reqInfoCtx("", "", 10_000), addStockArgs(fmt.Sprintf("L%d", i), 1), 15*time.Second).kind())
			d := int64(time.Since(start))
			for {
				old := longest.Load()
				if d <= old || longest.CompareAndSwap(old, d) {
					break
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	at2 := ran.Load()
	wg.Wait()
	took := time.Duration(longest.Load())
	atEnd := ran.Load()
	r.attackDone()
	r.row("14", fmt.Sprintf("a target that runs each call and then sends CloseConnection instead of replying; %d WaitReply call(s)", n),
		fmt.Sprintf("%s after %v", results.String(), took.Round(time.Millisecond)),
		fmt.Sprintf("the target ran the request(s) %d times within 2 s (%d by the end; one request at most %d times)", at2, atEnd, bySym.most()))
}

func pollTimeout() uint32 {
	n, _ := strconv.Atoi(os.Getenv("REQUESTAGENT_ATTACK_POLL_TIMEOUT"))
	return uint32(n)
}

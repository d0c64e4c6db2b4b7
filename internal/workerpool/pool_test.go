package workerpool

import (
	"runtime"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func (p *Pool[T]) started() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spawned
}

// waitIdle waits until n workers are idle (a worker parks just after its
// task returns, so the test cannot know the instant otherwise).
func waitIdle[T any](t *testing.T, p *Pool[T], n int) {
	t.Helper()
	for i := 0; p.Idle() != n; i++ {
		if i > 1e6 {
			t.Fatalf("idle workers: %d, want %d", p.Idle(), n)
		}
		runtime.Gosched()
	}
}

func TestReusesIdleWorker(t *testing.T) {
	var wg sync.WaitGroup
	p := New(func(int) { wg.Done() }, 4)
	defer p.Close()
	for range 10 {
		wg.Add(1)
		p.Go(1)
		wg.Wait()
		waitIdle(t, p, 1)
	}
	if got := p.started(); got != 1 {
		t.Errorf("10 tasks one after another started %d workers, want 1", got)
	}
}

// A task that waits for a later one must not starve it: Go starts a
// worker when none is idle (docs/callbacks.md's nested callbacks depend on it).
func TestNeverWaitsForAWorker(t *testing.T) {
	release := make(chan struct{})
	done := make(chan struct{})
	p := New(func(f func()) { f() }, 1)
	defer p.Close()
	p.Go(func() { <-release; close(done) })
	p.Go(func() { close(release) })
	<-done
}

func TestKeepsAtMostMaxIdle(t *testing.T) {
	const n, maxIdle = 8, 3
	var started, finished sync.WaitGroup
	block := make(chan struct{})
	p := New(func(int) { started.Done(); <-block; finished.Done() }, maxIdle)
	defer p.Close()
	started.Add(n)
	finished.Add(n)
	for i := range n {
		p.Go(i)
	}
	started.Wait()
	close(block)
	finished.Wait()
	waitIdle(t, p, maxIdle)
	if got := p.started(); got != n {
		t.Errorf("started %d workers for %d concurrent tasks", got, n)
	}
}

func TestCloseStopsIdleWorkersAndIsIdempotent(t *testing.T) {
	var wg sync.WaitGroup
	p := New(func(int) { wg.Done() }, 8)
	wg.Add(3)
	for i := range 3 {
		p.Go(i)
	}
	wg.Wait()
	p.Close()
	p.Close()
	if p.Idle() != 0 {
		t.Errorf("%d idle workers after Close", p.Idle())
	}
	goleak.VerifyNone(t)
}

func TestGoAfterCloseStillRuns(t *testing.T) {
	done := make(chan struct{})
	p := New(func(c chan struct{}) { close(c) }, 1)
	p.Close()
	p.Go(done)
	<-done
}

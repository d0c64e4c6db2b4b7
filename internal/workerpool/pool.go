package workerpool

import "sync"

// Pool runs Run(t) for each submitted t on a pooled goroutine.
type Pool[T any] struct {
	run     func(T)
	maxIdle int

	mu     sync.Mutex // guards idle and closed
	idle   []*worker[T]
	closed bool

	wg      sync.WaitGroup // every worker
	spawned int            // workers started; guarded by mu (for tests)
}

type worker[T any] struct {
	ch chan T // buffered 1: the next task; closed by Close
}

// New returns a pool that runs run for each task and keeps at most maxIdle
// workers waiting for tasks (at least 1).
func New[T any](run func(T), maxIdle int) *Pool[T] {
	return &Pool[T]{run: run, maxIdle: max(maxIdle, 1)}
}

// Go runs t on an idle worker, or on a new one if none is idle. It never
// blocks. After Close, t still runs, on a goroutine of its own.
func (p *Pool[T]) Go(t T) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1] // the most recently used: its stack is warm
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.ch <- t
		return
	}
	if p.closed {
		// Close may be waiting on wg already: no Add now.
		p.mu.Unlock()
		go p.run(t)
		return
	}
	p.spawned++
	p.wg.Add(1)
	p.mu.Unlock()
	go p.work(t)
}

func (p *Pool[T]) work(t T) {
	defer p.wg.Done()
	var w *worker[T]
	for {
		p.run(t)
		var zero T
		t = zero // do not keep the task alive while idle
		p.mu.Lock()
		if p.closed || len(p.idle) >= p.maxIdle {
			p.mu.Unlock()
			return
		}
		if w == nil {
			w = &worker[T]{ch: make(chan T, 1)}
		}
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		var ok bool
		if t, ok = <-w.ch; !ok {
			return
		}
	}
}

// Idle returns how many workers wait for a task.
func (p *Pool[T]) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Close stops the idle workers and waits until every worker has exited,
// so the tasks running must be made to end (cancelled) first. It is
// idempotent.
func (p *Pool[T]) Close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, w := range idle {
		close(w.ch)
	}
	p.wg.Wait()
}

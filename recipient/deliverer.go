package recipient

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/internal/timerpool"
)

// Config configures a Deliverer. Zero fields take their defaults.
type Config struct {
	// RetryBudget is how long a callback is retried before it is given up.
	// Default 60s.
	RetryBudget time.Duration
	// InitialBackoff is the first wait between attempts; it doubles up to
	// MaxBackoff, with jitter. Defaults 50ms and 5s.
	InitialBackoff, MaxBackoff time.Duration
	// PerRecipient is how many callbacks to one recipient run at once.
	// Callbacks start in the order they were enqueued; with more than one
	// at a time they may finish in another order, and one slow callback
	// no longer holds back the rest. Default 4; 1 is strictly serial.
	PerRecipient int
	// MaxInFlight is how many callbacks run at once in all, each holding
	// a goroutine; the others wait in their recipients' queues. Default
	// 256.
	MaxInFlight int
	// GiveUp is called when a callback's budget is spent (from the
	// recipient's worker goroutine).
	GiveUp func(j Job, err error)
	// Logger receives delivery events. Default: discard.
	Logger zerolog.Logger
}

// Defaults of Config.
const (
	DefaultRetryBudget  = 60 * time.Second
	DefaultPerRecipient = 4
	DefaultMaxInFlight  = 256
)

// Job is one callback to deliver.
type Job struct {
	// Recipient identifies the recipient; jobs with the same one are
	// delivered one at a time, in order.
	Recipient string
	// ID identifies the request, for logs.
	ID [16]byte
	// Deliver makes one attempt; nil means delivered.
	Deliver func(ctx context.Context) error
}

// Failure describes a recipient whose callbacks are failing.
type Failure struct {
	Recipient string
	// Since is when the current run of failures began.
	Since time.Time
	// Attempts counts failed attempts in the run; GivenUp the callbacks
	// whose budget was spent.
	Attempts, GivenUp int
	LastError         string
}

// Deliverer runs the per-recipient queues. It is safe for concurrent use.
type Deliverer struct {
	cfg    Config
	log    zerolog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex // guards the fields below
	queues   map[string]*queue
	active   int      // workers running, at most MaxInFlight
	waiting  []*queue // queues with jobs and room for a worker, in turn
	failures map[string]*Failure
	closed   bool
}

// queue is one recipient's callbacks.
type queue struct {
	recipient string
	jobs      []Job
	running   int  // workers on it, at most PerRecipient
	inTurn    bool // in Deliverer.waiting
}

// New returns a Deliverer.
func New(cfg Config) *Deliverer {
	if cfg.RetryBudget == 0 {
		cfg.RetryBudget = DefaultRetryBudget
	}
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.PerRecipient <= 0 {
		cfg.PerRecipient = DefaultPerRecipient
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	d := &Deliverer{cfg: cfg, log: cfg.Logger, queues: make(map[string]*queue), failures: make(map[string]*Failure)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// Enqueue adds a callback to its recipient's queue.
func (d *Deliverer) Enqueue(j Job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	q := d.queues[j.Recipient]
	if q == nil {
		q = &queue{recipient: j.Recipient}
		d.queues[j.Recipient] = q
	}
	q.jobs = append(q.jobs, j)
	d.schedule(q)
}

// schedule starts a worker on q if it has jobs and room, and the
// Deliverer has room in all; else q waits its turn. d.mu must be held.
func (d *Deliverer) schedule(q *queue) {
	if len(q.jobs) == 0 || q.running >= d.cfg.PerRecipient {
		return
	}
	if d.active >= d.cfg.MaxInFlight {
		if !q.inTurn {
			q.inTurn = true
			d.waiting = append(d.waiting, q)
		}
		return
	}
	d.active++
	q.running++
	d.wg.Add(1)
	go func() { defer d.wg.Done(); d.work(q) }()
}

// work delivers its queue's jobs, oldest first, while there are jobs no
// other worker took; then it gives its place to a waiting queue and exits,
// so idle recipients cost nothing.
func (d *Deliverer) work(q *queue) {
	for {
		d.mu.Lock()
		if len(q.jobs) == 0 || d.closed {
			q.running--
			d.active--
			if q.running == 0 && len(q.jobs) == 0 {
				delete(d.queues, q.recipient)
			}
			for len(d.waiting) > 0 && d.active < d.cfg.MaxInFlight && !d.closed {
				next := d.waiting[0]
				d.waiting[0] = nil
				d.waiting = d.waiting[1:]
				next.inTurn = false
				d.schedule(next)
			}
			d.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs[0] = Job{}
		q.jobs = q.jobs[1:]
		d.mu.Unlock()

		d.deliver(j)
	}
}

// deliver retries one job until it succeeds, its budget is spent or the
// Deliverer closes (the job is then left to the caller's recovery).
func (d *Deliverer) deliver(j Job) {
	deadline := time.Now().Add(d.cfg.RetryBudget)
	backoff := d.cfg.InitialBackoff
	for {
		err := j.Deliver(d.ctx)
		if err == nil {
			d.mu.Lock()
			delete(d.failures, j.Recipient)
			d.mu.Unlock()
			return
		}
		if d.ctx.Err() != nil {
			return
		}
		d.noteFailure(j.Recipient, err, false)
		sleep := backoff/2 + rand.N(backoff/2+1)
		if time.Now().Add(sleep).After(deadline) {
			d.noteFailure(j.Recipient, err, true)
			if d.cfg.GiveUp != nil {
				d.cfg.GiveUp(j, err) // which says so, once
			} else {
				d.log.Warn().Err(err).Str("recipient", j.Recipient).
					Msg("recipient: callback given up after its retry budget")
			}
			return
		}
		d.log.Debug().Err(err).Str("recipient", j.Recipient).Dur("retry_in", sleep).Msg("recipient: callback failed; retrying")
		if !timerpool.Sleep(d.ctx, sleep) {
			return
		}
		backoff = min(2*backoff, d.cfg.MaxBackoff)
	}
}

func (d *Deliverer) noteFailure(recipient string, err error, gaveUp bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.failures[recipient]
	if f == nil {
		f = &Failure{Recipient: recipient, Since: time.Now()}
		d.failures[recipient] = f
	}
	if gaveUp {
		f.GivenUp++
	} else {
		f.Attempts++
	}
	f.LastError = err.Error()
}

// Failures returns the recipients whose callbacks are failing now or were
// given up, oldest first.
func (d *Deliverer) Failures() []Failure {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Failure, 0, len(d.failures))
	for _, f := range d.failures {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out
}

// Pending returns how many callbacks wait to be delivered.
func (d *Deliverer) Pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, q := range d.queues {
		n += len(q.jobs) + q.running
	}
	return n
}

// Close stops delivering and waits for the workers; callbacks not
// delivered yet are dropped here (the agent re-arms them from the store
// when it starts). It is idempotent.
func (d *Deliverer) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

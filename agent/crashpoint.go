package agent

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/requestagent/requestagent/agent/lifecycle"
)

// Crash points are the moments between the durable steps of a request's
// life. For crash drills (and the crash-point tests), the environment
// variable REQUESTAGENT_CRASH_AT=point[:n] makes the process exit at once —
// no deferred work, no store close, as under SIGKILL — the n-th time (default
// the first) it reaches that point. Unset, a crash point costs one atomic load.
const (
	CrashBeforeStore   = "before-store"   // request accepted, not yet committed
	CrashAfterStore    = "after-store"    // committed, premature return not yet sent
	CrashBeforeSend    = "before-send"    // about to send to the target
	CrashAfterSend     = "after-send"     // the target answered, reply not yet stored
	CrashAfterReply    = "after-reply"    // reply stored, not yet read
	CrashBeforeTrash   = "before-trash"   // reply read, deletion not yet committed
	CrashAfterTrash    = "after-trash"    // deletion committed
	CrashAfterCallback = "after-callback" // reply_available returned, delivery not yet recorded
	// CrashBeforeCallback: a callback's mark written, reply_available not
	// yet called — met only in a cluster (Config.Owned), which marks.
	CrashBeforeCallback = "before-callback"
	crashExitCode       = 99
	crashEnv            = "REQUESTAGENT_CRASH_AT"
)

var crashPlan = func() (p struct {
	point string
	n     int64
}) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		return
	}
	p.point, p.n = spec, 1
	if name, count, ok := strings.Cut(spec, ":"); ok {
		p.point = name
		if n, err := strconv.ParseInt(count, 10, 64); err == nil && n > 0 {
			p.n = n
		}
	}
	return
}()

var crashPasses atomic.Int64

// crashAt is crashPoint for the crash point a lifecycle transition names
// between its effects; the names are the same.
func crashAt(p lifecycle.Point) { crashPoint(p.String()) }

// crashPoint exits the process abruptly if the drill names this point.
func crashPoint(name string) {
	if crashPlan.point != name {
		return
	}
	if crashPasses.Add(1) == crashPlan.n {
		os.Exit(crashExitCode)
	}
}

package loadgen_test

import (
	"bytes"
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/tools/loadgen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun_EveryModel: each model completes its calls without errors
// against an in-process agent and echo target (a smoke test of the tool,
// not a measurement).
func TestRun_EveryModel(t *testing.T) {
	for _, model := range []string{loadgen.ModelWaitReply, loadgen.Model2PI, loadgen.ModelGroup, loadgen.ModelCallback, loadgen.ModelSend} {
		for _, durable := range []bool{false, true} {
			var out bytes.Buffer
			res, err := loadgen.Run(context.Background(), loadgen.Config{Model: model, Clients: 4, Count: 200, Size: 64,
				Durable: durable, DataDir: t.TempDir()}, &out)
			if err != nil || res.Calls != 200 || res.Errors != 0 || res.P50 <= 0 || res.Max < res.P99 {
				t.Fatalf("%s durable=%v: %+v, %v\n%s", model, durable, res, err, out.String())
			}
			// Only the send model pulls after the timed part: every reply.
			if want := map[bool]int64{true: 200}[model == loadgen.ModelSend]; res.Pulled != want || res.PullErrors != 0 {
				t.Fatalf("%s durable=%v: %d pulled (%d errors), want %d", model, durable, res.Pulled, res.PullErrors, want)
			}
		}
	}
	if _, err := loadgen.Run(context.Background(), loadgen.Config{Model: "nope", Count: 1}, &bytes.Buffer{}); err == nil {
		t.Fatal("unknown model accepted")
	}
}

// TestRun_TimingBracketsTheTimedCalls: Timing is called once as the timed
// calls begin and once as they end, in that order, and the run's calls and
// pulls are as without it.
func TestRun_TimingBracketsTheTimedCalls(t *testing.T) {
	var calls []bool
	res, err := loadgen.Run(context.Background(), loadgen.Config{Model: loadgen.ModelSend, Clients: 4, Count: 100,
		Durable: true, DataDir: t.TempDir(), Timing: func(begin bool) { calls = append(calls, begin) }}, &bytes.Buffer{})
	if err != nil || res.Calls != 100 || res.Pulled != 100 {
		t.Fatalf("%+v, %v", res, err)
	}
	if len(calls) != 2 || !calls[0] || calls[1] {
		t.Fatalf("Timing called %v, want [true false]", calls)
	}
}

package agent

import (
	"testing"
	"time"
)

// TestListenerStopped_NotReadyNorHealthy: when the GIOP listener stops for
// good (not a temporary accept error, which Serve retries), the agent
// says so: not ready, not healthy, and Failed closes so that the process
// exits non-zero instead of lingering with green health checks.
func TestListenerStopped_NotReadyNorHealthy(t *testing.T) {
	a, err := Start(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !a.Ready() || a.Healthy() != nil {
		t.Fatal("a fresh agent is not ready")
	}
	a.ln.Close() // as a listener that dies under the agent
	select {
	case <-a.Failed():
	case <-time.After(20 * time.Second):
		t.Fatal("Failed did not close after the listener stopped")
	}
	if a.Ready() || a.Healthy() == nil {
		t.Fatalf("after the listener stopped: ready %v, healthy %v", a.Ready(), a.Healthy())
	}
}

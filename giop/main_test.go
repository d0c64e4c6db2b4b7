package giop_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind:
// every connection's reader and writer must end with its server or client.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package etcdstore_test

import (
	"testing"

	"github.com/requestagent/requestagent/internal/etcdtest"
)

// TestMain checks that no goroutine outlives the tests (etcdtest.Main).
func TestMain(m *testing.M) { etcdtest.Main(m) }

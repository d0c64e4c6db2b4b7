package syncbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/requestagent/requestagent/internal/syncbuf"
)

// TestBuffer_ConcurrentWritersAndKeep: writes from many goroutines all
// arrive whole (run with -race), and Keep bounds what is held to the
// latest bytes.
func TestBuffer_ConcurrentWritersAndKeep(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "line %d\n", i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if n := b.Count("line "); n != 800 {
		t.Fatalf("%d lines, want 800", n)
	}
	k := syncbuf.Buffer{Keep: 10}
	for i := range 100 {
		fmt.Fprintf(&k, "%02d", i)
	}
	if s := k.String(); len(s) > 2*10+2 || !strings.HasSuffix(s, "9899") {
		t.Fatalf("kept %q, want at most 22 bytes ending with the last write", s)
	}
}

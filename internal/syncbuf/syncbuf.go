// Package syncbuf is a bytes.Buffer that several goroutines may write to
// while another reads it: the sink tests give a logger, or a child
// process's output, and read as it grows.
package syncbuf

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer collects what is written to it. Its zero value is empty and ready.
type Buffer struct {
	// Keep, when positive, bounds what is held: once more than twice Keep
	// bytes are written, only the last Keep are kept (a long run's log).
	Keep int

	mu sync.Mutex // guards b
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Keep > 0 && s.b.Len() > 2*s.Keep {
		rest := append([]byte(nil), s.b.Bytes()[s.b.Len()-s.Keep:]...)
		s.b.Reset()
		s.b.Write(rest)
	}
	return s.b.Write(p)
}

// String returns what is held.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Count returns how many times sub occurs in what is held.
func (s *Buffer) Count(sub string) int {
	return strings.Count(s.String(), sub)
}

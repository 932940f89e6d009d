// Package syncbuf is a bytes.Buffer that a program's goroutines may write
// while a test reads it: the logs and output that actnet's commands and
// tests check.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer collects what is written to it; the zero value is empty and ready.
// Unlike bytes.Buffer, Write and String may be called concurrently.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

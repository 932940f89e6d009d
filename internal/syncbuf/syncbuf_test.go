package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

// Writers and a reader at once (the race detector checks the locking):
// every write is kept whole, and String sees them all once the writers end.
func TestConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("line\n"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != 400 {
		t.Fatalf("%d lines, want 400", got)
	}
	if len(b.String()) != 400*len("line\n") {
		t.Fatalf("%d bytes: a write was interleaved", len(b.String()))
	}
}

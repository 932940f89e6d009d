package tcp

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestByteQueueModel checks byteQueue against a plain slice under random
// writes at the end, reads at offsets and discards, across chunk borders.
func TestByteQueueModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q byteQueue
	var model []byte
	next := byte(0)
	for i := 0; i < 5000; i++ {
		switch rng.IntN(3) {
		case 0:
			n := rng.IntN(3 * chunkSize / 2)
			p := make([]byte, n)
			for j := range p {
				p[j] = next
				next++
			}
			q.writeAt(len(model), p)
			model = append(model, p...)
		case 1:
			if len(model) == 0 {
				continue
			}
			off := rng.IntN(len(model))
			p := make([]byte, rng.IntN(chunkSize*2))
			n := q.readAt(off, p)
			want := model[off:]
			if len(want) > len(p) {
				want = want[:len(p)]
			}
			if n != len(want) || !bytes.Equal(p[:n], want) {
				t.Fatalf("step %d: readAt(%d) = %d bytes, want %d", i, off, n, len(want))
			}
		case 2:
			n := rng.IntN(len(model) + 1)
			q.discard(n)
			model = model[n:]
		}
		if q.ext != len(model) {
			t.Fatalf("step %d: ext %d, model %d", i, q.ext, len(model))
		}
		if len(model) == 0 && len(q.chunks) != 0 {
			t.Fatalf("step %d: empty queue keeps %d chunks", i, len(q.chunks))
		}
		if need := (q.head + q.ext + chunkSize - 1) / chunkSize; len(q.chunks) > need+1 {
			t.Fatalf("step %d: %d chunks for %d bytes", i, len(q.chunks), q.ext)
		}
	}
}

func TestByteQueueSparse(t *testing.T) {
	var q byteQueue
	q.writeAt(chunkSize+10, []byte("later"))
	q.writeAt(0, []byte("first"))
	p := make([]byte, 5)
	if q.readAt(chunkSize+10, p) != 5 || string(p) != "later" {
		t.Fatalf("sparse read %q", p)
	}
	q.discard(chunkSize + 10)
	if q.readAt(0, p) != 5 || string(p) != "later" || len(q.chunks) != 1 {
		t.Fatalf("after discard %q chunks=%d", p, len(q.chunks))
	}
}

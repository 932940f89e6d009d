package mailbox

import "testing"

// A Received has room for what was asked, up to ReceiveChunk, and no more
// (an earlier connection's bytes in a recycled chunk stay out of reach);
// Release empties it and may be called again.
func TestReceivedRoomAndRelease(t *testing.T) {
	for _, n := range []int{0, 1, pooledAbove, pooledAbove + 1, ReceiveChunk, 3 * ReceiveChunk} {
		r := NewReceived(n)
		want := min(n, ReceiveChunk)
		if len(r.Data) != want || cap(r.Data) != want {
			t.Errorf("NewReceived(%d): len %d cap %d, want %d", n, len(r.Data), cap(r.Data), want)
		}
		if pooled := r.chunk != nil; pooled != (want > pooledAbove) {
			t.Errorf("NewReceived(%d): pooled %v", n, pooled)
		}
		r.Release()
		r.Release()
		if r.Data != nil || r.chunk != nil {
			t.Errorf("NewReceived(%d): Data or chunk kept after Release", n)
		}
	}
}

// Released memory serves the next Received (the pool may drop an item now
// and then, notably under the race detector, so one reuse in many tries).
func TestReceivedReusesReleasedMemory(t *testing.T) {
	for range 100 {
		r := NewReceived(ReceiveChunk)
		p := &r.Data[0]
		r.Release()
		if q := NewReceived(ReceiveChunk); &q.Data[0] == p {
			return
		}
	}
	t.Fatal("100 released chunks, none reused")
}

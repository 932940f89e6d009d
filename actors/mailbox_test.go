package actors

import "testing"

// The queue keeps FIFO order through rewinds and compactions, and a steady
// flow that never drains does not grow it without bound.
func TestMessageQueueOrderAndBound(t *testing.T) {
	var q messageQueue
	next, want := 0, 0
	for round := 0; round < 50; round++ {
		for i := 0; i < 700; i++ {
			q.push(next)
			next++
		}
		// Leave a few behind each round, so the queue never drains.
		for i := 0; i < 690; i++ {
			m, ok := q.pop()
			if !ok || m.(int) != want {
				t.Fatalf("popped %v, %v; want %d", m, ok, want)
			}
			want++
		}
	}
	if c := cap(q.items); c > 4096 {
		t.Fatalf("queue holding %d messages grew to capacity %d", len(q.items)-q.head, c)
	}
	for {
		m, ok := q.pop()
		if !ok {
			break
		}
		if m.(int) != want {
			t.Fatalf("popped %v; want %d", m, want)
		}
		want++
	}
	if want != next {
		t.Fatalf("drained %d of %d", want, next)
	}
	if q.head != 0 || len(q.items) != 0 {
		t.Fatalf("drained queue not rewound: head %d len %d", q.head, len(q.items))
	}
}

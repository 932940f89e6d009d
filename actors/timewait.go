package actors

import (
	"container/heap"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// DefaultMaxTimeWait is the default cap on compact TIME-WAIT entries
// (Limits.MaxTimeWait), Linux's usual tcp_max_tw_buckets: at about 200
// bytes each, 50 MiB at most, and room for a minute of 4,000 server-closed
// connections a second.
const DefaultMaxTimeWait = 262144

// timeWaitDue is the tcp actor's TIME-WAIT timer: the earliest entry may
// have expired.
type timeWaitDue struct{}

// twEntry is one connection in TIME-WAIT (DESIGN.md, "What the code
// taught us" 22): its actor, buffers and control block are gone, and the
// tcp actor answers its segments from this.
type twEntry struct {
	tcp.TimeWait
	tuple tcp.Tuple
	index int // in timeWaits.heap
}

// timeWaits is the tcp actor's TIME-WAIT table: the entries by tuple, a
// heap of them by expiry, and the one timer armed for the earliest.
type timeWaits struct {
	m     map[tcp.Tuple]*twEntry
	heap  twHeap
	timer TimerID
	armed time.Time
	max   int
	// peak is the most entries held since m was last made anew.
	peak int
	// fullLogged is when the full table was last logged; fullSince
	// counts the entries not kept since.
	fullLogged time.Time
	fullSince  uint64
}

func newTimeWaits(max int) timeWaits {
	return timeWaits{m: make(map[tcp.Tuple]*twEntry), timer: NewTimerID(), max: max}
}

// enterTimeWait keeps the TIME-WAIT entry of a connection that has ended,
// unless the table is full: then, as Linux does when tcp_max_tw_buckets
// is reached, the connection simply closes, and is counted.
func (a *tcpActor) enterTimeWait(ctx actor.Context, t tcp.Tuple, tw tcp.TimeWait) {
	w := &a.tw
	if len(w.m) >= w.max {
		a.c.TimeWaitOverflow.Inc()
		w.fullSince++
		if now := a.env.Clock.Now(); w.fullLogged.IsZero() || now.Sub(w.fullLogged) >= tableFullLogEvery || now.Before(w.fullLogged) {
			a.env.Log.Warn().Int("max_time_wait", w.max).Uint64("closed", w.fullSince).
				Msg("tcp: TIME-WAIT table full; connections closed without TIME-WAIT (raise Limits.MaxTimeWait)")
			w.fullLogged, w.fullSince = now, 0
		}
		return
	}
	if old, ok := w.m[t]; ok { // cannot happen: the tuple had a connection
		a.dropTimeWait(old)
	}
	e := &twEntry{TimeWait: tw, tuple: t}
	w.m[t] = e
	heap.Push(&w.heap, e)
	w.peak = max(w.peak, len(w.m))
	a.env.TCPTimeWait.Store(int64(len(w.m)))
	a.c.TimeWaitEntered.Inc()
	a.armTimeWait(ctx)
}

// dropTimeWait removes an entry.
func (a *tcpActor) dropTimeWait(e *twEntry) {
	w := &a.tw
	heap.Remove(&w.heap, e.index)
	delete(w.m, e.tuple)
	a.env.TCPTimeWait.Store(int64(len(w.m)))
	if len(w.m) == 0 && w.peak >= shrinkAfter {
		// Go maps keep their buckets: a burst's table is made anew.
		w.m, w.heap, w.peak = make(map[tcp.Tuple]*twEntry), nil, 0
	}
}

// armTimeWait keeps the timer armed for the earliest expiry. A later
// expiry leaves an earlier armed timer alone; it re-arms when it fires.
func (a *tcpActor) armTimeWait(ctx actor.Context) {
	w := &a.tw
	if len(w.heap) == 0 {
		return
	}
	next := w.heap[0].Expires()
	if !w.armed.IsZero() && !w.armed.After(next) {
		return
	}
	w.armed = next
	a.env.Schedule(w.timer, ctx.Self(), next, &timeWaitDue{})
}

// expireTimeWait ends the entries whose 2·MSL has passed (RFC 9293
// §3.10.8): their tuples are free again.
func (a *tcpActor) expireTimeWait(ctx actor.Context) {
	w := &a.tw
	w.armed = time.Time{}
	now := a.env.Clock.Now()
	for len(w.heap) > 0 && !now.Before(w.heap[0].Expires()) {
		a.dropTimeWait(w.heap[0])
		a.c.TimeWaitExpired.Inc()
	}
	a.armTimeWait(ctx)
}

// timeWaitInput answers a segment for a tuple in TIME-WAIT as the entry
// decides (tcp.TimeWait.Input).
func (a *tcpActor) timeWaitInput(ctx actor.Context, e *twEntry, p *mailbox.Packet, now time.Time) {
	r := e.Input(now, &p.TCP)
	switch r.Reason {
	case tcp.TimeWaitFIN:
		a.c.TimeWaitFINAcked.Inc()
		heap.Fix(&a.tw.heap, e.index) // its expiry moved on
	case tcp.TimeWaitRST:
		a.c.TimeWaitRSTIgnored.Inc()
	case tcp.TimeWaitOldSYN:
		a.c.TimeWaitSYNRefused.Inc()
	case tcp.TimeWaitPAWS:
		a.c.TimeWaitPAWS.Inc()
	case tcp.TimeWaitBareACK, tcp.TimeWaitUnacceptable:
		a.c.TimeWaitUnacceptable.Inc()
	}
	if r.Limited {
		a.c.TimeWaitACKsLimited.Inc()
	}
	switch r.Action {
	case tcp.TimeWaitSendACK:
		a.timeWaitACK(e, now)
	case tcp.TimeWaitReopen:
		l, ok := a.listeners[e.tuple.Local.Port()]
		if !ok {
			// Nobody to take the new connection: the entry stays
			// and the SYN is answered as an old one.
			a.c.TimeWaitSYNRefused.Inc()
			a.timeWaitACK(e, now)
			return
		}
		minISS := e.MinISS()
		a.dropTimeWait(e)
		a.c.TimeWaitReopened.Inc()
		a.accept(ctx, l, e.tuple, p, now, minISS)
	}
}

// timeWaitACK sends an entry's ACK.
func (a *tcpActor) timeWaitACK(e *twEntry, now time.Time) {
	o := e.ACK(now, e.tuple)
	a.emit(&o)
}

// twHeap orders entries by expiry.
type twHeap []*twEntry

func (h twHeap) Len() int           { return len(h) }
func (h twHeap) Less(i, j int) bool { return h[i].Expires().Before(h[j].Expires()) }
func (h twHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *twHeap) Push(x any) {
	e := x.(*twEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *twHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

package device

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRingSize is the receive ring length, in frames, used when
// MemoryConfig leaves it zero. It matches a common NIC default.
const DefaultRingSize = 1024

// MemoryConfig configures a memory link pair. The zero value is valid.
type MemoryConfig struct {
	// MACA and MACB are the two ends' own addresses; nil picks a random
	// locally administered one.
	MACA, MACB net.HardwareAddr
	// MTU is the largest Ethernet payload; 0 means DefaultMTU.
	MTU int
	// RingSize is each end's receive ring in frames; 0 means
	// DefaultRingSize. Frames arriving at a full ring are dropped.
	RingSize int
	// QueueLen bounds the frames in flight in one direction while Delay,
	// Jitter, RateBytesPerSec or a reorder hold keeps them from being
	// delivered at once; frames beyond it are dropped and counted
	// (FaultStats.QueueDropped), like a router's tail drop. 0 means RingSize.
	QueueLen int
	// FaultsAToB applies to frames written by a, FaultsBToA to those written
	// by b. Either can be changed later with SetFaults.
	FaultsAToB, FaultsBToA Faults
	// Offload makes both ends OffloadDevices with every offload on, as
	// two hosts on a veth pair with GRO and TSO: a super-frame or a
	// partial checksum one end writes reaches the other whole, with its
	// metadata. While a direction has faults, it cuts super-frames into
	// plain packets first and completes partial checksums (Segment), so
	// that the faults hit single packets as a router's would.
	Offload bool
}

// Faults describes the impairments one direction of a memory link applies to
// the frames written into it. The zero value is a perfect link.
//
// All random choices come from a generator seeded with Seed when the faults
// are installed, so the same faults and the same sequence of writes give the
// same drops, duplicates, reorders, corruptions and jitter every run. Every
// write draws the same amount of randomness whatever faults are on, so turning
// one fault on does not change the pattern another one produces.
type Faults struct {
	Seed int64
	// DropPercent of frames (0..100) vanish.
	DropPercent float64
	// DuplicatePercent of frames are delivered twice in a row.
	DuplicatePercent float64
	// ReorderPercent of frames are held back and delivered right after the
	// next frame written in the same direction, or after ReorderHold if no
	// frame follows that soon.
	ReorderPercent float64
	// ReorderHold bounds the wait of a reordered frame, so that the last
	// frame of a burst is late, not lost; 0 means DefaultReorderHold. Tests
	// that compare delivery order across runs should make it longer than
	// any scheduling stall.
	ReorderHold time.Duration
	// CorruptPercent of frames get one byte after the Ethernet header XORed
	// with a random non-zero value, so the IP, TCP or UDP checksum catches
	// it while the frame still reaches the right stack.
	CorruptPercent float64
	// Delay is added to every frame's delivery; Jitter adds a further
	// uniform random delay in [0, Jitter), which may reorder frames as it
	// does on a real path.
	Delay, Jitter time.Duration
	// RateBytesPerSec, if positive, serialises frames at this rate: each
	// frame leaves once the ones before it have, as on a slow link.
	RateBytesPerSec int64
}

// DefaultReorderHold is the ReorderHold used when Faults leaves it zero.
const DefaultReorderHold = 10 * time.Millisecond

// Validate reports whether every field is in range.
func (f Faults) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{
		{"DropPercent", f.DropPercent},
		{"DuplicatePercent", f.DuplicatePercent},
		{"ReorderPercent", f.ReorderPercent},
		{"CorruptPercent", f.CorruptPercent},
	} {
		if !(p.v >= 0 && p.v <= 100) { // also rejects NaN
			return fmt.Errorf("device: Faults.%s = %v, want 0..100", p.name, p.v)
		}
	}
	if f.Delay < 0 || f.Jitter < 0 || f.RateBytesPerSec < 0 || f.ReorderHold < 0 {
		return fmt.Errorf("device: Faults has a negative Delay, Jitter, ReorderHold or RateBytesPerSec")
	}
	return nil
}

// active reports whether f changes anything; Seed or ReorderHold alone do
// not.
func (f Faults) active() bool {
	f.Seed, f.ReorderHold = 0, 0
	return f != Faults{}
}

// FaultStats counts the faults one direction of a memory link injected.
type FaultStats struct {
	Dropped    uint64
	Duplicated uint64
	Reordered  uint64
	Corrupted  uint64
	// Delayed counts frames given a delay by Delay or Jitter.
	Delayed uint64
	// RateLimited counts frames that had to wait for earlier frames to be
	// serialised by RateBytesPerSec.
	RateLimited uint64
	// QueueDropped counts frames dropped because QueueLen frames were
	// already in flight.
	QueueDropped uint64
}

// Memory is one end of an in-memory Ethernet link made by NewMemoryPair.
// What one end writes, the other reads, after the writer's Faults.
type Memory struct {
	mac   net.HardwareAddr
	mtu   int
	rx    ring  // frames waiting for this end's ReadBatch
	tx    *link // frames this end writes, on their way to the peer's rx
	stats counters
	once  sync.Once
	// offload: MemoryConfig.Offload.
	offload bool

	// arrived counts frames the peer wrote to this end (each copy of a
	// duplicate); gone counts those dropped on the way and those this
	// end's reader is done with (see Activity).
	arrived, gone atomic.Uint64
}

var (
	_ Device        = (*Memory)(nil)
	_ BatchWriter   = (*Memory)(nil)
	_ StatsReporter = (*Memory)(nil)
	_ OffloadDevice = (*Memory)(nil)
)

// NewMemoryPair returns two devices joined back to back. It panics if cfg
// holds invalid Faults or a MAC that is not 6 bytes long, as those are
// programming errors.
func NewMemoryPair(cfg MemoryConfig) (a, b *Memory) {
	if cfg.MTU <= 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = cfg.RingSize
	}
	a = newMemory(cfg.MACA, cfg)
	b = newMemory(cfg.MACB, cfg)
	a.tx = newLink(a, b, cfg)
	b.tx = newLink(b, a, cfg)
	if err := a.SetFaults(cfg.FaultsAToB); err != nil {
		panic(err)
	}
	if err := b.SetFaults(cfg.FaultsBToA); err != nil {
		panic(err)
	}
	return a, b
}

func newMemory(mac net.HardwareAddr, cfg MemoryConfig) *Memory {
	if mac == nil {
		mac = RandomMAC()
	} else if len(mac) != 6 {
		panic(fmt.Sprintf("device: MAC %v is not 6 bytes", mac))
	} else {
		mac = append(net.HardwareAddr(nil), mac...)
	}
	return &Memory{
		mac:     mac,
		mtu:     cfg.MTU,
		offload: cfg.Offload,
		rx: ring{
			slots: make([][]byte, cfg.RingSize),
			meta:  make([]Offload, cfg.RingSize),
			ready: make(chan struct{}, 1),
			done:  make(chan struct{}),
		},
	}
}

// MTU returns the link's MTU.
func (m *Memory) MTU() int { return m.mtu }

// HardwareAddr returns this end's MAC. Callers must not modify it.
func (m *Memory) HardwareAddr() net.HardwareAddr { return m.mac }

// Stats returns this end's counters.
func (m *Memory) Stats() Stats { return m.stats.snapshot() }

// SetFaults replaces the faults on the frames this end writes from now on
// and reseeds their random generator with f.Seed. Frames already in flight
// keep the delay they were given.
func (m *Memory) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	l := m.tx
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = f
	l.active = f.active()
	// The stream constant only has to be fixed; the seed picks the sequence.
	l.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0x6163746e6574))
	return nil
}

// Faults returns the faults currently applied to the frames this end writes.
func (m *Memory) Faults() Faults {
	m.tx.mu.Lock()
	defer m.tx.mu.Unlock()
	return m.tx.faults
}

// FaultStats returns the faults injected so far into the frames this end
// wrote.
func (m *Memory) FaultStats() FaultStats {
	m.tx.mu.Lock()
	defer m.tx.mu.Unlock()
	return m.tx.st
}

// Activity reports how many frames the peer has written to this end so far
// (posted), and how many of those were dropped on the way or taken by a
// ReadBatch that has been followed by another call (handled): the reader
// is done with a batch when it asks for the next. The difference is the
// frames in flight towards this end and in its reader's hands, so a test
// can wait until a link and the stacks on it are idle
// (actors.WaitIdle).
func (m *Memory) Activity() (posted, handled uint64) {
	return m.arrived.Load(), m.gone.Load()
}

// ReadBatch implements Device. If bufs or sizes is empty it returns 0 at once.
// On an offload link, a super-frame is dropped (DropsTooLong) and a partial
// checksum completed.
func (m *Memory) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return m.readBatch(bufs, sizes, nil)
}

// ReadBatchOffload implements OffloadDevice.
func (m *Memory) ReadBatchOffload(bufs [][]byte, sizes []int, meta []Offload) (int, error) {
	return m.readBatch(bufs, sizes, meta)
}

// Offloads implements OffloadDevice: all of them on an offload link.
func (m *Memory) Offloads() Features {
	return Features{Csum: m.offload, TSO4: m.offload, TSO6: m.offload}
}

// WriteOffload implements OffloadDevice.
func (m *Memory) WriteOffload(frame []byte, meta Offload) error {
	l := m.tx
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.write(frame, meta)
}

func (m *Memory) readBatch(bufs [][]byte, sizes []int, meta []Offload) (int, error) {
	limit := min(len(bufs), len(sizes))
	if meta != nil {
		limit = min(limit, len(meta))
	}
	r := &m.rx
	for {
		r.mu.Lock()
		// The frames the last call returned have been handled by now.
		m.gone.Add(uint64(r.reading))
		r.reading = 0
		if r.closed {
			r.mu.Unlock()
			return 0, ErrClosed
		}
		n := 0
		for r.count > 0 && n < limit {
			s, o := r.slots[r.head], r.meta[r.head]
			r.head++
			if r.head == len(r.slots) {
				r.head = 0
			}
			r.count--
			r.reading++
			if len(s) > len(bufs[n]) || meta == nil && o.GSO != GSONone {
				m.stats.tooLong.Add(1)
				continue
			}
			sizes[n] = copy(bufs[n], s)
			if meta != nil {
				meta[n] = o
			} else if o.NeedsCsum {
				_ = CompleteChecksum(bufs[n][:sizes[n]], o) // checked on write
			}
			m.stats.in(sizes[n])
			n++
		}
		if r.count == 0 {
			// Rewind an empty ring so a lightly loaded link keeps reusing
			// the few slot buffers it has already allocated.
			r.head = 0
		}
		r.mu.Unlock()
		if n > 0 || limit == 0 {
			return n, nil
		}
		select {
		case <-r.ready:
		case <-r.done:
		}
	}
}

// Write implements Device. It never blocks on the reader: a full ring or
// queue drops the frame and counts it, and Write returns nil, as a NIC would.
func (m *Memory) Write(frame []byte) error {
	l := m.tx
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.write(frame, Offload{})
}

// WriteBatch implements BatchWriter, taking the link's lock once.
func (m *Memory) WriteBatch(frames [][]byte) error {
	l := m.tx
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range frames {
		if err := l.write(f, Offload{}); err != nil {
			return err
		}
	}
	return nil
}

// Close closes this end: its ReadBatch and Write return ErrClosed, frames in
// flight from it are discarded and its timer goroutine, if any, has exited
// when Close returns. Frames the peer writes afterwards are counted as
// DropsNoCarrier on the peer. Closing twice is harmless.
func (m *Memory) Close() error {
	m.once.Do(func() {
		m.tx.close()
		m.rx.close()
	})
	return nil
}

// ring is a bounded FIFO of received frames. Each slot keeps its buffer
// after being read, so that a warmed-up link moves frames without
// allocating.
type ring struct {
	mu          sync.Mutex
	slots       [][]byte
	meta        []Offload // each slot's offload metadata
	head, count int
	reading     int // frames taken by the last ReadBatch
	closed      bool
	ready       chan struct{} // capacity 1: wakes a ReadBatch waiting for a frame
	done        chan struct{} // closed by close
}

func (r *ring) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		close(r.done)
	}
}

// pending is a frame in flight on a delayed link.
type pending struct {
	buf    []byte
	meta   Offload
	copies int       // 2 for a duplicated frame
	at     time.Time // when it reaches the peer's ring
	seq    uint64    // breaks ties in at, keeping write order
	until  time.Time // for a held frame, when it stops waiting to be overtaken
}

// link is one direction of a memory link: it applies the faults and delivers
// into the receiving end's ring. Frames that need no delay are delivered by
// the writer itself; the others wait in a heap that one goroutine, started on
// first need and stopped by close, drains on time.
type link struct {
	src, dst *Memory
	maxFrame int
	queueLen int

	mu        sync.Mutex
	faults    Faults
	active    bool
	rng       *rand.Rand
	st        FaultStats
	heap      []*pending // min-heap on (at, seq)
	held      *pending   // frame held back by a reorder fault
	free      []*pending // recycled pendings with their buffers
	seq       uint64
	busyUntil time.Time // when the rate limiter is free again
	scratch   []byte    // holds a corrupted copy on the undelayed path
	segs      []byte    // holds the packet Segment cuts from a super-frame
	emitPlain func([]byte) error
	closed    bool
	running   bool
	kick      chan struct{} // capacity 1: the earliest deadline may have moved
	done      chan struct{}
	wg        sync.WaitGroup
}

func newLink(src, dst *Memory, cfg MemoryConfig) *link {
	return &link{
		src:      src,
		dst:      dst,
		maxFrame: cfg.MTU + HeaderLen,
		queueLen: cfg.QueueLen,
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// decision is what the faults do to one frame.
type decision struct {
	drop, corrupt, dup, reorder bool
	corruptAt                   int
	mask                        byte
	jitter                      time.Duration
}

func (l *link) decide(n int) decision {
	f := &l.faults
	r := l.rng
	var d decision
	// Always draw the same values in the same order; see Faults.
	d.drop = r.Float64()*100 < f.DropPercent
	d.corrupt = r.Float64()*100 < f.CorruptPercent && n > HeaderLen
	pos, mask := r.Uint64(), r.Uint64()
	d.dup = r.Float64()*100 < f.DuplicatePercent
	d.reorder = r.Float64()*100 < f.ReorderPercent
	j := r.Uint64()
	if d.corrupt {
		d.corruptAt = HeaderLen + int(pos%uint64(n-HeaderLen))
		d.mask = byte(1 + mask%255)
	}
	if f.Jitter > 0 {
		d.jitter = time.Duration(j % uint64(f.Jitter))
	}
	return d
}

// write handles one frame written by src with its offload metadata.
// Called with l.mu held.
func (l *link) write(frame []byte, meta Offload) error {
	if l.closed {
		return ErrClosed
	}
	if meta.IsZero() {
		return l.writeOne(frame, meta)
	}
	var err error
	switch {
	case !l.src.offload:
		l.src.stats.badOffload.Add(1)
		return ErrBadOffload
	case meta.GSO == GSONone:
		err = checkFrame(frame, l.src.mtu)
		if err == nil {
			err = meta.Check(frame)
		}
	default:
		err = meta.Check(frame)
	}
	if err != nil {
		l.src.stats.invalid.Add(1)
		return err
	}
	if !l.active {
		return l.writeOne(frame, meta)
	}
	// Faults act on single packets, as on a router past the host's GSO.
	if l.emitPlain == nil {
		l.emitPlain = func(p []byte) error { return l.writeOne(p, Offload{}) }
	}
	l.segs, err = Segment(frame, meta, l.segs, l.emitPlain)
	if err != nil {
		l.src.stats.invalid.Add(1)
	}
	return err
}

// writeOne handles one frame (a super-frame with meta) after the checks of
// write. Called with l.mu held.
func (l *link) writeOne(frame []byte, meta Offload) error {
	if meta.GSO == GSONone {
		if err := checkFrame(frame, l.src.mtu); err != nil {
			l.src.stats.invalid.Add(1)
			return err
		}
	}
	l.src.stats.out(len(frame))
	l.dst.arrived.Add(1)
	if !l.active && l.held == nil && len(l.heap) == 0 {
		l.deliver(frame, meta) // the fast path: a perfect, idle link
		return nil
	}

	var d decision
	if l.active {
		d = l.decide(len(frame))
	}
	now := time.Now()
	held := l.held // overtaken by this frame, so it goes right after it
	l.held = nil
	defer l.release(held, now)

	if d.drop {
		l.st.Dropped++
		l.dst.gone.Add(1)
		return nil
	}
	data := frame
	if d.corrupt {
		l.scratch = append(l.scratch[:0], frame...)
		l.scratch[d.corruptAt] ^= d.mask
		data = l.scratch
		l.st.Corrupted++
	}
	copies := 1
	if d.dup {
		copies = 2
		l.st.Duplicated++
		l.dst.arrived.Add(1)
	}
	f := &l.faults
	if !d.reorder || held != nil {
		if f.Delay == 0 && f.Jitter == 0 && f.RateBytesPerSec == 0 && len(l.heap) == 0 {
			for range copies {
				l.deliver(data, meta)
			}
			return nil
		}
	}
	if len(l.heap) >= l.queueLen {
		l.st.QueueDropped++
		l.dst.gone.Add(uint64(copies))
		return nil
	}
	p := l.newPending(data, meta, copies)
	p.at = l.arrival(now, len(data), d.jitter)
	if d.reorder && held == nil {
		l.st.Reordered++
		hold := f.ReorderHold
		if hold == 0 {
			hold = DefaultReorderHold
		}
		p.until = p.at.Add(hold)
		l.held = p
		l.wake()
		return nil
	}
	l.push(p)
	return nil
}

// release delivers a frame that an earlier reorder held back, right after
// the frame that overtook it. Called with l.mu held.
func (l *link) release(p *pending, now time.Time) {
	if p == nil {
		return
	}
	if len(l.heap) == 0 && !p.at.After(now) {
		for range p.copies {
			l.deliver(p.buf, p.meta)
		}
		l.recycle(p)
		return
	}
	// Queue it behind everything already in flight.
	for _, q := range l.heap {
		if q.at.After(p.at) {
			p.at = q.at
		}
	}
	l.push(p)
}

// arrival is when a frame of n bytes written now reaches the peer.
func (l *link) arrival(now time.Time, n int, jitter time.Duration) time.Time {
	f := &l.faults
	at := now
	if f.RateBytesPerSec > 0 {
		if l.busyUntil.After(now) {
			at = l.busyUntil
			l.st.RateLimited++
		}
		at = at.Add(time.Duration(int64(n) * int64(time.Second) / f.RateBytesPerSec))
		l.busyUntil = at
	}
	if f.Delay > 0 || jitter > 0 {
		at = at.Add(f.Delay + jitter)
		l.st.Delayed++
	}
	return at
}

func (l *link) newPending(data []byte, meta Offload, copies int) *pending {
	var p *pending
	if n := len(l.free); n > 0 {
		p = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		p = &pending{buf: make([]byte, 0, l.maxFrame)}
	}
	p.buf = append(p.buf[:0], data...)
	p.meta = meta
	p.copies = copies
	return p
}

func (l *link) recycle(p *pending) {
	if len(l.free) < l.queueLen {
		l.free = append(l.free, p)
	}
}

// deliver copies one frame into the receiving ring. Called with l.mu held.
func (l *link) deliver(frame []byte, meta Offload) {
	r := &l.dst.rx
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		l.src.stats.noCarrier.Add(1)
		l.dst.gone.Add(1)
		return
	}
	if r.count == len(r.slots) {
		r.mu.Unlock()
		l.dst.stats.ringFull.Add(1)
		l.dst.gone.Add(1)
		return
	}
	i := r.head + r.count
	if i >= len(r.slots) {
		i -= len(r.slots)
	}
	s := r.slots[i]
	if cap(s) < len(frame) {
		s = make([]byte, 0, max(l.maxFrame, len(frame)))
	}
	r.slots[i] = append(s[:0], frame...)
	r.meta[i] = meta
	r.count++
	r.mu.Unlock()
	select {
	case r.ready <- struct{}{}:
	default:
	}
}

// push adds p to the heap and makes sure the timer goroutine sees it.
func (l *link) push(p *pending) {
	l.seq++
	p.seq = l.seq
	l.heap = append(l.heap, p)
	for i := len(l.heap) - 1; i > 0; {
		parent := (i - 1) / 2
		if !l.less(i, parent) {
			break
		}
		l.heap[i], l.heap[parent] = l.heap[parent], l.heap[i]
		i = parent
	}
	l.wake()
}

func (l *link) pop() *pending {
	h := l.heap
	p := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = nil
	h = h[:last]
	l.heap = h
	for i := 0; ; {
		small, left, right := i, 2*i+1, 2*i+2
		if left < len(h) && l.less(left, small) {
			small = left
		}
		if right < len(h) && l.less(right, small) {
			small = right
		}
		if small == i {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	return p
}

func (l *link) less(i, j int) bool {
	a, b := l.heap[i], l.heap[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}

// wake starts the timer goroutine on first need and nudges it to look at
// the earliest deadline again.
func (l *link) wake() {
	if !l.running {
		l.running = true
		l.wg.Add(1)
		go l.run()
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// run delivers delayed frames when they are due, until close.
func (l *link) run() {
	defer l.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return
		}
		next, ok := l.flush(time.Now())
		l.mu.Unlock()
		if ok {
			t.Reset(time.Until(next))
		} else {
			t.Stop()
		}
		select {
		case <-l.done:
			return
		case <-l.kick:
		case <-t.C:
		}
	}
}

// flush delivers every frame due at now and returns the next deadline.
// Called with l.mu held.
func (l *link) flush(now time.Time) (next time.Time, ok bool) {
	if p := l.held; p != nil && !now.Before(p.until) {
		// Nothing overtook it in time; let it go late.
		l.held = nil
		p.at = p.until
		l.push(p)
	}
	for len(l.heap) > 0 && !l.heap[0].at.After(now) {
		p := l.pop()
		for range p.copies {
			l.deliver(p.buf, p.meta)
		}
		l.recycle(p)
	}
	if len(l.heap) > 0 {
		next, ok = l.heap[0].at, true
	}
	if p := l.held; p != nil {
		if !ok || p.until.Before(next) {
			next, ok = p.until, true
		}
	}
	return next, ok
}

func (l *link) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	for _, p := range append(l.heap, l.held) {
		if p != nil {
			l.dst.gone.Add(uint64(p.copies))
		}
	}
	l.heap, l.held, l.free, l.scratch = nil, nil, nil, nil
	close(l.done)
	l.mu.Unlock()
	l.wg.Wait()
}

package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// chainLink passes each int it gets to next, or, at the end of the chain,
// reports it on done: a segment's path through the layers, in small.
type chainLink struct {
	next *actor.PID
	done chan int
}

func (c *chainLink) Receive(ctx actor.Context) {
	if v, ok := ctx.Message().(int); ok {
		if c.next != nil {
			ctx.Send(c.next, v)
			return
		}
		c.done <- v
	}
}

// spawnChain spawns links actors on d, each passing to the next, and
// returns the first and the last one's done channel.
func spawnChain(t *testing.T, system *actor.ActorSystem, d *workerDispatcher, name string, links int) (*actor.PID, chan int) {
	t.Helper()
	done := make(chan int, 1)
	var next *actor.PID
	for i := range links {
		l := &chainLink{next: next}
		if next == nil {
			l.done = done
		}
		pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return l },
			actor.WithDispatcher(d), actor.WithMailbox(newActorMailbox)), fmt.Sprintf("%s-%s-%d", t.Name(), name, i))
		if err != nil {
			t.Fatal(err)
		}
		next = pid
	}
	return next, done
}

// waitOnlyPollerBusy waits until every worker of d but the one in the poll
// step is parked, so that the next frame's runs can only be the poller's.
func waitOnlyPollerBusy(t *testing.T, d *workerDispatcher) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.mu.Lock()
		ok := d.polling && len(d.idle) == d.workers-1
		d.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the workers did not settle within 10 s")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// spawnBlocker spawns a gatedActor on d.
func spawnBlocker(t *testing.T, system *actor.ActorSystem, d *workerDispatcher, name string) *actor.PID {
	t.Helper()
	a := &gatedActor{handled: make(chan any, 1)}
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return a },
		actor.WithDispatcher(d), actor.WithMailbox(newActorMailbox)), t.Name()+"-"+name)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitFor fails the test if ch yields nothing within a bound that only
// catches a hang.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
		panic("unreachable")
	}
}

func (d *workerDispatcher) wakeCount() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.wakes
}

// A message that crosses a chain of actors wakes at most one worker, for
// the send from outside (which no worker will reach); each link after that
// runs on the worker that ran the link before it. Waking a worker per link
// cost request/response a third of its speed.
func TestDispatcherRunsAChainOnOneWorker(t *testing.T) {
	system := quietSystem()
	d := newWorkerDispatcher(300)
	defer d.Close()
	d.stall = time.Hour // no watchdog: every wake counted is the policy's
	const links, rounds = 4, 100
	first, done := spawnChain(t, system, d, "chain", links)
	before := d.wakeCount()
	for i := range rounds {
		system.Root.Send(first, i)
		if got := waitFor(t, done, "message through the chain"); got != i {
			t.Fatalf("the chain delivered %d, want %d", got, i)
		}
	}
	if woken := d.wakeCount() - before; woken > rounds {
		t.Fatalf("%d messages through %d links woke %d workers; want at most one a message", rounds, links, woken)
	}
}

// A backlog still spreads over the workers: with the only busy worker held
// in a long run, more than two queued runs wake another worker at once,
// without waiting for the watchdog.
func TestDispatcherWakesWorkersForABacklog(t *testing.T) {
	system := quietSystem()
	d := newWorkerDispatcher(300)
	defer d.Close()
	d.stall = time.Hour
	blocker := spawnBlocker(t, system, d, "blocker")
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	defer close(g.open)
	firsts := make([]*actor.PID, 3)
	chains := make([]chan int, 3)
	for i := range chains {
		firsts[i], chains[i] = spawnChain(t, system, d, fmt.Sprint(i), 1)
	}
	system.Root.Send(blocker, g)
	waitFor(t, g.entered, "blocking run")
	for i, first := range firsts {
		system.Root.Send(first, i)
	}
	for i, done := range chains {
		waitFor(t, done, fmt.Sprintf("run %d of the backlog", i))
	}
}

// An actor that blocks (which actors must not) delays the others by the
// watchdog's period, not forever: with every worker blocked, a new one is
// started.
func TestDispatcherWatchdogOutlivesBlockedWorkers(t *testing.T) {
	system := quietSystem()
	d := newWorkerDispatcher(300)
	defer d.Close()
	d.mu.Lock()
	n := d.workers
	d.mu.Unlock()
	gates := make([]*gate, n)
	for i := range gates {
		gates[i] = &gate{entered: make(chan struct{}), open: make(chan struct{})}
		system.Root.Send(spawnBlocker(t, system, d, fmt.Sprint("blocker", i)), gates[i])
	}
	defer func() {
		for _, g := range gates {
			close(g.open)
		}
	}()
	for i, g := range gates {
		waitFor(t, g.entered, fmt.Sprint("blocking run ", i))
	}
	first, done := spawnChain(t, system, d, "chain", 2)
	system.Root.Send(first, 7)
	if got := waitFor(t, done, "message past the blocked workers"); got != 7 {
		t.Fatalf("got %d, want 7", got)
	}
	d.mu.Lock()
	grown := d.workers
	d.mu.Unlock()
	if grown <= n {
		t.Fatalf("the pool has %d workers with all %d of the first blocked", grown, n)
	}
}

// fakeDevice stands in for the device read: frames are values on a
// channel, each delivered to an actor as the reader delivers a batch: an
// int to the chain, a gate to the blocker.
type fakeDevice struct {
	frames      chan any
	system      *actor.ActorSystem
	to, blocker *actor.PID
	ended       chan struct{}
}

func newFakeDevice(system *actor.ActorSystem, to *actor.PID) *fakeDevice {
	return &fakeDevice{frames: make(chan any), system: system, to: to, ended: make(chan struct{})}
}

func (f *fakeDevice) poll(awake func()) bool {
	v, ok := <-f.frames
	awake()
	if !ok {
		close(f.ended)
		return false
	}
	if g, isGate := v.(*gate); isGate {
		f.system.Root.Send(f.blocker, g)
	} else {
		f.system.Root.Send(f.to, v)
	}
	return true
}

// send hands the poll step v, failing the test if no worker polls within
// a bound that only catches a hang.
func (f *fakeDevice) send(t *testing.T, v any) {
	t.Helper()
	select {
	case f.frames <- v:
	case <-time.After(10 * time.Second):
		t.Fatalf("no worker read %v within 10 s", v)
	}
}

// stop ends the reading and waits for the poll step to see it.
func (f *fakeDevice) stop(t *testing.T) {
	close(f.frames)
	waitFor(t, f.ended, "end of reading")
}

// The device read runs on an idle worker, which then runs the chain the
// frame reached itself: no worker is woken for it.
func TestDispatcherPollRunsTheFrameItRead(t *testing.T) {
	system := quietSystem()
	d := newWorkerDispatcher(300)
	defer d.Close()
	d.stall = time.Hour
	first, done := spawnChain(t, system, d, "chain", 4)
	dev := newFakeDevice(system, first)
	d.setPoller(dev.poll)
	defer dev.stop(t)
	dev.send(t, -1) // the first read: some worker polls now
	waitFor(t, done, "first frame")
	before := d.wakeCount()
	for i := range 50 {
		dev.send(t, i)
		if got := waitFor(t, done, "frame through the chain"); got != i {
			t.Fatalf("the chain delivered %d, want %d", got, i)
		}
	}
	if woken := d.wakeCount() - before; woken != 0 {
		t.Fatalf("50 frames read and carried through 4 links woke %d workers; want 0", woken)
	}
}

// While the worker that read a frame is held in a long run, the watchdog
// hands the device read to another worker: the stack goes on reading.
func TestDispatcherPollMovesOffABlockedWorker(t *testing.T) {
	system := quietSystem()
	d := newWorkerDispatcher(300)
	defer d.Close()
	first, done := spawnChain(t, system, d, "chain", 1)
	dev := newFakeDevice(system, first)
	dev.blocker = spawnBlocker(t, system, d, "blocker")
	d.setPoller(dev.poll)
	defer dev.stop(t)
	waitOnlyPollerBusy(t, d)
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	dev.send(t, g) // the reading worker runs the blocker itself, and blocks
	waitFor(t, g.entered, "blocking run")
	dev.send(t, 5)
	if got := waitFor(t, done, "frame read while the reader's worker is blocked"); got != 5 {
		t.Fatalf("got %d, want 5", got)
	}
	close(g.open)
}

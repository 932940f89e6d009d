package actors

import (
	"runtime"
	"sync"
	"time"
)

// workerDispatcher runs actor mailboxes on a small set of long-lived worker
// goroutines instead of protoactor's default of one new goroutine per
// mailbox run. A new goroutine starts with a small stack, and a packet's
// path through a layer is deep enough that nearly every run grew its stack
// (runtime.newstack was 28% of the CPU of a connect-rate load); workers
// keep their grown stacks.
//
// Two rules keep a request's path on one goroutine (DESIGN.md, "What the
// code taught us" 24). A segment's path (the device read, the ip layer,
// its connection, the app, the connection again, the device write) is a
// chain in which each step schedules the next, and waking a parked
// goroutine for each link cost a futex call, often a second processor
// spinning up to steal the chain, and a move between cores: request/response
// ran at 63 µs of CPU a transaction where the same work on one processor
// took 38.
//
//   - A mailbox run that another run schedules does not wake a worker of
//     its own while a busy worker will reach it: a worker is woken only
//     when none is busy or the queue holds more than two runs per busy
//     worker (a run often schedules two: the next link and the timer
//     actor), so a backlog still spreads over every core.
//   - The device read is not a goroutine of its own but a poll step (set
//     with setPoller) that one idle worker at a time runs: the worker that
//     read a frame goes on to run the mailboxes the frame reached.
//
// A watchdog keeps both rules safe against an actor that blocks or runs
// long, which it must not: when queued runs make no progress for
// stallAfter, it wakes (or adds) a worker, and when no worker has taken
// the poll step for stallAfter (all busy), it hands the step to another
// worker, so the stack goes on reading.
type workerDispatcher struct {
	mu       sync.Mutex
	queue    fifo[func()]
	idle     []*worker // parked, most recently parked last
	busy     int       // workers not parked and not blocked in the poll step
	workers  int
	closed   bool
	progress uint64 // runs taken from the queue so far

	// poll is the stack's device read (readerActor.poll), run by one
	// worker at a time; polling says a worker is in it, and pollAwake
	// that it has read frames and is delivering them (busy again).
	// pollNext is a worker the watchdog asked to take the step next.
	poll      func(awake func()) bool
	awakeFn   func() // d.awake, bound once (a method value allocates)
	polling   bool
	pollAwake bool
	pollEpoch uint64 // poll steps started so far
	pollNext  *worker

	watch      *time.Timer
	stall      time.Duration // stallAfter; tests lengthen it
	watchArmed bool
	// progress and pollEpoch when the watch was armed.
	watchProgress, watchEpoch uint64

	// wakes counts workers woken for queued runs (tests read it).
	wakes uint64

	throughput int
	wg         sync.WaitGroup

	// activity counts the messages posted to and handled by the mailboxes
	// of every actor on this dispatcher: one stack's.
	activity Activity
}

// worker is one worker goroutine; wake hands it the signal to look at the
// queue again.
type worker struct{ wake chan struct{} }

// stallAfter is how long queued mailbox runs, or the poll step, may wait
// for a worker before the watchdog finds another.
const stallAfter = 2 * time.Millisecond

// maxWorkers bounds the pool the watchdog may grow when workers block.
const maxWorkers = 64

func newWorkerDispatcher(throughput int) *workerDispatcher {
	d := &workerDispatcher{throughput: throughput, stall: stallAfter}
	d.awakeFn = d.awake
	d.watch = time.AfterFunc(time.Hour, d.checkStall)
	d.watch.Stop()
	d.mu.Lock()
	for range 2 * runtime.GOMAXPROCS(0) {
		d.startWorkerLocked()
	}
	d.mu.Unlock()
	return d
}

// startWorkerLocked starts a worker that begins busy, looking at the queue,
// and returns it.
func (d *workerDispatcher) startWorkerLocked() *worker {
	w := &worker{wake: make(chan struct{}, 1)}
	d.workers++
	d.busy++
	d.wg.Add(1)
	go d.work(w)
	return w
}

func (d *workerDispatcher) work(w *worker) {
	defer d.wg.Done()
	d.mu.Lock()
	for {
		if d.pollNext == w {
			d.pollNext = nil
			if d.canPollLocked() {
				d.pollLocked()
				continue
			}
		}
		if fn, ok := d.queue.pop(); ok {
			d.progress++
			d.mu.Unlock()
			fn()
			d.mu.Lock()
			continue
		}
		if d.closed {
			d.busy--
			d.mu.Unlock()
			return
		}
		if d.canPollLocked() {
			// Nothing queued: this worker reads the device.
			d.pollLocked()
			continue
		}
		d.busy--
		d.idle = append(d.idle, w)
		d.mu.Unlock()
		<-w.wake
		d.mu.Lock()
	}
}

func (d *workerDispatcher) canPollLocked() bool { return d.poll != nil && !d.polling }

// pollLocked runs the poll step, unlocking around it. Blocked in the read
// the worker is not busy; once frames come (awake) it is, and it runs what
// they reach itself.
func (d *workerDispatcher) pollLocked() {
	d.busy--
	d.polling, d.pollAwake = true, false
	d.pollEpoch++
	poll := d.poll
	d.mu.Unlock()
	more := poll(d.awakeFn)
	d.mu.Lock()
	if !d.pollAwake {
		d.busy++
	}
	d.polling, d.pollAwake = false, false
	if !more {
		d.poll = nil
	}
}

// awake marks the polling worker busy again: it read frames and will run
// the mailboxes they reach. From now until a worker is idle again nobody
// reads, which the watchdog bounds.
func (d *workerDispatcher) awake() {
	d.mu.Lock()
	if d.polling && !d.pollAwake {
		d.pollAwake = true
		d.busy++
		d.armWatchLocked()
	}
	d.mu.Unlock()
}

// setPoller makes poll the device read that idle workers take turns at,
// and wakes a worker to start it. poll blocks until it has read something
// (calling awake before it delivers it) and reports false once reading has
// ended for good; Close waits for it to return.
func (d *workerDispatcher) setPoller(poll func(awake func()) bool) {
	d.mu.Lock()
	d.poll = poll
	w := d.wakeLocked()
	d.mu.Unlock()
	if w != nil {
		w.wake <- struct{}{}
	}
}

// Schedule runs fn on a worker.
func (d *workerDispatcher) Schedule(fn func()) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		go fn()
		return
	}
	d.queue.push(fn)
	var w *worker
	if d.busy == 0 || d.queue.len() > 2*d.busy {
		w = d.wakeLocked()
	}
	if w == nil {
		// A busy worker will take fn when its run ends; make sure one does.
		d.armWatchLocked()
	}
	d.mu.Unlock()
	if w != nil {
		w.wake <- struct{}{}
	}
}

// wakeLocked takes a parked worker to signal once the lock is released, or
// nil if none is parked (all are busy and will reach the queue).
func (d *workerDispatcher) wakeLocked() *worker {
	n := len(d.idle)
	if n == 0 {
		return nil
	}
	w := d.idle[n-1]
	d.idle[n-1] = nil
	d.idle = d.idle[:n-1]
	d.busy++
	d.wakes++
	return w
}

func (d *workerDispatcher) armWatchLocked() {
	if d.watchArmed || d.closed {
		return
	}
	d.watchArmed = true
	d.watchProgress, d.watchEpoch = d.progress, d.pollEpoch
	d.watch.Reset(d.stall)
}

// pollVacantLocked says no worker is waiting in the poll step.
func (d *workerDispatcher) pollVacantLocked() bool {
	return d.poll != nil && (!d.polling || d.pollAwake)
}

// checkStall is the watchdog. If runs are queued and no worker took one
// since the watch was armed, every busy worker is stuck in a long run: it
// wakes another worker, or starts one if none is parked. If no worker
// started the poll step since, it hands the step to another worker.
func (d *workerDispatcher) checkStall() {
	d.mu.Lock()
	d.watchArmed = false
	if d.closed {
		d.mu.Unlock()
		return
	}
	var wake []*worker
	if d.queue.len() > 0 && d.progress == d.watchProgress {
		if w := d.wakeLocked(); w != nil {
			wake = append(wake, w)
		} else if d.workers < maxWorkers {
			d.startWorkerLocked()
		}
	}
	if d.pollVacantLocked() && d.pollEpoch == d.watchEpoch && d.pollNext == nil {
		if w := d.wakeLocked(); w != nil {
			d.pollNext = w
			wake = append(wake, w)
		} else if d.workers < maxWorkers {
			d.pollNext = d.startWorkerLocked()
		}
	}
	if d.queue.len() > 0 || d.pollVacantLocked() {
		d.armWatchLocked()
	}
	d.mu.Unlock()
	for _, w := range wake {
		w.wake <- struct{}{}
	}
}

// Throughput is how many messages a mailbox handles per run before it
// yields its worker.
func (d *workerDispatcher) Throughput() int { return d.throughput }

// Close stops the workers once the queue is drained. Mailbox runs
// scheduled after Close run on goroutines of their own.
func (d *workerDispatcher) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		d.wg.Wait()
		return
	}
	d.closed = true
	d.watch.Stop()
	idle := d.idle
	d.idle = nil
	d.busy += len(idle)
	d.mu.Unlock()
	for _, w := range idle {
		w.wake <- struct{}{}
	}
	d.wg.Wait()
}

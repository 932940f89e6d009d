package actors

import (
	"runtime"
	"sync"
)

// workerDispatcher runs actor mailboxes on a fixed set of long-lived worker
// goroutines instead of protoactor's default of one new goroutine per
// mailbox run. A new goroutine starts with a small stack, and a packet's
// path through a layer is deep enough that nearly every run grew its stack
// (runtime.newstack was 28% of the CPU of a connect-rate load); workers
// keep their grown stacks. Actors never block, so a small pool suffices.
// If the queue is full (a burst of wake-ups), Schedule falls back to a
// goroutine rather than block the actor that sent the message.
type workerDispatcher struct {
	mu         sync.RWMutex
	closed     bool
	queue      chan func()
	throughput int
	stop       chan struct{}
	wg         sync.WaitGroup
	once       sync.Once

	// activity counts the messages posted to and handled by the mailboxes
	// of every actor on this dispatcher: one stack's.
	activity Activity
}

// dispatcherQueue is how many mailbox runs may wait for a worker.
const dispatcherQueue = 4096

func newWorkerDispatcher(throughput int) *workerDispatcher {
	d := &workerDispatcher{
		queue:      make(chan func(), dispatcherQueue),
		throughput: throughput,
		stop:       make(chan struct{}),
	}
	workers := 2 * runtime.GOMAXPROCS(0)
	d.wg.Add(workers)
	for range workers {
		go d.work()
	}
	return d
}

func (d *workerDispatcher) work() {
	defer d.wg.Done()
	for {
		select {
		case fn := <-d.queue:
			fn()
		case <-d.stop:
			// Run what is still queued, then leave.
			for {
				select {
				case fn := <-d.queue:
					fn()
				default:
					return
				}
			}
		}
	}
}

// Schedule runs fn on a worker.
func (d *workerDispatcher) Schedule(fn func()) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		go fn()
		return
	}
	select {
	case d.queue <- fn:
	default:
		go fn()
	}
}

// Throughput is how many messages a mailbox handles per run before it
// yields its worker.
func (d *workerDispatcher) Throughput() int { return d.throughput }

// Close stops the workers once the queue is drained. Mailbox runs
// scheduled after Close run on goroutines of their own.
func (d *workerDispatcher) Close() {
	d.once.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		close(d.stop)
		d.wg.Wait()
	})
}

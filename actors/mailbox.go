package actors

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// actorMailbox is the mailbox of every actnet actor. It follows protoactor's
// default mailbox (system messages first; suspend and resume; a run yields
// after the dispatcher's throughput) with two differences that matter on the
// packet path: its queues are slices reused from run to run, and the
// function it hands the dispatcher is bound once, at registration. The
// default mailbox builds that method value on every wake-up, one allocation
// per idle→busy transition of every actor a packet crosses.
type actorMailbox struct {
	mu     sync.Mutex
	user   messageQueue
	system messageQueue

	status    atomic.Int32 // mailboxIdle or mailboxRunning
	userCount atomic.Int32
	sysCount  atomic.Int32
	suspended atomic.Bool

	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	process    func()
	activity   *Activity // the stack's, or nil on a foreign dispatcher

	// stopped is set once the actor has stopped. protoactor's context
	// drops every user message it is handed after that unread: a batch
	// still queued behind the stop, or posted by a sender that looked the
	// actor up just before it went (the ipv4 actor routing a segment to a
	// connection that is ending). Buffers such messages carry would never
	// come back to the pool, so the mailbox releases them itself (as the
	// stack's dead-letter handler does with mail sent after the actor
	// left the registry). self and registry tell when it stopped.
	stopped  atomic.Bool
	self     *actor.PID
	proc     actor.Process
	registry *actor.ProcessRegistryValue
}

const (
	mailboxIdle int32 = iota
	mailboxRunning
)

// newActorMailbox is the actor.MailboxProducer of actnet's actors.
func newActorMailbox() actor.Mailbox { return &actorMailbox{} }

// fifo is a FIFO over a slice whose storage is reused: popping moves a
// head index, and the slice is rewound once drained, so a steady flow
// allocates nothing. Mailboxes queue messages in it, the dispatcher
// mailbox runs.
type fifo[T any] struct {
	items []T
	head  int
}

// messageQueue is a mailbox's queue.
type messageQueue = fifo[any]

func (q *fifo[T]) len() int { return len(q.items) - q.head }

func (q *fifo[T]) push(m T) { q.items = append(q.items, m) }

func (q *fifo[T]) pop() (T, bool) {
	var zero T
	if q.head == len(q.items) {
		return zero, false
	}
	m := q.items[q.head]
	q.items[q.head] = zero
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 1024 && q.head*2 >= len(q.items):
		// Never drained under a steady flow: slide the live part down so
		// the slice does not grow without bound.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return m, true
}

func (m *actorMailbox) PostUserMessage(message any) {
	m.activity.posted()
	m.mu.Lock()
	m.user.push(message)
	m.mu.Unlock()
	m.userCount.Add(1)
	m.schedule()
}

func (m *actorMailbox) PostSystemMessage(message any) {
	m.activity.posted()
	m.mu.Lock()
	m.system.push(message)
	m.mu.Unlock()
	m.sysCount.Add(1)
	m.schedule()
}

func (m *actorMailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker = invoker
	m.dispatcher = dispatcher
	m.process = m.processMessages
	if d, ok := dispatcher.(*workerDispatcher); ok {
		m.activity = &d.activity
	}
	// protoactor registers the actor's process before it registers the
	// mailbox's handlers; the invoker is the actor's context.
	if c, ok := invoker.(interface {
		Self() *actor.PID
		ActorSystem() *actor.ActorSystem
	}); ok && c.Self() != nil {
		m.self, m.registry = c.Self(), c.ActorSystem().ProcessRegistry
		m.proc, _ = m.registry.GetLocal(m.self.Id)
	}
}

// actorGone reports whether the actor has left the process registry:
// protoactor removes it as it stops, which only ever happens while the
// actor handles a system message (its stop, or the end of its last child).
func (m *actorMailbox) actorGone() bool {
	if m.registry == nil {
		return false
	}
	p, ok := m.registry.GetLocal(m.self.Id)
	return !ok || p != m.proc
}

// releaser is a message that carries packet buffers and can give them
// back unread.
type releaser interface{ Release() }

// discard releases what a user message to a stopped actor carries.
func discard(msg any) {
	if r, ok := actor.UnwrapEnvelopeMessage(msg).(releaser); ok {
		r.Release()
	}
}

func (m *actorMailbox) Start() {}

func (m *actorMailbox) UserMessageCount() int { return int(m.userCount.Load()) }

func (m *actorMailbox) schedule() {
	if m.status.CompareAndSwap(mailboxIdle, mailboxRunning) {
		m.dispatcher.Schedule(m.process)
	}
}

func (m *actorMailbox) processMessages() {
	for {
		m.run()
		m.status.Store(mailboxIdle)
		// Messages posted after the loop ended but before the status
		// went idle found it running and did not schedule: take them.
		sys, user := m.sysCount.Load(), m.userCount.Load()
		if sys > 0 || ((!m.suspended.Load() || m.stopped.Load()) && user > 0) {
			if m.status.CompareAndSwap(mailboxIdle, mailboxRunning) {
				continue
			}
		}
		return
	}
}

func (m *actorMailbox) popSystem() (any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.system.pop()
}

func (m *actorMailbox) popUser() (any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.user.pop()
}

func (m *actorMailbox) run() {
	var msg any
	// Every message popped counts as handled once its handler returned,
	// after whatever it posted (Activity).
	popped := false
	defer func() {
		if popped {
			m.activity.handled()
		}
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	i, t := 0, m.dispatcher.Throughput()
	for {
		if i > t {
			i = 0
			runtime.Gosched()
		}
		i++
		var ok bool
		if msg, ok = m.popSystem(); ok {
			m.sysCount.Add(-1)
			popped = true
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(true)
			case *actor.ResumeMailbox:
				m.suspended.Store(false)
			default:
				m.invoker.InvokeSystemMessage(msg)
				if !m.stopped.Load() && m.actorGone() {
					m.stopped.Store(true)
				}
			}
			popped = false
			m.activity.handled()
			continue
		}
		stopped := m.stopped.Load()
		if m.suspended.Load() && !stopped {
			// A stopped actor's mailbox is drained even if it was
			// suspended (a crash stops a connection actor that way).
			return
		}
		if msg, ok = m.popUser(); !ok {
			return
		}
		m.userCount.Add(-1)
		popped = true
		if stopped {
			discard(msg)
		} else {
			m.invoker.InvokeUserMessage(msg)
		}
		popped = false
		m.activity.handled()
	}
}

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
	// dead is set, under mu, once the actor has stopped: protoactor
	// ignores the user messages still queued then (and those posted
	// through a stale PID after), so the mailbox releases their packet
	// buffers instead of leaving them to the garbage collector.
	dead bool

	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	process    func()
	activity   *Activity // the stack's, or nil on a foreign dispatcher
}

const (
	mailboxIdle int32 = iota
	mailboxRunning
)

// newActorMailbox is the actor.MailboxProducer of actnet's actors.
func newActorMailbox() actor.Mailbox { return &actorMailbox{} }

// messageQueue is a FIFO over a slice whose storage is reused: popping
// moves a head index, and the slice is rewound once drained, so a steady
// flow of messages allocates nothing.
type messageQueue struct {
	items []any
	head  int
}

func (q *messageQueue) push(m any) { q.items = append(q.items, m) }

func (q *messageQueue) pop() (any, bool) {
	if q.head == len(q.items) {
		return nil, false
	}
	m := q.items[q.head]
	q.items[q.head] = nil
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
	if m.dead {
		m.mu.Unlock()
		releaseMessage(message)
		m.activity.handled()
		return
	}
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
		if sys > 0 || (!m.suspended.Load() && user > 0) {
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
				switch msg.(type) {
				case *actor.Stop, *actor.Terminated:
					// Either may have ended the actor.
					m.releaseIfStopped()
				}
			}
			popped = false
			m.activity.handled()
			continue
		}
		if m.suspended.Load() {
			return
		}
		if msg, ok = m.popUser(); !ok {
			return
		}
		m.userCount.Add(-1)
		popped = true
		m.invoker.InvokeUserMessage(msg)
		popped = false
		m.activity.handled()
	}
}

// releaseIfStopped marks the mailbox dead once its actor has stopped (it is
// no longer registered) and releases the packet buffers of the user
// messages still queued: a connection actor that crashed or was stopped
// with segments in its mailbox would otherwise leak their buffers, since
// protoactor drops those messages unseen.
func (m *actorMailbox) releaseIfStopped() {
	c, ok := m.invoker.(interface {
		Self() *actor.PID
		ActorSystem() *actor.ActorSystem
	})
	if !ok || c.Self() == nil {
		return
	}
	if _, alive := c.ActorSystem().ProcessRegistry.GetLocal(c.Self().Id); alive {
		return
	}
	m.mu.Lock()
	m.dead = true
	var left []any
	for {
		msg, ok := m.user.pop()
		if !ok {
			break
		}
		left = append(left, msg)
	}
	m.mu.Unlock()
	for _, msg := range left {
		m.userCount.Add(-1)
		releaseMessage(msg)
		m.activity.handled()
	}
}

// releaseMessage returns the packet buffers msg carries, if any, to the
// pool.
func releaseMessage(msg any) {
	if r, ok := msg.(interface{ Release() }); ok {
		r.Release()
	}
}

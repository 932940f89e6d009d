package actors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// Messages between a connection actor and its socket.
type (
	socketWrite   struct{ data []byte }
	cancelWrite   struct{}
	resumeSocket  struct{}
	configureConn struct {
		apply func(now time.Time, c *tcp.Conn)
	}
	// connDeadline is the connection's timer: its control block's next
	// deadline may have come.
	connDeadline struct{}
)

// ErrAppCrashed is the error a connection reports when its app actor
// crashed; the peer was reset.
var ErrAppCrashed = errors.New("actnet: application actor crashed; connection reset")

// connActor owns the control block of one TCP connection. It feeds it
// segments, user commands and timer expiries, and passes what comes out to
// its user: a Socket (net.Conn) or an app actor (Serve). It is never
// restarted: a connection actor that panics is stopped, its peer reset and
// its user told (supervisor.OneShotStrategy, DESIGN.md principle 6).
type connActor struct {
	env   *Env
	conn  *tcp.Conn
	tuple tcp.Tuple
	c     *tcpCounters

	sock *Socket    // the net.Conn user, or nil
	app  *actor.PID // the app actor user, or nil
	// offer hands an established passive connection to its listener and
	// reports whether the listener took it; nil for active opens and once
	// done. A full accept queue is retried for a while (offerRetries).
	offer          func(ctx actor.Context, a *connActor) bool
	offerTries     int
	suspended      bool
	userClosed     bool
	finished       bool
	sentPeerClosed bool

	// The write in progress: its remaining bytes, how many were taken,
	// and who to answer.
	pending     []byte
	pendingN    int
	pendingFrom *actor.PID // app actor, or nil for the socket

	// inbox counts the segments sent to this actor and not yet handled.
	inbox *atomic.Int64

	timer TimerID
	armed time.Time
}

func newConnActor(env *Env, c *tcpCounters, conn *tcp.Conn, sock *Socket) *connActor {
	return &connActor{env: env, conn: conn, tuple: conn.Tuple(), c: c, sock: sock, timer: NewTimerID()}
}

func (a *connActor) Receive(ctx actor.Context) {
	now := a.env.Clock.Now()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if a.sock != nil {
			a.sock.conn.Store(ctx.Self())
		}
	case *mailbox.PacketsArrived:
		for i := range m.Packets {
			p := &m.Packets[i]
			a.conn.HandleSegment(now, a.tuple, &p.TCP)
			if minISS, ok := a.conn.TimeWaitReuse(); ok {
				// A new SYN ended TIME-WAIT (RFC 1122 §4.2.2.13): the
				// tcp actor opens the new connection with it.
				reopen := mailbox.NewBatch()
				reopen.Add(*p)
				p.Buf = nil
				ctx.Send(a.env.PIDs.TCP, &reopenFromTimeWait{syn: reopen, minISS: minISS, old: ctx.Self()})
				break
			}
		}
		a.inbox.Add(-int64(m.Len()))
		m.Release()
	case *connDeadline:
		a.armed = time.Time{}
		a.conn.HandleTimer(now)
	case *socketWrite:
		a.pending, a.pendingN, a.pendingFrom = m.data, 0, nil
		a.continueWrite()
	case *mailbox.Write:
		if a.pending != nil {
			ctx.Respond(&mailbox.CommandFailed{Cmd: m, Err: errors.New("actnet: a write is already in progress")})
			return
		}
		a.pending, a.pendingN, a.pendingFrom = m.Data, 0, ctx.Sender()
		a.continueWrite()
	case *cancelWrite:
		if a.pending != nil && a.pendingFrom == nil {
			a.answerWrite(a.pendingN, nil)
		}
	case *resumeSocket, *mailbox.ResumeReading:
		a.suspended = false
	case *mailbox.SuspendReading:
		a.suspended = true
	case *configureConn:
		m.apply(now, a.conn)
	case *mailbox.CloseWrite:
		if err := a.conn.CloseWrite(now); err != nil && ctx.Sender() != nil {
			ctx.Respond(&mailbox.CommandFailed{Cmd: m, Err: err})
		}
	case *mailbox.Close:
		a.userClosed = true
		a.conn.Close(now)
	case *mailbox.Abort:
		a.userClosed = true
		a.conn.Abort(now)
	case *mailbox.ControlErrorArrived:
		if e, ok := controlErrorFromICMPv4(m); ok {
			if a.conn.HandleControlError(now, e) {
				a.c.ControlErrors.Inc()
			} else {
				a.c.ControlErrorsIgnored.Inc()
			}
		}
	case *retryOffer:
		a.tryOffer(ctx)
	case *actor.Terminated:
		if a.app != nil && m.Who.Equal(a.app) {
			// The app is gone: crashed, or stopped without closing. Its
			// connection goes with it.
			a.app = nil
			if a.conn.State() != tcp.StateClosed && a.conn.State() != tcp.StateTimeWait {
				a.conn.Abort(now)
				a.c.AppGone.Inc()
			}
		}
	case *actor.Stopping:
		a.stopping(now)
		return
	default:
		return
	}
	a.after(ctx, now)
}

// after passes what the control block reported to the user and keeps one
// timer armed for its next deadline.
func (a *connActor) after(ctx actor.Context, now time.Time) {
	ev := a.conn.TakeEvents()
	if ev.Has(tcp.EventEstablished) {
		a.c.Established.Inc()
		if a.sock != nil {
			a.sock.setEstablished()
		}
		a.tryOffer(ctx)
	}
	if !a.suspended {
		a.pull(ctx, now)
	}
	if ev.Has(tcp.EventWritable) && a.pending != nil {
		a.continueWrite()
	}
	if a.conn.State() == tcp.StateClosed {
		a.finish(ctx)
		return
	}
	a.rearm(ctx)
}

// startApp spawns the app actor of a connection accepted for Serve, as this
// actor's child: the connection supervises its app (the tcp actor's
// appStrategy), and a crashed app is stopped, which resets the connection
// (the Terminated case above). Connected goes first, so the app hears of
// its connection before any data.
func (a *connActor) startApp(ctx actor.Context, props *actor.Props) {
	pid := ctx.Spawn(props)
	ctx.Send(pid, &mailbox.Connected{Conn: ctx.Self(), Local: a.tuple.Local, Remote: a.tuple.Remote})
	a.app = pid
}

// controlErrorFromICMPv4 reads an ICMPv4 error the way RFC 1122 §4.2.3.9
// sorts them: port and protocol unreachable are hard errors, the other
// unreachables and time exceeded are soft, fragmentation needed carries the
// new path MTU. It reports false for errors TCP does not act on.
func controlErrorFromICMPv4(m *mailbox.ControlErrorArrived) (tcp.ControlError, bool) {
	if len(m.Quote) < 8 {
		return tcp.ControlError{}, false
	}
	e := tcp.ControlError{Seq: tcp.Seq(binary.BigEndian.Uint32(m.Quote[4:8]))}
	switch m.Type {
	case icmpv4.TypeDestUnreachable:
		switch m.Code {
		case icmpv4.CodeFragmentationNeeded:
			if m.MTU <= 0 {
				return e, false
			}
			e.MTU = m.MTU
		case icmpv4.CodePortUnreachable:
			e.Hard = tcp.ErrRefused
		case icmpv4.CodeProtocolUnreachable:
			e.Hard = tcp.ErrProtocolUnreachable
		case icmpv4.CodeNetUnreachable, icmpv4.CodeDestNetUnknown, icmpv4.CodeNetProhibited, icmpv4.CodeNetUnreachableForTOS:
			e.Soft = tcp.ErrNetUnreachable
		default:
			e.Soft = tcp.ErrHostUnreachable
		}
	case icmpv4.TypeTimeExceeded, icmpv4.TypeParameterProblem:
		e.Soft = tcp.ErrHostUnreachable
	default:
		return e, false
	}
	return e, true
}

// Accept-queue retries: every offerInterval, for offerRetries times, then
// the connection is reset.
const (
	offerInterval = 100 * time.Millisecond
	offerRetries  = 30
)

// retryOffer is the timer of a connection waiting for room in its
// listener's accept queue.
type retryOffer struct{}

// tryOffer hands an established passive connection to its listener, and
// when the accept queue is full tries again later: the peer already thinks
// it is connected, and a moment's wait beats a reset.
func (a *connActor) tryOffer(ctx actor.Context) {
	if a.offer == nil {
		return
	}
	if a.offer(ctx, a) {
		a.offer = nil
		return
	}
	a.offerTries++
	if a.offerTries > offerRetries {
		a.offer = nil
		a.c.AcceptQueueFull.Inc()
		a.conn.Abort(a.env.Clock.Now())
		return
	}
	a.env.Schedule(NewTimerID(), ctx.Self(), a.env.Clock.Now().Add(offerInterval), &retryOffer{})
}

// pull moves received data from the control block to the user while the
// user has room for it.
func (a *connActor) pull(ctx actor.Context, now time.Time) {
	for {
		avail := a.conn.Buffered()
		room := avail
		switch {
		case a.sock != nil:
			room = a.sock.room()
		case a.app == nil:
			return // no user yet: leave the data in the control block
		}
		if avail == 0 {
			if _, err := a.conn.Read(now, nil); err == io.EOF {
				a.peerClosed(ctx)
			}
			return
		}
		if room == 0 {
			return
		}
		if a.sock != nil {
			buf := a.sock.reserve()
			n, _ := a.conn.Read(now, buf[:min(len(buf), avail, room)])
			a.sock.commit(n)
			if n == 0 {
				return
			}
			continue
		}
		// An app actor owns what it receives, so its data is its own copy.
		chunk := make([]byte, min(avail, room))
		n, _ := a.conn.Read(now, chunk)
		if n == 0 {
			return
		}
		ctx.Send(a.app, &mailbox.Received{Data: chunk[:n]})
	}
}

func (a *connActor) peerClosed(ctx actor.Context) {
	if a.sock != nil {
		if !a.sock.eofSet() {
			a.sock.setEOF()
		}
		return
	}
	if a.app != nil && !a.sentPeerClosed {
		a.sentPeerClosed = true
		ctx.Send(a.app, &mailbox.PeerClosed{})
	}
}

// continueWrite offers the pending write to the send buffer and answers it
// once all of it is taken.
func (a *connActor) continueWrite() {
	n, err := a.conn.Write(a.env.Clock.Now(), a.pending[a.pendingN:])
	a.pendingN += n
	if err != nil {
		a.answerWrite(a.pendingN, err)
		return
	}
	if a.pendingN == len(a.pending) {
		a.answerWrite(a.pendingN, nil)
	}
}

func (a *connActor) answerWrite(n int, err error) {
	from := a.pendingFrom
	data := a.pending
	a.pending, a.pendingN, a.pendingFrom = nil, 0, nil
	if from != nil {
		if err != nil {
			a.env.System.Root.Send(from, &mailbox.CommandFailed{Cmd: &mailbox.Write{Data: data}, Err: err})
		} else {
			a.env.System.Root.Send(from, &mailbox.Written{N: n})
		}
		return
	}
	if a.sock != nil {
		a.sock.writeDone <- writeResult{n: n, err: err}
	}
}

// finish tells the user the connection is gone and stops the actor.
func (a *connActor) finish(ctx actor.Context) {
	if a.finished {
		return
	}
	a.finished = true
	foldConnStats(a.c, a.conn.Stats())
	err := a.conn.Err()
	if a.pending != nil {
		werr := err
		if werr == nil {
			werr = tcp.ErrClosed
		}
		a.answerWrite(a.pendingN, werr)
	}
	if a.sock != nil {
		a.sock.finish(err)
	}
	if a.app != nil {
		ctx.Send(a.app, &mailbox.Closed{Err: err})
	}
	a.env.Cancel(a.timer)
	ctx.Stop(ctx.Self())
}

// stopping runs when the actor stops: after finish, or because it crashed
// (then the control block may be in any state). A crashed connection
// resets its peer and fails its user, and nothing else notices.
func (a *connActor) stopping(now time.Time) {
	if a.finished {
		return
	}
	a.finished = true
	defer func() {
		if r := recover(); r != nil {
			a.env.Log.Error().Interface("panic", r).Str("conn", tupleString(a.tuple)).Msg("tcp: cleaning up a crashed connection failed")
		}
	}()
	foldConnStats(a.c, a.conn.Stats())
	a.env.Cancel(a.timer)
	a.conn.Abort(now) // emits the RST
	if a.pending != nil {
		a.answerWrite(a.pendingN, errConnGone)
	}
	if a.sock != nil {
		a.sock.finish(errConnGone)
	}
	if a.app != nil {
		a.env.System.Root.Send(a.app, &mailbox.Closed{Err: errConnGone})
	}
}

// rearm keeps one timer armed for the control block's next deadline. A
// later deadline leaves the armed timer alone: when it fires early the
// control block simply has nothing due, and the timer is re-armed then.
func (a *connActor) rearm(ctx actor.Context) {
	next := a.conn.NextDeadline()
	if next.IsZero() || (!a.armed.IsZero() && !a.armed.After(next)) {
		return
	}
	a.armed = next
	a.env.Schedule(a.timer, ctx.Self(), next, &connDeadline{})
}

func tupleString(t tcp.Tuple) string { return fmt.Sprintf("%s-%s", t.Local, t.Remote) }

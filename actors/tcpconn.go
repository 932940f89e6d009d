package actors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// Messages between a connection actor and its socket, and to itself.
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
	// routeDrained tells a finished connection that no segment can reach
	// it any more: its route is gone from both the ipv4 actor's table
	// and the tcp actor's, and whatever either sent it before is already
	// in its mailbox (see finish).
	routeDrained struct{}
	// appStopped follows the Terminated of an app that stopped on its
	// own. Terminated is a system message and overtakes the app's last
	// commands in the mailbox; appStopped is a user message queued behind
	// them, so the connection decides on the app's end only after it has
	// carried out everything the app said (a Close, say) before stopping.
	appStopped struct{}
)

// ErrAppCrashed is the error a connection reports when its app actor
// crashed; the peer was reset.
var ErrAppCrashed = errors.New("actnet: application actor crashed; connection reset")

// closeRequest is what the user asked for at the end of its writes.
type closeRequest uint8

const (
	closeNone  closeRequest = iota
	closeWrite              // CloseWrite: a FIN after the queued data
	closeFull               // Close: both directions, gracefully
)

// queuedWrite is one write waiting for room in the send buffer. The head of
// the queue may be partly taken (n bytes).
type queuedWrite struct {
	data []byte
	n    int
	sock bool           // the socket's write: answered on its channel
	to   *actor.PID     // who gets Written or CommandFailed, if anyone
	cmd  *mailbox.Write // the app's command, for CommandFailed
}

// connActor owns the control block of one TCP connection. It feeds it
// segments, user commands and timer expiries, and passes what comes out to
// its user: a Socket (net.Conn) or an app actor (Serve), whose commands it
// carries out in order (mailbox/tcp.go states the contract). It is never
// restarted: a connection actor that panics is stopped, its peer reset and
// its user told (supervisor.OneShotStrategy, DESIGN.md principle 6).
type connActor struct {
	env   *Env
	out   *Outputs
	conn  *tcp.Conn
	tuple tcp.Tuple
	c     *tcpCounters

	sock *Socket    // the net.Conn user, or nil
	app  *actor.PID // the app actor user while it runs, or nil
	// appName names the app in logs ("" for socket users).
	appName string
	// offer hands an established passive connection to its listener and
	// reports whether the listener took it; nil for active opens and once
	// done. A full accept queue is retried for a while (offerRetries).
	offer          func(ctx actor.Context, a *connActor) bool
	offerTries     int
	suspended      bool
	finished       bool // CLOSED (or crashed), and the user told
	drained        bool // routeDrained came: nothing routes to it any more
	drainsLeft     int  // routeDrained answers still to come
	sentPeerClosed bool

	// writes are the user's writes not yet wholly in the send buffer,
	// oldest first; closing is what follows them, applied once they are
	// all taken (closeApplied). closeFrom gets the answer.
	writes          []queuedWrite
	closing         closeRequest
	closeApplied    bool
	closeFrom       *actor.PID
	writeClosedSent bool

	// The app's end: appClosed once it was sent Closed (and a PoisonPill);
	// appCrash holds its panic, set by the app supervisor before the
	// Terminated arrives. A finished connection waits for its app's
	// Terminated (stopIfDone), so the app reads Closed before it stops.
	appClosed bool
	appCrash  any

	// inbox counts the segments sent to this actor and not yet handled.
	inbox *atomic.Int64
	// live is the stack's count of connection actors, done when this
	// one has stopped.
	live *sync.WaitGroup
	// opening counts the routeOpen barriers still to come; until the
	// last, segments straight from a network actor wait in held.
	opening int
	held    []*mailbox.PacketsArrived

	timer TimerID
	armed time.Time

	// The idle timeout (tcp.Config.IdleTimeout): idle is its length (0:
	// off), lastData when data last moved, mark the control block's
	// DataMark then; idleClosing is set once it closed the connection.
	idle        time.Duration
	lastData    time.Time
	mark        [2]tcp.Seq
	idleClosing bool
}

func newConnActor(env *Env, c *tcpCounters, conn *tcp.Conn, sock *Socket) *connActor {
	a := &connActor{env: env, conn: conn, tuple: conn.Tuple(), c: c, sock: sock, timer: NewTimerID(), idle: conn.IdleTimeout()}
	if a.idle > 0 {
		a.lastData = env.Clock.Now()
		r, u := conn.DataMark()
		a.mark = [2]tcp.Seq{r, u}
	}
	return a
}

func (a *connActor) Receive(ctx actor.Context) {
	now := a.env.Clock.Now()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if a.sock != nil {
			a.sock.conn.Store(ctx.Self())
		}
	case *mailbox.PacketsArrived:
		if a.opening > 0 && !a.finished {
			// Straight from a network actor while the tcp actor may
			// still forward earlier segments: held until routeOpen.
			a.c.HandoverHeld.Add(uint64(m.Len()))
			a.held = append(a.held, m)
			return
		}
		if !a.segments(ctx, now, m) {
			return
		}
	case *handedSegments:
		if !a.segments(ctx, now, m.PacketsArrived) {
			return
		}
	case *routeOpen:
		// One from each network actor, through the tcp actor.
		if a.opening--; a.opening > 0 {
			return
		}
		held := a.held
		a.held = nil
		for i, m := range held {
			held[i] = nil
			if a.segments(ctx, now, m) {
				a.after(ctx, now)
			}
		}
		return
	case *connDeadline:
		a.armed = time.Time{}
		a.conn.HandleTimer(now)
		a.checkIdle(ctx, now)
	case *socketWrite:
		a.queueWrite(now, queuedWrite{data: m.data, sock: true})
	case *mailbox.Write:
		a.queueWrite(now, queuedWrite{data: m.Data, to: a.replyTo(ctx), cmd: m})
	case *cancelWrite:
		a.cancelSocketWrite()
		a.drainWrites(now) // a Close waiting behind the write goes on
	case *resumeSocket:
		a.suspended = false
	case *mailbox.ResumeReading:
		a.suspended = false
	case *mailbox.SuspendReading:
		a.suspended = true
	case *configureConn:
		m.apply(now, a.conn)
	case *mailbox.CloseWrite:
		if a.closing == closeNone {
			a.closing, a.closeFrom = closeWrite, a.replyTo(ctx)
			a.drainWrites(now)
		}
	case *mailbox.Close:
		a.requestClose(ctx, now)
	case *mailbox.Abort:
		a.failWrites(tcp.ErrAborted)
		a.conn.Abort(now)
	case *mailbox.ControlErrorArrived:
		if e, ok := controlError(m); ok {
			if out, ok := a.out.For(a.tuple.Remote.Addr()); ok && e.MTU > 0 && a.conn.QuotesInFlight(e.Seq) {
				// The report names this connection and data in
				// flight: only now may it lower the path MTU,
				// which every connection to the peer shares.
				e.MTU, _ = out.LowerPathMTU(a.tuple.Remote.Addr(), m.NextHopMTU, m.SentLen)
			}
			if a.conn.HandleControlError(now, e) {
				a.c.ControlErrors.Inc()
			} else {
				a.c.ControlErrorsIgnored.Inc()
			}
		}
	case *retryOffer:
		a.tryOffer(ctx)
	case *localAddrRemoved:
		a.failWrites(tcp.ErrAddrRemoved)
		a.conn.AddrRemoved()
	case *stackReset:
		a.resetForClose(now)
	case *dropUnreachable:
		if a.conn.DropUnreachable() {
			a.c.HalfOpenUnreachable.Inc()
		}
	case *actor.Terminated:
		if !a.appTerminated(ctx, now, m.Who) {
			return
		}
	case *routeDrained:
		// One from each network actor (Env.networkPIDs).
		if a.drainsLeft--; a.drainsLeft > 0 {
			return
		}
		a.drained = true
		a.stopIfDone(ctx)
		return
	case *appStopped:
		a.appStoppedItself(now)
	case *actor.Stopping:
		a.env.TCPRoutes.remove(a.tuple, ctx.Self()) // as in finish
		a.releaseHeld(ctx, false)
		a.stopping(now)
		return
	case *actor.Stopped:
		if a.live != nil {
			a.live.Done()
			a.live = nil
		}
		return
	case actor.SystemMessage, actor.AutoReceiveMessage, *actor.ReceiveTimeout:
		return // protoactor's own lifecycle messages
	default:
		a.refuse(ctx, m)
		return
	}
	a.after(ctx, now)
}

// segments feeds a batch of segments to the control block and reports
// whether the actor goes on to after (false once it is finished).
func (a *connActor) segments(ctx actor.Context, now time.Time, m *mailbox.PacketsArrived) bool {
	if a.finished {
		// Segments routed here before the route was removed: the
		// connection no longer exists, so they are the tcp actor's,
		// which answers them as for a closed port (RFC 9293
		// §3.10.7.1) or hands a SYN to the listener. Dropping them
		// would leave the peer unanswered.
		a.inbox.Add(-int64(m.Len()))
		ctx.Send(a.env.PIDs.TCP, m)
		return false
	}
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
	return true
}

// releaseHeld gives up the segments held for the route hand-over: to the
// tcp actor once the connection is finished (as segments, they are its),
// or back to the pool when the actor stops (a crash, the stack's end).
func (a *connActor) releaseHeld(ctx actor.Context, toTCP bool) {
	for i, m := range a.held {
		a.held[i] = nil
		a.inbox.Add(-int64(m.Len()))
		if toTCP {
			ctx.Send(a.env.PIDs.TCP, m)
		} else {
			m.Release()
		}
	}
	a.held = nil
}

// replyTo is who answers to the command being handled go to: its sender
// (ctx.Request), else the app (ctx.Send carries no sender).
func (a *connActor) replyTo(ctx actor.Context) *actor.PID {
	if s := ctx.Sender(); s != nil {
		return s
	}
	return a.app
}

// refuse answers a message that is no command of a connection, so a
// mistake (a command sent by value, a message meant for someone else) is
// heard instead of ignored.
func (a *connActor) refuse(ctx actor.Context, m any) {
	a.c.UnknownCommands.Inc()
	a.env.Log.Warn().Str("conn", tupleString(a.tuple)).Str("message", fmt.Sprintf("%T", m)).
		Msg("tcp: connection got a message that is not a command; answered CommandFailed")
	if to := a.replyTo(ctx); to != nil {
		ctx.Send(to, &mailbox.CommandFailed{Cmd: m, Err: mailbox.ErrNotACommand})
	}
}

// queueWrite queues a write behind the others and offers what it can to
// the send buffer. Writes after CloseWrite, Close or Abort fail.
func (a *connActor) queueWrite(now time.Time, w queuedWrite) {
	if a.closing != closeNone || a.finished {
		a.answerWrite(w, tcp.ErrWriteClosed)
		return
	}
	a.writes = append(a.writes, w)
	a.drainWrites(now)
}

// drainWrites moves queued writes into the send buffer, in order, answering
// each once all of it is taken; when none is left, a requested close takes
// effect (its FIN follows the last byte).
func (a *connActor) drainWrites(now time.Time) {
	for len(a.writes) > 0 {
		w := &a.writes[0]
		n, err := a.conn.Write(now, w.data[w.n:])
		w.n += n
		if err != nil {
			a.failWrites(err)
			break
		}
		if w.n < len(w.data) {
			return // the send buffer is full: EventWritable resumes
		}
		done := *w
		a.writes[0] = queuedWrite{}
		a.writes = a.writes[1:]
		a.answerWrite(done, nil)
	}
	a.writes = a.writes[:0]
	if a.closing == closeNone || a.closeApplied {
		return
	}
	a.closeApplied = true
	if a.closing == closeFull {
		a.conn.Close(now)
		return
	}
	if err := a.conn.CloseWrite(now); err != nil && a.closeFrom != nil {
		a.env.System.Root.Send(a.closeFrom, &mailbox.CommandFailed{Cmd: &mailbox.CloseWrite{}, Err: err})
	}
}

// requestClose handles Close: after the queued writes, both directions
// close. A Close after CloseWrite completes it.
func (a *connActor) requestClose(ctx actor.Context, now time.Time) {
	if a.closing == closeFull {
		return
	}
	a.closing, a.closeFrom = closeFull, a.replyTo(ctx)
	if a.closeApplied {
		a.conn.Close(now) // the FIN is out already; reads end too
		return
	}
	a.drainWrites(now)
}

// cancelSocketWrite answers the socket's queued write with what was taken
// so far (its deadline passed).
func (a *connActor) cancelSocketWrite() {
	for i := range a.writes {
		if a.writes[i].sock {
			w := a.writes[i]
			a.writes = append(a.writes[:i], a.writes[i+1:]...)
			a.answerWrite(w, nil)
			return
		}
	}
}

// failWrites answers every queued write with err.
func (a *connActor) failWrites(err error) {
	for _, w := range a.writes {
		a.answerWrite(w, err)
	}
	clear(a.writes)
	a.writes = a.writes[:0]
}

// answerWrite tells a write's sender how it went: Written, or CommandFailed
// with err.
func (a *connActor) answerWrite(w queuedWrite, err error) {
	if w.sock {
		if a.sock != nil {
			a.sock.writeDone <- writeResult{n: w.n, err: err}
		}
		return
	}
	if w.to == nil {
		return
	}
	if err != nil {
		a.env.System.Root.Send(w.to, &mailbox.CommandFailed{Cmd: w.cmd, Err: err})
		return
	}
	a.env.System.Root.Send(w.to, &mailbox.Written{N: w.n})
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
		if e := a.env.Log.Debug(); e.Enabled() {
			e.Str("conn", tupleString(a.tuple)).Str("app", a.appName).Msg("tcp: connection opened")
		}
	}
	if !a.suspended {
		a.pull(ctx, now)
	}
	if ev.Has(tcp.EventWritable) && len(a.writes) > 0 {
		a.drainWrites(now)
	}
	if a.idle > 0 {
		if r, u := a.conn.DataMark(); r != a.mark[0] || u != a.mark[1] {
			a.mark, a.lastData = [2]tcp.Seq{r, u}, now
		}
	}
	if a.conn.State() == tcp.StateClosed {
		a.finish(ctx, nil)
		return
	}
	if a.closeApplied && a.finAcked() {
		a.closeCompleted(ctx)
	}
	if a.conn.State() == tcp.StateTimeWait {
		// Both directions are done; only the connection's quarantine
		// (2 MSL) is left, which needs no app, no buffers and no actor:
		// once its user has every byte, the connection ends here and
		// the tcp actor keeps a compact entry for the rest (DESIGN.md,
		// "What the code taught us" 22).
		if tw, ok := a.conn.TimeWait(); ok && a.conn.Buffered() == 0 && !a.suspended {
			a.finish(ctx, &tw)
			return
		}
		a.tellAppClosed(ctx, nil)
	}
	a.rearm(ctx)
}

// finAcked reports whether the peer has acknowledged our FIN (and so every
// byte before it): the states after FIN-WAIT-1, CLOSING and LAST-ACK.
func (a *connActor) finAcked() bool {
	switch a.conn.State() {
	case tcp.StateFinWait2, tcp.StateTimeWait:
		return true
	case tcp.StateClosed:
		return a.conn.Err() == nil
	}
	return false
}

// closeCompleted answers a CloseWrite or Close whose FIN the peer has
// acknowledged. After Close the app hears Closed and is stopped, while the
// connection may linger (FIN-WAIT-2, TIME-WAIT) on its own.
func (a *connActor) closeCompleted(ctx actor.Context) {
	if a.closing == closeWrite && !a.writeClosedSent {
		a.writeClosedSent = true
		if a.closeFrom != nil {
			ctx.Send(a.closeFrom, &mailbox.WriteClosed{})
		}
	}
	if a.closing == closeFull {
		a.tellAppClosed(ctx, nil)
	}
}

// tellAppClosed sends the app its last event, Closed, followed by a
// PoisonPill: the app reads Closed, then stops (if it did not stop itself).
func (a *connActor) tellAppClosed(ctx actor.Context, err error) {
	if a.app == nil || a.appClosed {
		return
	}
	a.appClosed = true
	ctx.Send(a.app, &mailbox.Closed{Reason: closeReason(err), Err: err})
	ctx.Poison(a.app)
}

// closeReason sorts a control block's close error.
func closeReason(err error) mailbox.CloseReason {
	switch {
	case err == nil:
		return mailbox.ClosedOrderly
	case errors.Is(err, tcp.ErrReset):
		return mailbox.ClosedByReset
	case errors.Is(err, tcp.ErrTimedOut):
		return mailbox.ClosedTimedOut
	case errors.Is(err, tcp.ErrAborted):
		return mailbox.ClosedAborted
	}
	return mailbox.ClosedFailed
}

// appTerminated handles the end of the app actor and reports whether the
// connection goes on (false: this actor is stopping).
func (a *connActor) appTerminated(ctx actor.Context, now time.Time, who *actor.PID) bool {
	if a.app == nil || !who.Equal(a.app) {
		return true
	}
	a.app = nil
	switch {
	case a.appClosed:
		// It stopped after Closed, as it should.
		if a.finished {
			return !a.stopIfDone(ctx)
		}
	case a.appCrash != nil:
		// A crashed app resets its own connection, and nothing else.
		a.failWrites(ErrAppCrashed)
		if !a.finished {
			a.conn.Abort(now)
		}
	default:
		ctx.Send(ctx.Self(), &appStopped{})
	}
	return true
}

// appStoppedItself decides, once the stopped app's last commands are
// carried out, how its connection ends: gracefully if the app closed it,
// with a reset if it just walked away (the peer must not take silence for
// a clean end of the data).
func (a *connActor) appStoppedItself(now time.Time) {
	if a.finished {
		return
	}
	switch a.closing {
	case closeFull:
		return // the close goes on without the app
	case closeWrite:
		// Nobody is left to read: finish the close in both directions.
		a.closing = closeFull
		if a.closeApplied {
			a.conn.Close(now)
		}
		return
	}
	a.c.AppGone.Inc()
	a.failWrites(tcp.ErrAborted)
	a.conn.Abort(now)
}

// startApp spawns the app actor of a connection accepted for Serve, as this
// actor's child: the connection supervises its app (the tcp actor's
// appStrategy). Connected goes first, so the app hears of its connection
// before any data.
func (a *connActor) startApp(ctx actor.Context, props *actor.Props, name *atomic.Value) {
	pid := ctx.Spawn(props)
	if n, ok := name.Load().(string); ok {
		a.appName = n
	}
	ctx.Send(pid, &mailbox.Connected{Conn: ctx.Self(), Local: a.tuple.Local, Remote: a.tuple.Remote})
	a.app = pid
}

// controlError reads a transport-level ICMP error the way RFC 1122
// §4.2.3.9 sorts them: port and protocol unreachable are hard errors, the
// other unreachables, time exceeded and parameter problems soft, packet too
// big asks for a smaller path MTU. It reports false for errors TCP does not
// act on.
func controlError(m *mailbox.ControlErrorArrived) (tcp.ControlError, bool) {
	if len(m.Quote) < 8 {
		return tcp.ControlError{}, false
	}
	e := tcp.ControlError{Seq: tcp.Seq(binary.BigEndian.Uint32(m.Quote[4:8]))}
	switch {
	case m.TooBig:
		// A placeholder until the quote is checked: the path MTU is
		// lowered, and e.MTU set to it, only then.
		e.MTU = max(m.NextHopMTU, 1)
	case m.Err == syscall.ECONNREFUSED:
		e.Hard = tcp.ErrRefused
	case m.Err == syscall.ENOPROTOOPT:
		e.Hard = tcp.ErrProtocolUnreachable
	case m.Err == syscall.ENETUNREACH:
		e.Soft = tcp.ErrNetUnreachable
	default:
		e.Soft = tcp.ErrHostUnreachable
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
		// An app actor owns what it receives, so its data is its own copy
		// (recycled if the app releases it).
		r := mailbox.NewReceived(min(avail, room))
		n, _ := a.conn.Read(now, r.Data)
		if n == 0 {
			r.Release()
			return
		}
		r.Data = r.Data[:n]
		ctx.Send(a.app, r)
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

// finish tells the user the connection is gone and stops the actor, once
// its app (if any) has read Closed and stopped. A connection in TIME-WAIT
// passes its compact entry, which the tcp actor keeps.
func (a *connActor) finish(ctx actor.Context, tw *tcp.TimeWait) {
	if a.finished {
		return
	}
	a.finished = true
	// Its segments are a closed connection's from now on, which the tcp
	// actor answers (from the TIME-WAIT entry, if any). The route goes
	// before the user hears of the end, so that nothing the user does
	// after it (a new connection on the same tuple, a probe) is routed
	// here. The tcp actor hears of the end first: a network actor that
	// finds the route gone sends the tuple's segments to the tcp actor,
	// and they must queue behind connFinished, which brings the entry
	// that answers them.
	ctx.Send(a.env.PIDs.TCP, &connFinished{who: ctx.Self(), tuple: a.tuple, timeWait: tw})
	a.env.TCPRoutes.remove(a.tuple, ctx.Self())
	foldConnStats(a.c, a.conn.Stats())
	err := a.conn.Err()
	if e := a.env.Log.Debug(); e.Enabled() {
		msg := "tcp: connection closed"
		if err != nil {
			msg = "tcp: connection reset"
		}
		e.Str("conn", tupleString(a.tuple)).Str("app", a.appName).Str("how", closeReason(err).String()).Msg(msg)
	}
	werr := err
	if werr == nil {
		werr = tcp.ErrClosed
	}
	a.failWrites(werr)
	if a.sock != nil {
		a.sock.finish(err)
	}
	if a.closing == closeWrite && err == nil {
		a.closeCompleted(ctx)
	}
	a.tellAppClosed(ctx, err)
	a.env.Cancel(a.timer)
	// The route goes before the actor does. Stopping at once would lose
	// every segment already routed here (a dead letter, never answered:
	// a peer probing a connection whose TIME-WAIT just ended would get
	// no RST). So, the route being gone (above), the tcp actor forgets
	// the tuple and passes a barrier through every network actor's
	// mailbox (each may route segments here), which comes back as
	// routeDrained once every segment they routed here is queued ahead
	// of it. Until the last one, segments are handed back to the tcp
	// actor.
	a.drainsLeft = len(a.env.networkPIDs())
	a.releaseHeld(ctx, true)
}

// stopIfDone stops a finished connection actor once its route is drained
// and its app (if any) has stopped, and reports whether it did.
func (a *connActor) stopIfDone(ctx actor.Context) bool {
	if !a.finished || !a.drained || a.app != nil {
		return false
	}
	ctx.Stop(ctx.Self())
	return true
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
	// Stopped with the stack (closed or failed), or crashed on its own.
	err := a.env.life.err()
	if err == nil {
		err = errConnGone
	}
	a.failWrites(err)
	if a.sock != nil {
		a.sock.finish(err)
	}
	if a.app != nil && !a.appClosed {
		// The app is stopped with this actor (its child): it may not
		// read this, but a Stop overtaking it is all a crash allows.
		a.env.System.Root.Send(a.app, &mailbox.Closed{Reason: mailbox.ClosedFailed, Err: err})
	}
}

// checkIdle applies the idle timeout: after idle with no data moving, the
// connection is closed gracefully, or reset when data waits that the peer
// does not take; a graceful close still not done one more idle later is
// reset too. The app, or the socket's reader, hears it the usual way.
func (a *connActor) checkIdle(ctx actor.Context, now time.Time) {
	if a.idle <= 0 || a.finished || a.conn.State() == tcp.StateClosed || a.conn.State() == tcp.StateTimeWait {
		return
	}
	if now.Before(a.lastData.Add(a.idle)) {
		return
	}
	if a.idleClosing || a.conn.Unsent() > 0 || len(a.writes) > 0 {
		// The peer takes nothing (or ignored our close): reset.
		a.c.IdleResets.Inc()
		a.failWrites(tcp.ErrTimedOut)
		a.conn.Abort(now)
		return
	}
	a.c.IdleCloses.Inc()
	a.idleClosing = true
	a.lastData = now // the close gets one more idle period
	a.requestClose(ctx, now)
}

// rearm keeps one timer armed for the control block's next deadline (and
// the idle timeout's). A
// later deadline leaves the armed timer alone: when it fires early the
// control block simply has nothing due, and the timer is re-armed then.
func (a *connActor) rearm(ctx actor.Context) {
	next := a.conn.NextDeadline()
	if a.idle > 0 && a.conn.State() != tcp.StateTimeWait && a.conn.State() != tcp.StateClosed {
		if d := a.lastData.Add(a.idle); next.IsZero() || d.Before(next) {
			next = d
		}
	}
	if next.IsZero() || (!a.armed.IsZero() && !a.armed.After(next)) {
		return
	}
	a.armed = next
	a.env.Schedule(a.timer, ctx.Self(), next, &connDeadline{})
}

func tupleString(t tcp.Tuple) string { return fmt.Sprintf("%s-%s", t.Local, t.Remote) }

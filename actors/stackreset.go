package actors

import (
	"fmt"
	"net"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/tcp"
)

// Closing a stack with connections open: each is reset while the device
// still works (RFC 9293 §3.10.4, ABORT: "a RST segment should be formed
// and sent"), so that its peer learns at once that the connection is gone
// instead of retransmitting into silence until its own timeout (a user
// timeout or keep-alive can take minutes, or never come).

// ErrStackReset is why a connection reset by the stack's Close ended: its
// user's blocked and later calls report it. It matches net.ErrClosed (the
// stack is closed, as every call on it reports from then on) and
// tcp.ErrAborted (the connection was reset, not closed in order).
var ErrStackReset = fmt.Errorf("%w (the stack's Close reset the connection: %w)", net.ErrClosed, tcp.ErrAborted)

// resetBound is how long Close waits for the connections it reset to end.
// A reset takes one pass through each connection actor's mailbox and one
// device write; a stack that takes longer (a connection whose app does
// not stop) is stopped anyway, as it was before.
const resetBound = time.Second

// resetConns asks the tcp actor to reset every connection it holds and to
// spawn none after; it closes done once every connection was told.
type resetConns struct{ done chan struct{} }

// stackReset tells a connection actor that the stack is closing.
type stackReset struct{}

// ResetConns resets every open TCP connection, of every family, and waits
// (up to a second) until their actors have ended: peers get a RST, app
// actors Closed with ClosedAborted, and sockets' users ErrStackReset. No
// connection is made after it, so only a stack about to close calls it
// (before anything, like a DHCP release, removes the addresses the resets
// come from). Later calls do nothing.
func (r *Running) ResetConns() {
	r.resetOnce.Do(func() {
		if r.Env.life.err() != nil {
			// Already down: a failed tcp layer stopped (and reset) its
			// connections as it stopped.
			return
		}
		deadline := time.Now().Add(resetBound)
		done := make(chan struct{})
		r.system.Root.Send(r.Env.PIDs.TCP, &resetConns{done: done})
		timer := time.NewTimer(resetBound)
		defer timer.Stop()
		select {
		case <-done:
		case <-r.Env.life.failed: // the tcp actor may never answer
			return
		case <-timer.C:
			return
		}
		// No connection actor is spawned any more (closing is set), so
		// the count behind waitConns only falls.
		r.Env.TCPRoutes.waitConns(time.Until(deadline))
	})
}

// resetAll is the tcp actor's part of ResetConns.
func (a *tcpActor) resetAll(ctx actor.Context, m *resetConns) {
	a.closing = true
	for _, r := range a.records {
		ctx.Send(r.pid, &stackReset{})
	}
	close(m.done)
}

// resetForClose is the connection actor's part of ResetConns: its user
// hears ErrStackReset (set first, so that the control block's own reason,
// ErrAborted, does not replace it), its peer a RST (Abort sends none where
// RFC 9293 §3.10.4 says not to: SYN-SENT, the closing states). The app
// actor, if any, gets Closed with ClosedAborted as the connection ends.
func (a *connActor) resetForClose(now time.Time) {
	if a.finished {
		return
	}
	if a.sock != nil {
		a.sock.setErr(ErrStackReset)
	}
	a.failWrites(ErrStackReset)
	a.conn.Abort(now)
}

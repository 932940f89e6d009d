package actors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// ErrStackFailed is what every request to a failed stack reports (wrapped
// with the reason): a layer exceeded its crash budget and was stopped, so
// an answer may never come (DESIGN.md, "What the code taught us" 3).
var ErrStackFailed = errors.New("actnet: stack failed")

// lifecycle tells the goroutines of a stack's users that the stack went
// down: closed by its owner or failed. Every call that waits for an actor
// (a reply, data, a handshake) also waits on down, because a stopped actor
// never answers: its mail goes to protoactor's dead letters.
type lifecycle struct {
	down     chan struct{} // closed once the stack is closed or failed
	downOnce sync.Once

	failed   chan struct{} // closed once a layer failed
	failOnce sync.Once
	failure  atomic.Pointer[error]

	closed atomic.Bool

	// sending is read-held by every user goroutine inside the send path
	// (enterSend): a UDP socket's Send, a Ping. Such a goroutine holds
	// buffers of the stack's pool until its device write returns, which
	// may be after the peer has read the frames. Close write-locks it
	// once the stack is down (drainSends), so it waits for those calls to
	// end and lets no later one in.
	sending sync.RWMutex
}

func (l *lifecycle) init() {
	l.down = make(chan struct{})
	l.failed = make(chan struct{})
}

// fail records the stack's failure; only the first one counts.
func (l *lifecycle) fail(err error) {
	l.failOnce.Do(func() {
		err = fmt.Errorf("%w: %w", ErrStackFailed, err)
		l.failure.Store(&err)
		close(l.failed)
	})
	l.downOnce.Do(func() { close(l.down) })
}

// close records that the owner closed the stack.
func (l *lifecycle) close() {
	l.closed.Store(true)
	l.downOnce.Do(func() { close(l.down) })
}

// enterSend admits a user goroutine into the send path while the stack
// runs, or returns why not (err). A nil result must be followed by
// leaveSend once the call has let go of every buffer.
func (l *lifecycle) enterSend() error {
	l.sending.RLock()
	if err := l.err(); err != nil {
		l.sending.RUnlock()
		return err
	}
	return nil
}

func (l *lifecycle) leaveSend() { l.sending.RUnlock() }

// drainSends returns once no user goroutine is in the send path; after
// close, none enters again.
func (l *lifecycle) drainSends() {
	l.sending.Lock()
	defer l.sending.Unlock() // a barrier: nothing to do inside
}

// failErr is the failure, or nil.
func (l *lifecycle) failErr() error {
	if p := l.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// err is nil while the stack runs. Once it was closed, net.ErrClosed, as a
// socket whose file descriptor was closed reports it (closing wins over an
// earlier failure: it is what the owner did last); a failed stack reports
// its failure, which errors.Is ErrStackFailed.
func (l *lifecycle) err() error {
	if l.closed.Load() {
		return net.ErrClosed
	}
	return l.failErr()
}

// await waits for the answer to a request sent to an actor, for the stack
// to go down, or for ctx (nil for none) to end.
func await[T any](l *lifecycle, ctx context.Context, reply <-chan T) (T, error) {
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	var zero T
	select {
	case v := <-reply:
		return v, nil
	case <-l.down:
		// The answer may have come as well; the stack's state wins, so a
		// caller never gets a port of a stack already gone.
		return zero, l.err()
	case <-done:
		return zero, ctx.Err()
	}
}

// Down is closed once the stack is closed or has failed; DownErr then says
// which.
func (r *Running) Down() <-chan struct{} { return r.Env.life.down }

// DownErr is nil while the stack runs, net.ErrClosed once it was closed,
// and the failure (errors.Is ErrStackFailed) once it failed.
func (r *Running) DownErr() error { return r.Env.life.err() }

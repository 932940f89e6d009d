package mailbox

import (
	"errors"
	"net/netip"
	"sync"
)

// The messages below are the actor-native TCP API, in the style of Akka IO
// (DESIGN.md, principle 4). An app actor is spawned for each connection a
// Serve accepts, as a child of that connection's actor. It receives the
// events (past tense) and sends the commands (imperative) to the connection
// actor named in Connected.
//
// The contract, in one place:
//
//   - Events arrive in this order: Connected first; then any number of
//     Received; PeerClosed at most once, after the last Received; Closed
//     exactly once, last. After Closed the app is stopped (a PoisonPill
//     follows it), so an app that does nothing special still ends.
//   - Commands are sent by pointer (&Write{...}). A command the connection
//     does not know, or one sent by value, is answered with CommandFailed
//     (ErrNotACommand) and logged, never ignored.
//   - Commands are carried out in the order they were sent. Write answers
//     with Written once the send buffer has taken all of its data; any
//     number of writes may be outstanding, they queue in the connection and
//     are sent in order. CloseWrite and Close wait for every write queued
//     before them. Abort acts at once and discards queued writes.
//   - Every command gets an answer: Written, WriteClosed, Closed or
//     CommandFailed; SuspendReading and ResumeReading are answered only when
//     they fail. Answers go to the command's sender (ctx.Request) or, when
//     it was sent with ctx.Send, to the app.
//   - Ending: an app that stops itself after Close (or CloseWrite) leaves a
//     graceful close: queued writes are still sent, then the FIN. An app
//     that stops without closing, or panics, resets its connection.

// Connected tells an app actor its connection is established. It is the
// first message the app receives. Conn is the connection actor's PID (an
// *actor.PID; typed any so that this package does not depend on the actor
// runtime), where the app sends its commands.
type Connected struct {
	Conn          any
	Local, Remote netip.AddrPort
}

// Received carries data that arrived in order. The app owns Data and may
// keep it as long as it likes. Sent by the connection while reading is not
// suspended.
//
// An app that is done with Data when it has handled the message (it threw
// it away, or copied what it needs) may call Release: the memory then goes
// to the next Received instead of to the garbage collector, which at
// gigabits a second is a large share of the stack's CPU. Data must not be
// used after Release. An app that never calls it loses nothing.
type Received struct {
	Data  []byte
	chunk *[]byte // from receivePool, or nil
}

// ReceiveChunk is the most a Received carries: a connection with more to
// deliver sends several.
const ReceiveChunk = 64 << 10

// receivePool recycles the memory of released Received messages.
var receivePool = sync.Pool{New: func() any {
	b := make([]byte, ReceiveChunk)
	return &b
}}

// pooledAbove is the size from which a Received takes its memory from the
// pool: a smaller one costs less to allocate than a pool's round trip.
const pooledAbove = 2 << 10

// NewReceived returns a Received whose Data has room for n bytes (at most
// ReceiveChunk) for the connection to fill and trim.
func NewReceived(n int) *Received {
	n = min(n, ReceiveChunk)
	if n <= pooledAbove {
		return &Received{Data: make([]byte, n)}
	}
	chunk := receivePool.Get().(*[]byte)
	// The full slice expression keeps an earlier connection's bytes, past
	// n, out of reach.
	return &Received{Data: (*chunk)[:n:n], chunk: chunk}
}

// Release gives Data's memory back for the next Received; Data is nil
// afterwards. Calling it again does nothing.
func (r *Received) Release() {
	if r.chunk != nil {
		receivePool.Put(r.chunk)
		r.chunk = nil
	}
	r.Data = nil
}

// PeerClosed tells the app that the peer sent FIN: no more data will come.
// The app may go on writing (a half-open connection) and should Close when
// it is done.
type PeerClosed struct{}

// Closed tells the app the connection is over, for the app's part: it is
// the last event, and the app is stopped right after it. Reason says how it
// ended; Err is nil for an orderly close and says why otherwise (compare it
// with errors.Is against actnet.ErrConnectionReset, ErrTimedOut, ...).
//
// After the app's Close, Closed comes once the peer has acknowledged every
// byte and the FIN; the connection may then linger in TIME-WAIT without its
// app.
type Closed struct {
	Reason CloseReason
	Err    error
}

// CloseReason says how a connection ended.
type CloseReason uint8

// How connections end.
const (
	// ClosedOrderly: the app's Close completed (every byte and the FIN
	// acknowledged), or both sides closed.
	ClosedOrderly CloseReason = iota
	// ClosedByReset: the peer reset the connection.
	ClosedByReset
	// ClosedTimedOut: retransmissions, keep-alive or the user timeout
	// gave up on the peer.
	ClosedTimedOut
	// ClosedAborted: the app sent Abort, or its connection was reset on
	// its behalf (the listener stopped, the accept queue overflowed).
	ClosedAborted
	// ClosedFailed: anything else, such as an ICMP hard error or a crash
	// of the connection actor; Err says what.
	ClosedFailed
)

func (r CloseReason) String() string {
	switch r {
	case ClosedOrderly:
		return "closed"
	case ClosedByReset:
		return "reset by peer"
	case ClosedTimedOut:
		return "timed out"
	case ClosedAborted:
		return "aborted"
	}
	return "failed"
}

// Write asks the connection to send Data after everything written before
// it. The connection owns Data until it answers; the app must not modify it
// before then. Answered with Written once all of Data is in the send
// buffer, or CommandFailed if the connection cannot send it (after
// CloseWrite, Close or Abort, or once the connection failed).
//
// Back-pressure: a Written comes only when the send buffer took the data,
// so an app that waits for Written before its next Write (or keeps a few
// outstanding) never holds more than that in memory.
type Write struct {
	Data []byte
}

// Written answers Write: all N bytes are in the send buffer.
type Written struct {
	N int
}

// CloseWrite shuts the sending direction down once every write queued
// before it is in the send buffer: a FIN follows the data. Reading goes on.
// Answered with WriteClosed once the peer has acknowledged the data and the
// FIN, or CommandFailed.
type CloseWrite struct{}

// WriteClosed answers CloseWrite: the peer has acknowledged all the data
// and the FIN.
type WriteClosed struct{}

// Close closes the connection in both directions, gracefully, once every
// write queued before it is in the send buffer. Answered with Closed once
// the peer has acknowledged everything, then the app is stopped. Data that
// arrives after Close resets the connection (RFC 9293 §3.10.4; the peer
// learns it was not read), as it does when Close finds unread data.
type Close struct{}

// Abort resets the connection at once: a RST goes to the peer and queued
// writes are discarded. Answered with Closed (ClosedAborted).
type Abort struct{}

// SuspendReading stops delivering Received; data accumulates in the
// receive buffer and the advertised window shrinks until ResumeReading.
type SuspendReading struct{}

// ResumeReading resumes delivering Received after SuspendReading.
type ResumeReading struct{}

// CommandFailed answers a command that could not be carried out: Cmd is the
// command as received, Err says why.
type CommandFailed struct {
	Cmd any
	Err error
}

// ErrNotACommand answers a message a connection actor does not know, most
// often a command sent by value (Write{} instead of &Write{}).
var ErrNotACommand = errors.New("actnet: not a connection command (commands are sent by pointer, e.g. &actnet.Write{...})")

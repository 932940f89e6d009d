package main

import (
	"math/rand/v2"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
)

// Ending says how a Stream app ends its connection once it has queued
// every byte.
type Ending int

const (
	// EndClose sends Close: the FIN follows the last byte, and the app
	// hears Closed once the peer has acknowledged it all.
	EndClose Ending = iota
	// EndCloseWrite sends CloseWrite: the FIN follows the last byte, the
	// app hears WriteClosed, then Closed once the peer has closed too.
	EndCloseWrite
	// EndCloseThenStop sends Close and stops the app at once: the queued
	// bytes and the FIN still go out.
	EndCloseThenStop
)

const (
	chunkSize      = 64 << 10 // bytes per Write
	maxOutstanding = 4        // Writes not yet answered with Written
)

// Stream is an app actor that sends Size bytes of Payload to each peer
// that connects, then ends the connection as End says. It keeps at most
// maxOutstanding writes unanswered: Written is its back-pressure.
type Stream struct {
	Size int64
	End  Ending
	// OnClosed, if set, is called with the connection's last event.
	OnClosed func(*actnet.Closed)

	conn     *actor.PID
	payload  *rand.ChaCha8
	sent     int64    // bytes handed to Write so far
	inFlight [][]byte // buffers the connection owns until it answers
	spare    [][]byte // buffers ours again, for the next Writes
	closing  bool
}

// Payload is what Stream sends: a pseudo-random byte stream, so that a
// lost, repeated or reordered byte changes the receiver's SHA-256.
func Payload() *rand.ChaCha8 { return rand.NewChaCha8([32]byte{'a', 'c', 't', 'n', 'e', 't'}) }

// Receive handles the connection's events, which come in this order:
// Connected, then any Received, PeerClosed at most once, Closed last.
func (s *Stream) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actnet.Connected:
		// Commands go to the connection actor, always by pointer.
		s.conn = m.Conn.(*actor.PID)
		s.payload = Payload()
		s.writeMore(ctx)
	case *actnet.Written:
		// The send buffer took the oldest write (answers come in order):
		// its buffer is ours again, and there is room for another write.
		s.spare = append(s.spare, s.inFlight[0])
		s.inFlight = s.inFlight[1:]
		s.writeMore(ctx)
	case *actnet.Received, *actnet.PeerClosed, *actnet.WriteClosed:
		// This app reads nothing; a peer that closes early gets the rest
		// anyway (its half of the connection is closed, not ours).
	case *actnet.CommandFailed:
		// A write after the connection failed; Closed follows.
	case *actnet.Closed:
		// The last event; the app is stopped right after it.
		if s.OnClosed != nil {
			s.OnClosed(m)
		}
	}
}

// writeMore queues writes until maxOutstanding are unanswered or every byte
// is queued, then ends the connection. Close and CloseWrite wait for the
// writes queued before them: nothing needs to wait for the last Written.
func (s *Stream) writeMore(ctx actor.Context) {
	for len(s.inFlight) < maxOutstanding && s.sent < s.Size {
		var buf []byte
		if n := len(s.spare); n > 0 {
			buf, s.spare = s.spare[n-1], s.spare[:n-1]
		} else {
			buf = make([]byte, chunkSize)
		}
		buf = buf[:min(chunkSize, s.Size-s.sent)]
		s.payload.Read(buf)
		ctx.Send(s.conn, &actnet.Write{Data: buf})
		s.inFlight = append(s.inFlight, buf)
		s.sent += int64(len(buf))
	}
	if s.sent < s.Size || s.closing {
		return
	}
	s.closing = true
	switch s.End {
	case EndClose:
		ctx.Send(s.conn, &actnet.Close{})
	case EndCloseWrite:
		ctx.Send(s.conn, &actnet.CloseWrite{})
	case EndCloseThenStop:
		ctx.Send(s.conn, &actnet.Close{})
		ctx.Stop(ctx.Self()) // a stop after Close is graceful
	}
}

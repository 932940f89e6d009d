package apps

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
)

// maxQueued is how much an app holds waiting to be written before it asks
// its connection to stop delivering data: back-pressure from a slow peer
// reaches the fast one as a closing window instead of growing memory.
const maxQueued = 256 << 10

// writer queues data for one connection and keeps exactly one Write in
// flight, so data goes out in order and the connection's answer (Written)
// paces the app.
type writer struct {
	conn      *actor.PID
	queue     [][]byte
	queued    int
	inFlight  bool
	suspended bool
	// closeWhenDrained sends Close once everything queued is taken.
	closeWhenDrained bool
	closed           bool
}

func (w *writer) attach(m *actnet.Connected) { w.conn = m.Conn.(*actor.PID) }

// write queues data (which the writer then owns) and sends what it can.
func (w *writer) write(ctx actor.Context, data []byte) {
	if len(data) > 0 {
		w.queue = append(w.queue, data)
		w.queued += len(data)
	}
	w.flush(ctx)
}

// written handles the answer to the Write in flight.
func (w *writer) written(ctx actor.Context) {
	w.inFlight = false
	w.flush(ctx)
}

func (w *writer) flush(ctx actor.Context) {
	if w.conn == nil || w.closed {
		return
	}
	if !w.inFlight && len(w.queue) > 0 {
		data := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.queued -= len(data)
		w.inFlight = true
		ctx.Request(w.conn, &actnet.Write{Data: data})
	}
	switch {
	case w.queued >= maxQueued && !w.suspended:
		w.suspended = true
		ctx.Send(w.conn, &actnet.SuspendReading{})
	case w.queued < maxQueued/2 && w.suspended:
		w.suspended = false
		ctx.Send(w.conn, &actnet.ResumeReading{})
	}
	if w.closeWhenDrained && !w.inFlight && len(w.queue) == 0 {
		w.closed = true
		// Close, not CloseWrite: the app is done with the connection, so
		// it must not linger half-open on a peer that never closes. The
		// connection sends the FIN after the last byte, and answers
		// Closed once the peer has acknowledged it all.
		ctx.Send(w.conn, &actnet.Close{})
	}
}

// closeAfterQueued closes the connection once the queue is written.
func (w *writer) closeAfterQueued(ctx actor.Context) {
	w.closeWhenDrained = true
	w.flush(ctx)
}

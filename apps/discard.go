package apps

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
)

// Discard returns the props of an RFC 863 discard app: everything received
// is thrown away; when the peer closes, so does the app.
func Discard() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &discard{} })
}

type discard struct{ conn *actor.PID }

func (d *discard) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actnet.Connected:
		d.conn = m.Conn.(*actor.PID)
	case *actnet.Received:
		m.Release() // thrown away: its memory serves the next one
	case *actnet.PeerClosed:
		ctx.Send(d.conn, &actnet.Close{})
	case *actnet.Closed, *actnet.CommandFailed:
		ctx.Stop(ctx.Self())
	}
}

package apps

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
)

// Echo returns the props of an RFC 862 echo app: every byte received is
// sent back; when the peer closes, the app closes after the last byte.
func Echo() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &echo{} })
}

type echo struct{ w writer }

func (e *echo) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actnet.Connected:
		e.w.attach(m)
	case *actnet.Received:
		e.w.write(ctx, m.Data)
	case *actnet.Written:
		e.w.written(ctx)
	case *actnet.PeerClosed:
		e.w.closeAfterQueued(ctx)
	case *actnet.Closed, *actnet.CommandFailed:
		ctx.Stop(ctx.Self())
	}
}

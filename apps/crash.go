package apps

import (
	"bytes"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
)

// Crash returns the props of an echo app that panics when it receives a
// line that is exactly "panic". It shows supervision: the panicking app's
// connection is reset, every other connection and the listener go on.
func Crash() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &crash{} })
}

type crash struct {
	echo
	line []byte
}

func (c *crash) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*actnet.Received); ok {
		c.line = append(c.line, m.Data...)
		for {
			line, rest, found := bytes.Cut(c.line, []byte("\n"))
			if !found {
				break
			}
			if string(bytes.TrimSuffix(line, []byte("\r"))) == "panic" {
				panic("crash app: received the line \"panic\"")
			}
			c.line = append(c.line[:0], rest...)
		}
		if len(c.line) > 4096 {
			c.line = c.line[len(c.line)-16:] // only the line's tail can still say "panic"
		}
	}
	c.echo.Receive(ctx)
}

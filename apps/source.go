package apps

import (
	"bytes"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
)

// Source returns the props of a source app: the peer sends a byte count in
// ASCII decimal ended by a newline; the app sends exactly that many bytes
// (the repeating pattern SourcePattern) and closes. A request that is not
// a number, or longer than 20 digits, resets the connection.
func Source() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &source{} })
}

// SourcePattern is what Source sends, repeated and cut to the count asked.
var SourcePattern = []byte("abcdefghijklmnopqrstuvwxyz0123456789\n")

// sourceChunk is how much the source hands its connection per Write.
const sourceChunk = 64 << 10

// patternRun is SourcePattern repeated to cover any chunk at any phase. A
// Write only reads its data, so every connection's chunks are slices of
// this one read-only buffer: nothing is generated or allocated per chunk.
var patternRun = func() []byte {
	n := sourceChunk + len(SourcePattern)
	b := make([]byte, 0, n+len(SourcePattern))
	for len(b) < n {
		b = append(b, SourcePattern...)
	}
	return b
}()

type source struct {
	w         writer
	request   []byte
	remaining int64
	offset    int64
	started   bool
}

func (s *source) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actnet.Connected:
		s.w.attach(m)
	case *actnet.Received:
		if s.started {
			return // anything after the request is ignored
		}
		s.request = append(s.request, m.Data...)
		line, _, found := bytes.Cut(s.request, []byte("\n"))
		if !found {
			if len(s.request) > 21 {
				ctx.Send(s.w.conn, &actnet.Abort{})
			}
			return
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 10, 64)
		if err != nil || n < 0 {
			ctx.Send(s.w.conn, &actnet.Abort{})
			return
		}
		s.started, s.remaining = true, n
		s.produce(ctx)
	case *actnet.Written:
		s.w.written(ctx)
		s.produce(ctx)
	case *actnet.Closed, *actnet.CommandFailed:
		ctx.Stop(ctx.Self())
	}
}

// produce keeps one chunk queued behind the one in flight until the count
// is reached, then closes.
func (s *source) produce(ctx actor.Context) {
	for s.remaining > 0 && len(s.w.queue) == 0 {
		n := min(s.remaining, sourceChunk)
		phase := s.offset % int64(len(SourcePattern))
		s.offset += n
		s.remaining -= n
		s.w.write(ctx, patternRun[phase:phase+n])
	}
	if s.remaining == 0 && !s.w.closeWhenDrained {
		s.w.closeAfterQueued(ctx)
	}
}

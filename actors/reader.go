package actors

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/mailbox"
)

// readBatchSize is how many frames one device read may return; it is also
// the largest batch the ethernet actor handles at once.
const readBatchSize = 64

// maxBatchesInFlight bounds device ingress like a NIC's receive ring: when
// the ethernet actor falls this many batches behind, new frames are dropped
// and counted instead of queueing without bound (DESIGN.md, principle 5).
const maxBatchesInFlight = 256

// startReading is sent to the reader actor once every layer is wired.
type startReading struct{}

// readerActor owns the device's blocking read loop. The loop runs in a
// goroutine of its own (the only one in the stack that blocks), reads
// straight into pooled buffers, and delivers whatever frames were ready
// together as one batch to the ethernet actor.
type readerActor struct {
	env      *Env
	inFlight *atomic.Int64
	done     chan struct{}
}

func (r *readerActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *startReading:
		if r.done == nil {
			r.done = make(chan struct{})
			go r.loop()
		}
	case *actor.Stopping:
		// The stack closes the device first, which ends the loop; wait for
		// it so no goroutine outlives the stack.
		if r.done != nil {
			<-r.done
		}
	}
}

func (r *readerActor) loop() {
	defer close(r.done)
	link := r.env.Counters.Layer("link")
	ringFull := link.Drop("ingress ring full")
	readErrors := link.Drop("read error")
	bufs := make([][]byte, readBatchSize)
	sizes := make([]int, readBatchSize)
	held := make([]*mailbox.Buffer, readBatchSize)
	defer func() {
		for _, b := range held {
			b.Release()
		}
	}()
	for {
		for i := range held {
			if held[i] == nil {
				held[i] = r.env.Pool.Get()
				bufs[i] = held[i].B
			}
		}
		n, err := r.env.Device.ReadBatch(bufs, sizes)
		if err != nil {
			if errors.Is(err, device.ErrClosed) {
				return
			}
			readErrors.Inc()
			r.env.Log.Warn().Err(err).Msg("device read failed")
			time.Sleep(10 * time.Millisecond) // a failing device must not spin a core
			continue
		}
		link.Received.Add(uint64(n))
		if r.inFlight.Load() >= maxBatchesInFlight {
			ringFull.Add(uint64(n))
			continue // the buffers stay held and are read into again
		}
		batch := mailbox.NewBatch()
		for i := 0; i < n; i++ {
			batch.Add(mailbox.Packet{Buf: held[i], Frame: held[i].B[:sizes[i]]})
			held[i] = nil
		}
		r.inFlight.Add(1)
		r.env.send(r.env.PIDs.Ethernet, batch)
	}
}

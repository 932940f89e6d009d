package actors

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/mailbox"
)

// readBatchSize is how many frames one device read may return; it is also
// the largest batch a layer handles at once.
const readBatchSize = 64

// maxBatchesInFlight bounds device ingress like a NIC's receive ring: when
// the layers above fall this many batches behind, new frames are dropped
// and counted instead of queueing without bound (DESIGN.md, principle 5).
const maxBatchesInFlight = 256

// startReading is sent to the reader actor once every layer is wired.
type startReading struct{}

// readerActor is the Ethernet reader actor: it owns the device's blocking
// read loop. The loop runs in a goroutine of its own (the only one in the
// stack that blocks), reads straight into pooled buffers, checks and sorts
// the frames (ethernetLayer), and hands whatever was ready to the layer of
// each EtherType (ARP, IPv4, ...: the families' upper layers) as one batch
// each.
type readerActor struct {
	env      *Env
	eth      *ethernetLayer
	upper    []upperLayer
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
	link := &r.env.Counters.Link
	bufs := make([][]byte, readBatchSize)
	sizes := make([]int, readBatchSize)
	held := make([]*mailbox.Buffer, readBatchSize)
	defer func() {
		for _, b := range held {
			b.Release()
		}
	}()
	// With offloads on, the device hands over super-frames of up to 64
	// KiB with their metadata: read into large buffers (see offloadRx).
	var rx *offloadRx
	if od, ok := r.env.Device.(device.OffloadDevice); ok && od.Offloads().Any() {
		rx = newOffloadRx(od, r.env.Pool)
	}
	pool := r.env.Pool
	if rx != nil {
		pool = rx.large
	}
	for {
		for i := range held {
			if held[i] == nil {
				held[i] = pool.Get()
				bufs[i] = held[i].B
			}
		}
		var n int
		var err error
		if rx != nil {
			n, err = rx.dev.ReadBatchOffload(bufs, sizes, rx.meta)
		} else {
			n, err = r.env.Device.ReadBatch(bufs, sizes)
		}
		if err != nil {
			if errors.Is(err, device.ErrClosed) {
				return
			}
			link.ReadErrors.Inc()
			r.env.Log.Warn().Err(err).Msg("device read failed")
			time.Sleep(10 * time.Millisecond) // a failing device must not spin a core
			continue
		}
		link.FramesReceived.Add(uint64(n))
		if r.inFlight.Load() >= maxBatchesInFlight {
			link.RingFull.Add(uint64(n))
			continue // the buffers stay held and are read into again
		}
		if r.env.Pool.Outstanding()*int64(r.env.Pool.Size())+rx.outstanding() > r.env.Limits.BufferMemory {
			// The stack holds as much packet memory as it may: new
			// frames wait for none of it (Limits.BufferMemory).
			link.BufferMemoryFull.Add(uint64(n))
			continue
		}
		if !r.deliver(held[:n], sizes[:n], rx) {
			return
		}
	}
}

// deliver sorts n frames into per-layer batches and sends them; it reports
// false when the ethernet layer failed beyond its crash budget, which ends
// the stack (the loop is a plain goroutine: no supervisor would catch the
// escalation).
func (r *readerActor) deliver(held []*mailbox.Buffer, sizes []int, rx *offloadRx) (ok bool) {
	var batches [maxUpperLayers]*mailbox.PacketsArrived
	defer func() {
		if e := recover(); e != nil {
			r.env.Fatal(fmt.Errorf("actnet: ethernet layer failed: %v", e))
			ok = false
		}
		for i, u := range r.upper {
			r.send(batches[i], u.pid)
		}
	}()
	for i := range held {
		var p mailbox.Packet
		if rx != nil {
			p = rx.packet(held, i, sizes[i])
		} else {
			p = mailbox.Packet{Buf: held[i], Frame: held[i].B[:sizes[i]]}
			held[i] = nil
		}
		if k := r.eth.sort(&p); k >= 0 {
			batches[k] = addTo(batches[k], &p)
		} else {
			p.Release()
		}
	}
	return true
}

// maxUpperLayers bounds the EtherTypes the families may take (ARP, IPv4,
// IPv6 today), so a delivery's batches live on the stack.
const maxUpperLayers = 4

// send hands a batch to a layer, counting it against the ingress bound.
func (r *readerActor) send(batch *mailbox.PacketsArrived, to *actor.PID) {
	if batch == nil {
		return
	}
	batch.Ingress = r.inFlight
	r.inFlight.Add(1)
	r.env.send(to, batch)
}

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
// read. The read is not a goroutine of its own: the actor gives the stack's
// dispatcher a poll step (poll), which a worker that finds nothing to do
// runs, so that the worker that read a frame goes on to run the mailboxes
// the frame reached (the ip layer, its connection, the app) without waking
// another goroutine (DESIGN.md, "What the code taught us"). The step reads
// straight into pooled buffers, checks and sorts the frames
// (ethernetLayer), and hands whatever was ready to the layer of each
// EtherType (ARP, IPv4, ...: the families' upper layers) as one batch each.
type readerActor struct {
	env      *Env
	eth      *ethernetLayer
	upper    []upperLayer
	inFlight *atomic.Int64
	done     chan struct{}

	// The read state, used by one worker at a time (the dispatcher hands
	// the poll step to one worker at a time).
	bufs  [][]byte
	sizes []int
	held  []*mailbox.Buffer
	rx    *offloadRx
	pool  *mailbox.Pool
}

func (r *readerActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *startReading:
		if r.done == nil {
			r.done = make(chan struct{})
			r.bufs = make([][]byte, readBatchSize)
			r.sizes = make([]int, readBatchSize)
			r.held = make([]*mailbox.Buffer, readBatchSize)
			// With offloads on, the device hands over super-frames of up
			// to 64 KiB with their metadata: read into large buffers (see
			// offloadRx).
			if od, ok := r.env.Device.(device.OffloadDevice); ok && od.Offloads().Any() {
				r.rx = newOffloadRx(od, r.env.Pool)
			}
			r.pool = r.env.Pool
			if r.rx != nil {
				r.pool = r.rx.large
			}
			r.env.Dispatcher.setPoller(r.poll)
		}
	case *actor.Stopping:
		// The stack closes the device first, which ends the reading; wait
		// for the poll step to see it so nothing reads after the stack.
		if r.done != nil {
			<-r.done
		}
	}
}

// poll reads one batch from the device and delivers it. It blocks until
// frames come; awake marks the worker running it busy again before the
// batch is delivered, so the runs the batch schedules wait for this worker
// instead of waking another. It reports false once reading has ended (the
// device closed, or the ethernet layer failed beyond its crash budget).
func (r *readerActor) poll(awake func()) bool {
	link := &r.env.Counters.Link
	for i := range r.held {
		if r.held[i] == nil {
			r.held[i] = r.pool.Get()
			r.bufs[i] = r.held[i].B
		}
	}
	var n int
	var err error
	if r.rx != nil {
		n, err = r.rx.dev.ReadBatchOffload(r.bufs, r.sizes, r.rx.meta)
	} else {
		n, err = r.env.Device.ReadBatch(r.bufs, r.sizes)
	}
	awake()
	if err != nil {
		if errors.Is(err, device.ErrClosed) {
			r.stop()
			return false
		}
		link.ReadErrors.Inc()
		r.env.Log.Warn().Err(err).Msg("device read failed")
		time.Sleep(10 * time.Millisecond) // a failing device must not spin a core
		return true
	}
	link.FramesReceived.Add(uint64(n))
	if r.inFlight.Load() >= maxBatchesInFlight {
		link.RingFull.Add(uint64(n))
		return true // the buffers stay held and are read into again
	}
	if r.env.Pool.Outstanding()*int64(r.env.Pool.Size())+r.rx.outstanding() > r.env.Limits.BufferMemory {
		// The stack holds as much packet memory as it may: new frames
		// wait for none of it (Limits.BufferMemory).
		link.BufferMemoryFull.Add(uint64(n))
		return true
	}
	if !r.deliver(r.held[:n], r.sizes[:n], r.rx) {
		r.stop()
		return false
	}
	return true
}

// stop gives back the buffers the reading held and tells the actor that
// reading has ended.
func (r *readerActor) stop() {
	for i, b := range r.held {
		b.Release()
		r.held[i] = nil
	}
	close(r.done)
}

// deliver sorts n frames into per-layer batches and sends them; it reports
// false when the ethernet layer failed beyond its crash budget, which ends
// the stack (the poll step runs outside any actor: no supervisor would
// catch the escalation).
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

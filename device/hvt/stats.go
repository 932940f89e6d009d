package hvt

import (
	"sync/atomic"

	"github.com/actnet/actnet/device"
)

// counters is the lock-free form of device.Stats for Net.
type counters struct {
	framesIn, bytesIn, framesOut, bytesOut atomic.Uint64
	tooLong, invalid                       atomic.Uint64
	readErrors, writeErrors                atomic.Uint64
}

func (c *counters) in(n int) {
	c.framesIn.Add(1)
	c.bytesIn.Add(uint64(n))
}

func (c *counters) out(n int) {
	c.framesOut.Add(1)
	c.bytesOut.Add(uint64(n))
}

func (c *counters) snapshot() device.Stats {
	return device.Stats{
		FramesIn:     c.framesIn.Load(),
		BytesIn:      c.bytesIn.Load(),
		FramesOut:    c.framesOut.Load(),
		BytesOut:     c.bytesOut.Load(),
		DropsTooLong: c.tooLong.Load(),
		DropsInvalid: c.invalid.Load(),
		ReadErrors:   c.readErrors.Load(),
		WriteErrors:  c.writeErrors.Load(),
	}
}

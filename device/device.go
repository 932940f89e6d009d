// Package device moves Ethernet frames between the stack and a link.
//
// It defines the Device interface the rest of actnet reads and writes frames
// through, and its backends: a Linux tap device (Tap, Linux only), an
// in-memory link pair with seeded fault injection (Memory) and a wrapper that
// records every frame to a pcap file (Pcap). It knows nothing about the
// protocols inside the frames beyond the Ethernet header length, and nothing
// about actors: it is plain blocking I/O that a reader loop drives, so it can
// be tested, benchmarked and reused without an actor system.
package device

import (
	"crypto/rand"
	"errors"
	"net"
	"sync/atomic"
)

// Device moves Ethernet frames (no FCS) to and from a link.
type Device interface {
	// ReadBatch blocks until at least one frame is ready, then copies up to
	// len(bufs) ready frames into bufs without blocking again, storing each
	// frame's length in sizes[i]. It returns how many frames it stored.
	// A frame longer than its buffer is dropped and counted, not truncated.
	// After Close it returns ErrClosed.
	ReadBatch(bufs [][]byte, sizes []int) (int, error)
	// Write sends one frame. Safe for concurrent use.
	Write(frame []byte) error
	// MTU is the largest IP packet the link carries (Ethernet payload).
	MTU() int
	// HardwareAddr is the stack's own MAC on this link.
	HardwareAddr() net.HardwareAddr
	// Close releases the device and unblocks ReadBatch.
	Close() error
}

// BatchWriter is implemented by devices that can send several frames for
// less than the cost of as many Write calls. Callers holding a batch should
// check for it and fall back to Write.
type BatchWriter interface {
	// WriteBatch sends the frames in order. It stops at the first frame that
	// fails and returns that error; the frames before it were sent.
	WriteBatch(frames [][]byte) error
}

// StatsReporter is implemented by every backend in this package.
type StatsReporter interface {
	Stats() Stats
}

// Stats counts a device's traffic and its drops by reason. The counters only
// grow; take two snapshots and subtract to measure an interval.
type Stats struct {
	FramesIn  uint64 // frames handed to ReadBatch callers
	BytesIn   uint64
	FramesOut uint64 // frames accepted by Write
	BytesOut  uint64

	// DropsTooLong counts received frames longer than the caller's buffer.
	DropsTooLong uint64
	// DropsRingFull counts received frames discarded because the receive
	// ring was full, as a NIC does when the host does not keep up.
	DropsRingFull uint64
	// DropsInvalid counts frames refused by Write: shorter than an Ethernet
	// header or longer than the MTU allows.
	DropsInvalid uint64
	// DropsNoCarrier counts frames written while the other end of the link
	// was closed (memory link only).
	DropsNoCarrier uint64
	// DropsBadOffload counts frames whose offload metadata was bogus: a
	// received virtio-net header naming an unknown type or a checksum
	// outside its frame, or a write asking for an offload the device does
	// not offer.
	DropsBadOffload uint64
	// ReadErrors and WriteErrors count failed system calls (tap only).
	ReadErrors  uint64
	WriteErrors uint64
}

// HeaderLen is the length of an Ethernet header without VLAN tag: two MACs
// and the EtherType. Frames shorter than this are refused by Write.
const HeaderLen = 14

// DefaultMTU is the MTU used when a configuration leaves it zero.
const DefaultMTU = 1500

var (
	// ErrClosed is returned by every method of a closed device.
	ErrClosed = errors.New("device: closed")
	// ErrFrameTooShort is returned by Write for a frame without a full
	// Ethernet header.
	ErrFrameTooShort = errors.New("device: frame shorter than an Ethernet header")
	// ErrFrameTooLong is returned by Write for a frame whose payload exceeds
	// the MTU.
	ErrFrameTooLong = errors.New("device: frame longer than MTU plus Ethernet header")
)

// RandomMAC returns a random unicast, locally administered MAC address, the
// kind a host may assign itself without clashing with vendor addresses.
func RandomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(mac)
	mac[0] = mac[0]&^0x01 | 0x02 // clear multicast bit, set local bit
	return mac
}

// checkFrame validates an outgoing frame against the link's MTU.
func checkFrame(frame []byte, mtu int) error {
	if len(frame) < HeaderLen {
		return ErrFrameTooShort
	}
	if len(frame) > mtu+HeaderLen {
		return ErrFrameTooLong
	}
	return nil
}

// counters is the lock-free form of Stats shared by the backends, so that
// readers, writers and Stats callers never contend on a lock for accounting.
type counters struct {
	framesIn, bytesIn, framesOut, bytesOut atomic.Uint64
	tooLong, ringFull, invalid, noCarrier  atomic.Uint64
	readErrors, writeErrors                atomic.Uint64
	badOffload                             atomic.Uint64
}

func (c *counters) in(n int) {
	c.framesIn.Add(1)
	c.bytesIn.Add(uint64(n))
}

func (c *counters) out(n int) {
	c.framesOut.Add(1)
	c.bytesOut.Add(uint64(n))
}

func (c *counters) snapshot() Stats {
	return Stats{
		FramesIn:        c.framesIn.Load(),
		BytesIn:         c.bytesIn.Load(),
		FramesOut:       c.framesOut.Load(),
		BytesOut:        c.bytesOut.Load(),
		DropsTooLong:    c.tooLong.Load(),
		DropsRingFull:   c.ringFull.Load(),
		DropsInvalid:    c.invalid.Load(),
		DropsNoCarrier:  c.noCarrier.Load(),
		ReadErrors:      c.readErrors.Load(),
		WriteErrors:     c.writeErrors.Load(),
		DropsBadOffload: c.badOffload.Load(),
	}
}

package device

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Classic pcap format constants (https://www.tcpdump.org/manpages/pcap-savefile.5.html).
const (
	pcapMagic        = 0xa1b2c3d4 // microsecond timestamps
	pcapVersionMajor = 2
	pcapVersionMinor = 4
	// PcapSnapLen is the longest part of a frame the capture keeps.
	PcapSnapLen         = 65535
	pcapLinkTypeEther   = 1
	pcapFileHeaderLen   = 24
	pcapRecordHeaderLen = 16
)

// Pcap wraps a Device and records every frame read from it and every frame
// successfully written to it in a classic pcap capture, which tcpdump -r and
// Wireshark open. Each batch of records reaches the writer in one Write call,
// so a capture cut short by a crash ends on a whole record.
type Pcap struct {
	dev Device

	mu     sync.Mutex
	w      io.Writer
	file   *os.File // set when OpenPcapFile opened it, closed by Close
	buf    []byte   // records being assembled, reused across calls
	err    error    // first capture write error; capture stops there
	closed bool
	once   sync.Once
}

var (
	_ Device        = (*Pcap)(nil)
	_ BatchWriter   = (*Pcap)(nil)
	_ StatsReporter = (*Pcap)(nil)
	_ OffloadDevice = (*Pcap)(nil)
)

// NewPcap writes a pcap file header to w and returns dev wrapped so that its
// traffic is recorded to w. Close closes dev and flushes w if it has a
// Flush() error method, but does not close w: the caller owns it.
func NewPcap(dev Device, w io.Writer) (*Pcap, error) {
	var h [pcapFileHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], pcapMagic)
	le.PutUint16(h[4:], pcapVersionMajor)
	le.PutUint16(h[6:], pcapVersionMinor)
	// thiszone and sigfigs stay zero: timestamps are UTC.
	le.PutUint32(h[16:], PcapSnapLen)
	le.PutUint32(h[20:], pcapLinkTypeEther)
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &Pcap{dev: dev, w: w}, nil
}

// OpenPcapFile creates (or truncates) the file at path and records dev's
// traffic to it. Close closes dev and the file.
func OpenPcapFile(dev Device, path string) (*Pcap, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	p, err := NewPcap(dev, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	p.file = f
	return p, nil
}

// Unwrap returns the wrapped device.
func (p *Pcap) Unwrap() Device { return p.dev }

// Err returns the first error writing the capture, after which nothing more
// is recorded. Traffic through the device is never affected by it.
func (p *Pcap) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// ReadBatch implements Device, recording the frames read.
func (p *Pcap) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	n, err := p.dev.ReadBatch(bufs, sizes)
	p.read(bufs, sizes[:n])
	return n, err
}

// Offloads implements OffloadDevice: what the wrapped device offers, none
// if it is not an OffloadDevice. Super-frames are recorded as they cross
// the device, and partial checksums as they are (tcpdump shows them as
// incorrect), as a capture on a Linux host with GRO and TSO shows them.
func (p *Pcap) Offloads() Features {
	if od, ok := p.dev.(OffloadDevice); ok {
		return od.Offloads()
	}
	return Features{}
}

// ReadBatchOffload implements OffloadDevice, recording the frames read.
func (p *Pcap) ReadBatchOffload(bufs [][]byte, sizes []int, meta []Offload) (int, error) {
	od, ok := p.dev.(OffloadDevice)
	if !ok {
		n, err := p.ReadBatch(bufs[:min(len(bufs), len(meta))], sizes)
		clear(meta[:n])
		return n, err
	}
	n, err := od.ReadBatchOffload(bufs, sizes, meta)
	p.read(bufs, sizes[:n])
	return n, err
}

// WriteOffload implements OffloadDevice, recording the frame if the device
// took it.
func (p *Pcap) WriteOffload(frame []byte, meta Offload) error {
	od, ok := p.dev.(OffloadDevice)
	if !ok {
		if !meta.IsZero() {
			return ErrBadOffload
		}
		return p.Write(frame)
	}
	now := time.Now()
	return p.written(now, od.WriteOffload(frame, meta), frame)
}

// Write implements Device, recording the frame if the device took it.
func (p *Pcap) Write(frame []byte) error {
	now := time.Now()
	return p.written(now, p.dev.Write(frame), frame)
}

// WriteBatch implements BatchWriter, passing the batch on whole if the
// wrapped device is a BatchWriter. A batch that fails is not recorded, as
// which of its frames went out is unknown.
func (p *Pcap) WriteBatch(frames [][]byte) error {
	now := time.Now()
	if bw, ok := p.dev.(BatchWriter); ok {
		return p.written(now, bw.WriteBatch(frames), frames...)
	}
	for _, f := range frames {
		if err := p.Write(f); err != nil {
			return err
		}
	}
	return nil
}

// read records the frames a read returned, bufs[i][:sizes[i]], as one
// batch.
func (p *Pcap) read(bufs [][]byte, sizes []int) {
	if len(sizes) == 0 {
		return
	}
	now := time.Now()
	p.mu.Lock()
	for i, n := range sizes {
		p.add(now, bufs[i][:n])
	}
	p.flush()
	p.mu.Unlock()
}

// written records frames, handed to the device at ts, as one batch unless
// the device failed them (err), and returns err: every write path records
// this way.
func (p *Pcap) written(ts time.Time, err error, frames ...[]byte) error {
	if err != nil {
		return err
	}
	p.mu.Lock()
	for _, f := range frames {
		p.add(ts, f)
	}
	p.flush()
	p.mu.Unlock()
	return nil
}

// add appends one record to p.buf. Called with p.mu held.
func (p *Pcap) add(ts time.Time, frame []byte) {
	if p.err != nil || p.closed {
		return
	}
	incl := min(len(frame), PcapSnapLen)
	var h [pcapRecordHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], uint32(ts.Unix()))
	le.PutUint32(h[4:], uint32(ts.Nanosecond()/1000))
	le.PutUint32(h[8:], uint32(incl))
	le.PutUint32(h[12:], uint32(len(frame)))
	p.buf = append(p.buf, h[:]...)
	p.buf = append(p.buf, frame[:incl]...)
}

// flush hands the assembled records to the writer. Called with p.mu held.
func (p *Pcap) flush() {
	if len(p.buf) == 0 {
		return
	}
	if _, err := p.w.Write(p.buf); err != nil && p.err == nil {
		p.err = err
	}
	p.buf = p.buf[:0]
}

// MTU implements Device.
func (p *Pcap) MTU() int { return p.dev.MTU() }

// HardwareAddr implements Device.
func (p *Pcap) HardwareAddr() net.HardwareAddr { return p.dev.HardwareAddr() }

// Stats returns the wrapped device's counters, or zeros if it keeps none.
func (p *Pcap) Stats() Stats {
	if s, ok := p.dev.(StatsReporter); ok {
		return s.Stats()
	}
	return Stats{}
}

// Close closes the wrapped device, then stops recording and flushes and
// closes the capture. Closing twice is harmless.
func (p *Pcap) Close() error {
	var err error
	p.once.Do(func() {
		err = p.dev.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.closed = true
		if f, ok := p.w.(interface{ Flush() error }); ok {
			err = errors.Join(err, f.Flush())
		}
		if p.file != nil {
			err = errors.Join(err, p.file.Close())
		}
	})
	return err
}

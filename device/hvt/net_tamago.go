//go:build tamago && amd64

package hvt

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/actnet/actnet/device"
)

// Net is a device.Device on a Solo5 network device: frames go out with
// NET_WRITE and come in with NET_READ. Solo5 has no interrupts: a reader
// with nothing to read sleeps, and the board's idle hook, which blocks in
// POLL whenever no goroutine can run, wakes it as soon as POLL reports
// input on the device. The sleep is also bounded (readerNap), so a guest
// too busy to idle still reads its frames.
type Net struct {
	handle uint64
	name   string
	mac    net.HardwareAddr
	mtu    int

	closed  atomic.Bool
	sleeper atomic.Uint64 // the reader's goroutine while it sleeps, else 0

	readMu sync.Mutex
	stats  counters
}

var (
	_ device.Device        = (*Net)(nil)
	_ device.BatchWriter   = (*Net)(nil)
	_ device.StatsReporter = (*Net)(nil)
)

// readerNap bounds how long a reader sleeps without being woken: the
// latency of a frame that arrives while other goroutines keep the guest
// from idling.
const readerNap = 5 * time.Millisecond

// opened maps a handle to its open device, for the idle hook. It is read
// with atomics only: the hook runs inside the scheduler and must not wait on
// a lock a parked goroutine holds.
var opened [ManifestMaxDevs]atomic.Pointer[Net]

// OpenNet opens the network device the manifest calls name, with the MAC
// and MTU the tender gave it (solo5-hvt --net:NAME=TAP, --net-mac:NAME=MAC).
func OpenNet(name string) (*Net, error) {
	devs, err := Manifest()
	if err != nil {
		return nil, err
	}
	h, d, err := FindNet(devs, name)
	if err != nil {
		return nil, err
	}
	mtu := int(d.MTU)
	if mtu == 0 {
		mtu = device.DefaultMTU
	}
	n := &Net{handle: h, name: name, mac: d.MAC, mtu: mtu}
	if !opened[h].CompareAndSwap(nil, n) {
		return nil, &net.OpError{Op: "open", Net: "hvt", Err: errBusy}
	}
	return n, nil
}

var (
	errBusy  = errors.New("hvt: network device already open")
	errWrite = errors.New("hvt: NET_WRITE failed")
)

// wakeReaders wakes the sleeping reader of each device in set (bit h for
// handle h). It runs from the idle hook.
func wakeReaders(set uint64) {
	for h := range opened {
		if set&(1<<h) == 0 {
			continue
		}
		if n := opened[h].Load(); n != nil {
			if gp := n.sleeper.Load(); gp != 0 {
				runtime.Wake(uint(gp))
			}
		}
	}
}

// ReadBatch implements device.Device.
func (n *Net) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	n.readMu.Lock()
	defer n.readMu.Unlock()
	for {
		if n.closed.Load() {
			return 0, device.ErrClosed
		}
		if k := n.drain(bufs, sizes); k > 0 {
			return k, nil
		}
		// No scheduling point lies between publishing the sleeper and
		// parking in Sleep (one CPU, no preemption), so the idle hook
		// sees it only once it can be woken.
		gp, _ := runtime.GetG()
		n.sleeper.Store(uint64(gp))
		time.Sleep(readerNap)
		n.sleeper.Store(0)
	}
}

// drain reads waiting frames into bufs until none is left or bufs are full.
func (n *Net) drain(bufs [][]byte, sizes []int) int {
	k := 0
	for k < len(bufs) && k < len(sizes) {
		buf := bufs[k]
		if len(buf) == 0 {
			break
		}
		args := NetArgs{Handle: n.handle, Data: addrOf(buf), Len: uint64(len(buf))}
		call(HypercallNetRead, unsafe.Pointer(&args))
		runtime.KeepAlive(buf)
		switch {
		case args.Ret == NetReadAgain:
			return k
		case args.Ret != 0:
			n.stats.readErrors.Add(1)
			return k
		case int(args.Len) >= len(buf) && int(args.Len) > n.mtu+device.HeaderLen+4:
			// The tap hands a frame as long as the buffer only when
			// it cut it short: longer than any MTU-sized frame, so
			// dropped as too long, not passed on truncated.
			n.stats.tooLong.Add(1)
			continue
		}
		sizes[k] = int(args.Len)
		n.stats.in(int(args.Len))
		k++
	}
	return k
}

// Write implements device.Device.
func (n *Net) Write(frame []byte) error {
	if n.closed.Load() {
		return device.ErrClosed
	}
	switch {
	case len(frame) < device.HeaderLen:
		n.stats.invalid.Add(1)
		return device.ErrFrameTooShort
	case len(frame) > n.mtu+device.HeaderLen:
		n.stats.invalid.Add(1)
		return device.ErrFrameTooLong
	}
	args := NetArgs{Handle: n.handle, Data: addrOf(frame), Len: uint64(len(frame))}
	call(HypercallNetWrite, unsafe.Pointer(&args))
	runtime.KeepAlive(frame)
	if args.Ret != 0 {
		n.stats.writeErrors.Add(1)
		return &net.OpError{Op: "write", Net: "hvt", Err: errWrite}
	}
	n.stats.out(len(frame))
	return nil
}

// WriteBatch implements device.BatchWriter; each frame is still one
// hypercall, but the batch's caller saves its own per-frame work.
func (n *Net) WriteBatch(frames [][]byte) error {
	for _, f := range frames {
		if err := n.Write(f); err != nil {
			return err
		}
	}
	return nil
}

// MTU implements device.Device.
func (n *Net) MTU() int { return n.mtu }

// HardwareAddr implements device.Device: the MAC solo5-hvt gave the device.
func (n *Net) HardwareAddr() net.HardwareAddr { return n.mac }

// Name is the device's name in the manifest.
func (n *Net) Name() string { return n.name }

// Close implements device.Device. It wakes a sleeping reader, which then
// returns device.ErrClosed.
func (n *Net) Close() error {
	if n.closed.Swap(true) {
		return device.ErrClosed
	}
	if gp := n.sleeper.Load(); gp != 0 {
		runtime.Wake(uint(gp))
	}
	n.readMu.Lock() // the reader has left
	opened[n.handle].CompareAndSwap(n, nil)
	n.readMu.Unlock()
	return nil
}

// Stats implements device.StatsReporter.
func (n *Net) Stats() device.Stats { return n.stats.snapshot() }

// addrOf is the guest address of b's first byte. Go's heap does not move,
// and the caller keeps b alive across the hypercall.
func addrOf(b []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

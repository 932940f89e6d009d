//go:build linux

package device

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/songgao/water"
	"golang.org/x/sys/unix"
)

// TapConfig configures OpenTap.
type TapConfig struct {
	// Name is the Linux interface; empty lets the kernel pick tapN. An
	// existing tap of that name is attached to, otherwise one is created
	// and disappears again on Close.
	Name string
	// MTU, if positive, is set on the Linux interface; otherwise the
	// interface keeps its MTU (1500 for a new tap).
	MTU int
	// MAC is the stack's own address on the link, distinct from the Linux
	// interface's address; nil picks a random locally administered one.
	MAC net.HardwareAddr
	// BringUp sets the Linux interface up (IFF_UP).
	BringUp bool
	// Offload opens the tap with a virtio-net header (IFF_VNET_HDR) and
	// asks for checksum and TCP segmentation offloads (TUNSETOFFLOAD:
	// TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6). Linux then hands the stack
	// coalesced TCP super-frames of up to 64 KiB and takes super-segments
	// it cuts up itself (or delivers whole to a local socket). What the
	// kernel refuses is simply off (Offloads reports what is on).
	Offload bool
}

// Tap is a Device on a Linux tap interface. The stack is a host plugged into
// the interface: frames the stack writes are received by Linux on the
// interface, frames Linux sends out of the interface are read by the stack.
type Tap struct {
	file  *os.File
	rc    syscall.RawConn
	name  string
	mtu   int
	mac   net.HardwareAddr
	stats counters

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// ReadBatch state, reused across calls so reading allocates nothing:
	// the poller callback is a method value built once, and it finds its
	// arguments here.
	readMu   sync.Mutex
	readFn   func(fd uintptr) bool
	rbufs    [][]byte
	rsizes   []int
	rlimit   int
	rn       int
	rerr     error
	iov      [3]unix.Iovec
	overflow []byte // catches the tail of frames longer than the caller's buffer

	// With a virtio-net header (TapConfig.Offload): every read and write
	// carries one in front of the frame.
	vnet     bool
	features Features
	rmeta    []Offload // ReadBatchOffload's meta, nil for ReadBatch
	rhdr     [VirtioNetHdrLen]byte
	writers  sync.Pool // *tapWriter
}

var (
	_ Device        = (*Tap)(nil)
	_ BatchWriter   = (*Tap)(nil)
	_ StatsReporter = (*Tap)(nil)
	_ OffloadDevice = (*Tap)(nil)
)

// tapMaxFrame bounds what one read from a tap can return: the largest MTU
// Linux allows plus an Ethernet header and a VLAN tag. Reading into a buffer
// of this total size means no frame is ever silently truncated.
const tapMaxFrame = 65535 + HeaderLen + 4

// OpenTap opens (creating it if missing) the tap interface cfg.Name and
// returns it as a Device. It needs CAP_NET_ADMIN.
func OpenTap(cfg TapConfig) (*Tap, error) {
	mac := cfg.MAC
	if mac == nil {
		mac = RandomMAC()
	} else if len(mac) != 6 {
		return nil, fmt.Errorf("device: tap MAC %v is not 6 bytes", mac)
	} else {
		mac = append(net.HardwareAddr(nil), mac...)
	}
	if cfg.Offload {
		return openTapVnet(cfg, mac)
	}
	// water clears the persist flag unless told otherwise, which would make
	// an interface someone created on purpose vanish when we close it.
	_, err := net.InterfaceByName(cfg.Name)
	persist := cfg.Name != "" && err == nil
	ifce, err := water.New(water.Config{
		DeviceType: water.TAP,
		PlatformSpecificParams: water.PlatformSpecificParams{
			Name:    cfg.Name,
			Persist: persist,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("device: open tap %q: %w", cfg.Name, err)
	}
	file, ok := ifce.ReadWriteCloser.(*os.File)
	if !ok {
		ifce.Close()
		return nil, fmt.Errorf("device: water returned %T, want *os.File", ifce.ReadWriteCloser)
	}
	t := &Tap{
		file:     file,
		name:     ifce.Name(),
		mac:      mac,
		overflow: make([]byte, tapMaxFrame),
	}
	t.readFn = t.readReady
	if err := t.setup(cfg); err != nil {
		file.Close()
		return nil, err
	}
	return t, nil
}

func (t *Tap) setup(cfg TapConfig) error {
	rc, err := t.file.SyscallConn()
	if err != nil {
		return fmt.Errorf("device: tap %s: %w", t.name, err)
	}
	t.rc = rc
	if cfg.MTU > 0 {
		if err := ifreqIoctl(t.name, func(fd int, ifr *unix.Ifreq) error {
			ifr.SetUint32(uint32(cfg.MTU))
			return unix.IoctlIfreq(fd, unix.SIOCSIFMTU, ifr)
		}); err != nil {
			return fmt.Errorf("device: set MTU of %s to %d: %w", t.name, cfg.MTU, err)
		}
	}
	// Read the MTU back rather than trusting cfg: it is what the link
	// really carries, and covers the case where cfg left it alone.
	if err := ifreqIoctl(t.name, func(fd int, ifr *unix.Ifreq) error {
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFMTU, ifr); err != nil {
			return err
		}
		t.mtu = int(ifr.Uint32())
		return nil
	}); err != nil {
		return fmt.Errorf("device: get MTU of %s: %w", t.name, err)
	}
	if cfg.BringUp {
		if err := ifreqIoctl(t.name, func(fd int, ifr *unix.Ifreq) error {
			if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
				return err
			}
			ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
			return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
		}); err != nil {
			return fmt.Errorf("device: bring %s up: %w", t.name, err)
		}
	}
	return nil
}

// ifreqIoctl runs fn with an ifreq for the named interface and a socket to
// issue interface ioctls on; any AF_INET datagram socket will do.
func ifreqIoctl(name string, fn func(fd int, ifr *unix.Ifreq) error) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fd, ifr)
}

// Name returns the Linux interface name.
func (t *Tap) Name() string { return t.name }

// MTU implements Device.
func (t *Tap) MTU() int { return t.mtu }

// HardwareAddr returns the stack's MAC on the link (not the Linux
// interface's). Callers must not modify it.
func (t *Tap) HardwareAddr() net.HardwareAddr { return t.mac }

// Stats returns the tap's counters.
func (t *Tap) Stats() Stats { return t.stats.snapshot() }

// ReadBatch implements Device. It parks in Go's network poller only when no
// frame is ready, and otherwise drains up to len(bufs) frames with
// back-to-back reads. Calls are serialised; one reader is the intended use.
// If bufs or sizes is empty it returns 0 at once.
func (t *Tap) ReadBatch(bufs [][]byte, sizes []int) (int, error) {
	return t.readBatch(bufs, sizes, nil)
}

// readBatch is ReadBatch, storing each frame's metadata in meta when it is
// not nil.
func (t *Tap) readBatch(bufs [][]byte, sizes []int, meta []Offload) (int, error) {
	if t.closed.Load() {
		return 0, ErrClosed
	}
	limit := min(len(bufs), len(sizes))
	if meta != nil {
		limit = min(limit, len(meta))
	}
	if limit == 0 {
		return 0, nil
	}
	t.readMu.Lock()
	defer t.readMu.Unlock()
	t.rbufs, t.rsizes, t.rmeta, t.rlimit, t.rn, t.rerr = bufs, sizes, meta, limit, 0, nil
	err := t.rc.Read(t.readFn)
	n, rerr := t.rn, t.rerr
	t.rbufs, t.rsizes, t.rmeta = nil, nil, nil
	t.iov = [3]unix.Iovec{} // do not pin the caller's memory
	if n > 0 {
		// A read error after some frames is reported by the next call,
		// which will meet it again.
		return n, nil
	}
	if t.closed.Load() {
		return 0, ErrClosed
	}
	if err != nil {
		return 0, err
	}
	return 0, rerr
}

// readReady is the poller callback: it reads until the tap has nothing more
// (EAGAIN) or the buffers are full. Returning false asks the poller to wait
// for readability and call it again.
func (t *Tap) readReady(fd uintptr) bool {
	for t.rn < t.rlimit {
		buf := t.rbufs[t.rn]
		m, errno := t.readv(fd, buf)
		if errno == 0 && t.vnet {
			if m < VirtioNetHdrLen {
				t.stats.badOffload.Add(1)
				continue
			}
			m -= VirtioNetHdrLen
		}
		switch errno {
		case 0:
		case unix.EAGAIN:
			return t.rn > 0
		case unix.EINTR:
			continue
		default:
			t.stats.readErrors.Add(1)
			t.rerr = fmt.Errorf("device: read %s: %w", t.name, errno)
			return true
		}
		if m > len(buf) {
			t.stats.tooLong.Add(1)
			continue
		}
		if t.vnet && !t.takeMeta(buf[:m]) {
			continue
		}
		t.rsizes[t.rn] = m
		t.stats.in(m)
		t.rn++
	}
	return true
}

// readv reads one frame into buf, spilling into t.overflow, so that the
// returned length is the frame's full length even when buf is too short.
// A tap returns one frame per read.
func (t *Tap) readv(fd uintptr, buf []byte) (int, unix.Errno) {
	iov := t.iov[:0]
	if t.vnet {
		iov = append(iov, unix.Iovec{Base: &t.rhdr[0]})
		iov[0].SetLen(VirtioNetHdrLen)
	}
	if len(buf) > 0 {
		iov = append(iov, unix.Iovec{Base: &buf[0]})
		iov[len(iov)-1].SetLen(len(buf))
	}
	iov = append(iov, unix.Iovec{Base: &t.overflow[0]})
	iov[len(iov)-1].SetLen(len(t.overflow))
	n, _, errno := unix.Syscall(unix.SYS_READV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	return int(n), errno
}

// Write implements Device. The tap takes the whole frame in one write.
func (t *Tap) Write(frame []byte) error {
	if t.closed.Load() {
		return ErrClosed
	}
	if t.vnet {
		return t.WriteOffload(frame, Offload{})
	}
	if err := checkFrame(frame, t.mtu); err != nil {
		t.stats.invalid.Add(1)
		return err
	}
	if _, err := t.file.Write(frame); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return ErrClosed
		}
		t.stats.writeErrors.Add(1)
		return fmt.Errorf("device: write %s: %w", t.name, err)
	}
	t.stats.out(len(frame))
	return nil
}

// WriteBatch implements BatchWriter. A tap has no multi-frame write, so this
// only saves the caller the loop.
func (t *Tap) WriteBatch(frames [][]byte) error {
	for _, f := range frames {
		if err := t.Write(f); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the tap, which wakes a ReadBatch parked in the poller. A tap
// that OpenTap created disappears from Linux. Closing twice is harmless.
func (t *Tap) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		t.closeErr = t.file.Close()
	})
	return t.closeErr
}

// TUNSETOFFLOAD flags (linux/if_tun.h).
const (
	tunFCsum = 0x01
	tunFTSO4 = 0x02
	tunFTSO6 = 0x04
)

// openTapVnet opens the tap itself (water has no IFF_VNET_HDR) with a
// virtio-net header in front of every frame, and negotiates offloads.
func openTapVnet(cfg TapConfig, mac net.HardwareAddr) (*Tap, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("device: open tap %q: %w", cfg.Name, err)
	}
	ifr, err := unix.NewIfreq(cfg.Name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("device: open tap %q: %w", cfg.Name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("device: open tap %q: %w", cfg.Name, err)
	}
	// An existing persistent tap stays persistent and a new one goes
	// away on Close: TUNSETIFF leaves the flag as it finds it.
	t := &Tap{
		file:     os.NewFile(uintptr(fd), "/dev/net/tun"),
		name:     ifr.Name(),
		mac:      mac,
		overflow: make([]byte, tapMaxFrame),
		vnet:     true,
	}
	t.readFn = t.readReady
	t.features = negotiate(fd)
	if err := t.setup(cfg); err != nil {
		t.file.Close()
		return nil, err
	}
	return t, nil
}

// negotiate asks for the offloads actnet handles, dropping to fewer when
// the kernel refuses a set (an old kernel, or a tap that cannot).
func negotiate(fd int) Features {
	for _, f := range []struct {
		flags int
		feat  Features
	}{
		{tunFCsum | tunFTSO4 | tunFTSO6, Features{Csum: true, TSO4: true, TSO6: true}},
		{tunFCsum, Features{Csum: true}},
	} {
		if unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, f.flags) == nil {
			return f.feat
		}
	}
	// Keep the header but no offload: every frame's metadata is zero.
	_ = unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, 0)
	return Features{}
}

// Offloads implements OffloadDevice.
func (t *Tap) Offloads() Features { return t.features }

// takeMeta decodes and checks the header read with frame. A frame whose
// header is bogus is counted and dropped. For a plain ReadBatch caller,
// a partial checksum is completed and a super-frame dropped as too long.
func (t *Tap) takeMeta(frame []byte) bool {
	o, err := DecodeVirtioNetHdr(t.rhdr[:])
	if err == nil {
		err = o.Check(frame)
	}
	if err != nil {
		t.stats.badOffload.Add(1)
		return false
	}
	if t.rmeta != nil {
		t.rmeta[t.rn] = o
		return true
	}
	if o.GSO != GSONone {
		t.stats.tooLong.Add(1)
		return false
	}
	if CompleteChecksum(frame, o) != nil {
		t.stats.badOffload.Add(1)
		return false
	}
	return true
}

// ReadBatchOffload implements OffloadDevice.
func (t *Tap) ReadBatchOffload(bufs [][]byte, sizes []int, meta []Offload) (int, error) {
	if !t.vnet {
		n, err := t.ReadBatch(bufs, sizes)
		clear(meta[:min(n, len(meta))])
		return n, err
	}
	return t.readBatch(bufs, sizes, meta)
}

// tapWriter is one write's header and vector, pooled so that concurrent
// writers allocate nothing.
type tapWriter struct {
	t     *Tap
	hdr   [VirtioNetHdrLen]byte
	iov   [2]unix.Iovec
	n     int
	errno unix.Errno
	fn    func(fd uintptr) bool
}

func (w *tapWriter) write(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), 2)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		w.n, w.errno = int(n), errno
		return true
	}
}

// WriteOffload implements OffloadDevice. The header and the frame go out
// in one writev.
func (t *Tap) WriteOffload(frame []byte, meta Offload) error {
	if t.closed.Load() {
		return ErrClosed
	}
	if !t.vnet {
		if !meta.IsZero() {
			t.stats.badOffload.Add(1)
			return ErrBadOffload
		}
		return t.Write(frame)
	}
	if err := t.checkOffload(frame, meta); err != nil {
		return err
	}
	w, _ := t.writers.Get().(*tapWriter)
	if w == nil {
		w = &tapWriter{t: t}
		w.fn = w.write
	}
	EncodeVirtioNetHdr(w.hdr[:], meta)
	w.iov[0] = unix.Iovec{Base: &w.hdr[0]}
	w.iov[0].SetLen(VirtioNetHdrLen)
	w.iov[1] = unix.Iovec{Base: &frame[0]}
	w.iov[1].SetLen(len(frame))
	err := t.rc.Write(w.fn)
	errno := w.errno
	w.iov[1] = unix.Iovec{} // do not pin the caller's frame
	t.writers.Put(w)
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		if errors.Is(err, os.ErrClosed) || t.closed.Load() {
			return ErrClosed
		}
		t.stats.writeErrors.Add(1)
		return fmt.Errorf("device: write %s: %w", t.name, err)
	}
	t.stats.out(len(frame))
	return nil
}

// checkOffload validates an outgoing frame and its metadata: a super-frame
// may exceed the MTU, up to MaxOffloadFrame, when the tap negotiated TSO
// for its family.
func (t *Tap) checkOffload(frame []byte, meta Offload) error {
	var err error
	switch {
	case meta.GSO == GSONone:
		err = checkFrame(frame, t.mtu)
		if err == nil && meta.NeedsCsum {
			err = meta.Check(frame)
		}
	case meta.GSO == GSOTCPv4 && !t.features.TSO4, meta.GSO == GSOTCPv6 && !t.features.TSO6:
		err = ErrBadOffload
	case len(frame) < HeaderLen:
		err = ErrFrameTooShort
	default:
		err = meta.Check(frame)
	}
	if err != nil {
		t.stats.invalid.Add(1)
	}
	return err
}

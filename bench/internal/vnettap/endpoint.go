// Package vnettap is a gVisor link endpoint for a Linux tap opened with a
// virtio-net header (IFF_VNET_HDR) and TCP segmentation offloads
// (TUNSETOFFLOAD with TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6): gVisor's "host
// GSO" configuration on a tap, which its own fdbased endpoint enables only
// for socket file descriptors.
//
// Outbound, gVisor's TCP builds segments of up to 64 KiB with a partial
// checksum (stack.GSO); the endpoint writes each with a virtio_net_hdr
// that asks the kernel to finish the checksum and to segment it by MSS.
// Inbound, the kernel hands over coalesced TCP super-frames of up to
// 64 KiB with a header saying so; the endpoint checks the header and
// passes the frame to gVisor as one packet.
//
// Endpoint carries raw Ethernet frames; wrap it with gVisor's
// link/ethernet (ethernet.New) for the Ethernet header, as the bench's
// gvisor-server does. It is written against gVisor's public stack API,
// for the benchmark only.
package vnettap

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Offload flags of TUNSETOFFLOAD (linux/if_tun.h), which x/sys/unix does
// not export.
const (
	tunFCsum = 0x01
	tunFTSO4 = 0x02
	tunFTSO6 = 0x04
)

// hdrLen is the size of struct virtio_net_hdr, the tap's default
// (TUNSETVNETHDRSZ), without the mergeable-buffers count.
const hdrLen = header.VirtioNetHeaderSize

// maxFrame is the largest Ethernet frame the tap hands over: an IP
// packet of at most 64 KiB (the kernel's default gso_max_size) and its
// Ethernet header.
const maxFrame = header.EthernetMinimumSize + 0xffff

// smallFrame: frames up to this size are copied out of the receive buffer
// into a buffer of their own size, so that an ACK does not hold a 64 KiB
// chunk while it sits in a queue; larger ones keep the buffer they were
// read into.
const smallFrame = 2048

// maxReadFailures is how many reads in a row may fail before the reader
// gives up.
const maxReadFailures = 1000

// Stats counts what crossed the endpoint and everything it refused.
type Stats struct {
	RxFrames, RxSuperFrames, RxBadHeader, RxBadChecksum, RxUnverifiable, RxOversize, RxErrors atomic.Uint64
	TxFrames, TxSuperFrames, TxRefused, TxErrors                                              atomic.Uint64
}

// Endpoint is the link endpoint. Create it with Open or New.
type Endpoint struct {
	file   *os.File
	raw    syscall.RawConn
	mtu    atomic.Uint32
	gsoMax uint32

	mu         sync.Mutex
	addr       tcpip.LinkAddress
	dispatcher stack.NetworkDispatcher
	started    bool
	onClose    func()

	wg     sync.WaitGroup
	closed atomic.Bool
	Stats  Stats
}

var (
	_ stack.LinkEndpoint = (*Endpoint)(nil)
	_ stack.GSOEndpoint  = (*Endpoint)(nil)
)

// Open attaches to the existing tap device name with IFF_TAP|IFF_NO_PI|
// IFF_VNET_HDR, sets the header's byte order to little-endian, and turns
// on checksum offload and TSO for IPv4 and IPv6. It fails, rather than
// falling back, if the kernel refuses any of them: the benchmark's
// column is gVisor with host GSO, or nothing.
func Open(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var ifr struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte // the rest of struct ifreq
	}
	copy(ifr.name[:], name)
	ifr.flags = unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF: %w", errno)
	}
	le := int32(1)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETVNETLE, uintptr(unsafe.Pointer(&le))); errno != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETVNETLE: %w", errno)
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFCsum|tunFTSO4|tunFTSO6); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETOFFLOAD: %w", err)
	}
	return fd, nil
}

// New makes an endpoint of fd, a tap opened as Open does, with the IP
// MTU mtu and host GSO of at most gsoMax bytes (65536 as Linux's default
// gso_max_size; 0 turns GSO off, keeping the header and the receive
// offloads).
func New(fd int, mtu uint32, addr tcpip.LinkAddress, gsoMax uint32) (*Endpoint, error) {
	// A non-blocking descriptor makes os.File use Go's poller, so a
	// blocked read ends when Close closes the file.
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "tap")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	e := &Endpoint{file: f, raw: raw, addr: addr, gsoMax: gsoMax}
	e.mtu.Store(mtu + header.EthernetMinimumSize)
	return e, nil
}

// MTU is the frame MTU; link/ethernet subtracts its header.
func (e *Endpoint) MTU() uint32 { return e.mtu.Load() }

// SetMTU sets the IP MTU.
func (e *Endpoint) SetMTU(mtu uint32) { e.mtu.Store(mtu + header.EthernetMinimumSize) }

// MaxHeaderLength is 0: the virtio-net header goes out as a separate
// piece of the same writev, so it needs no room in the packet.
func (e *Endpoint) MaxHeaderLength() uint16 { return 0 }

// LinkAddress returns the MAC address.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addr
}

// SetLinkAddress sets the MAC address.
func (e *Endpoint) SetLinkAddress(addr tcpip.LinkAddress) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addr = addr
}

// Capabilities says that the endpoint checks received checksums (it
// trusts the kernel's NEEDS_CSUM and DATA_VALID and checks the rest
// itself) and leaves the transmit checksums to gVisor, except the
// partial ones of GSO packets.
func (e *Endpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityRXChecksumOffload
}

// GSOMaxSize is the largest packet gVisor's TCP may hand over.
func (e *Endpoint) GSOMaxSize() uint32 { return e.gsoMax }

// SupportedGSO is host GSO: the kernel behind the tap segments.
func (e *Endpoint) SupportedGSO() stack.SupportedGSO {
	if e.gsoMax == 0 {
		return stack.GSONotSupported
	}
	return stack.HostGSOSupported
}

// ARPHardwareType is left to link/ethernet.
func (e *Endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader adds nothing: link/ethernet adds the Ethernet header.
func (e *Endpoint) AddHeader(*stack.PacketBuffer) {}

// ParseHeader parses nothing: link/ethernet parses the Ethernet header.
func (e *Endpoint) ParseHeader(*stack.PacketBuffer) bool { return true }

// Attach starts the reader on the first non-nil dispatcher; nil detaches.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dispatcher = d
	if d != nil && !e.started {
		e.started = true
		e.wg.Add(1)
		go e.readLoop()
	}
}

// IsAttached says whether a dispatcher is attached.
func (e *Endpoint) IsAttached() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dispatcher != nil
}

// Wait waits for the reader to stop, which it does once Close is called.
func (e *Endpoint) Wait() { e.wg.Wait() }

// Close runs the close action and closes the tap, which ends the reader.
func (e *Endpoint) Close() {
	e.mu.Lock()
	action := e.onClose
	e.onClose = nil
	e.mu.Unlock()
	if action != nil {
		action()
	}
	e.closed.Store(true)
	e.file.Close()
}

// SetOnCloseAction sets what Close runs first.
func (e *Endpoint) SetOnCloseAction(action func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.onClose = action
}

// WritePackets writes each packet with its virtio-net header, one writev
// per packet (a tap takes one frame per write). A packet whose GSO
// metadata cannot be expressed is counted and dropped.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	var hdr [hdrLen]byte
	iovs := make([][]byte, 0, 8)
	n := 0
	for _, pkt := range pkts.AsSlice() {
		linkLen := len(pkt.LinkHeader().Slice())
		netLen := len(pkt.NetworkHeader().Slice())
		transLen := len(pkt.TransportHeader().Slice())
		h, err := txHeader(pkt.GSOOptions, linkLen, netLen, transLen, pkt.Data().Size())
		if err != nil {
			e.Stats.TxRefused.Add(1)
			continue
		}
		header.VirtioNetHeader(hdr[:]).Encode(&h)
		iovs = append(iovs[:0], hdr[:])
		iovs = append(iovs, pkt.AsSlices()...)
		if err := e.writev(iovs); err != nil {
			e.Stats.TxErrors.Add(1)
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			break
		}
		e.Stats.TxFrames.Add(1)
		if h.GSOType != gsoNone {
			e.Stats.TxSuperFrames.Add(1)
		}
		n++
	}
	// The packets stay the caller's: the NIC's default queueing
	// discipline hands over its reference for the call only, and drops
	// it afterwards.
	return n, nil
}

func (e *Endpoint) writev(iovs [][]byte) error {
	var werr error
	err := e.raw.Write(func(fd uintptr) bool {
		_, werr = unix.Writev(int(fd), iovs)
		return werr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return werr
}

// readLoop reads one frame per readv into the virtio-net header and a
// 64 KiB buffer (plus a small tail for the Ethernet header of a
// maximal packet), checks the header and delivers the frame.
func (e *Endpoint) readLoop() {
	defer e.wg.Done()
	var hdr [hdrLen]byte
	var tail [64]byte
	var big *buffer.View
	iovs := [][]byte{hdr[:], nil, tail[:]}
	failures := 0
	for {
		if big == nil {
			big = buffer.NewViewSize(buffer.MaxChunkSize)
		}
		body := big.AsSlice()
		iovs[1] = body
		var n int
		var rerr error
		err := e.raw.Read(func(fd uintptr) bool {
			n, rerr = unix.Readv(int(fd), iovs)
			return rerr != unix.EAGAIN
		})
		if err != nil || e.closed.Load() || errors.Is(rerr, unix.EBADF) {
			// The poller fails only once the file is closed.
			big.Release()
			return
		}
		if rerr != nil {
			// A tap's read errors are per frame; one that never clears
			// (the device gone) ends the reader instead of spinning, and
			// the stack goes deaf, which a load reports.
			e.Stats.RxErrors.Add(1)
			if failures++; failures == maxReadFailures {
				big.Release()
				return
			}
			continue
		}
		failures = 0
		size := n - hdrLen
		if size > maxFrame || n == hdrLen+len(body)+len(tail) {
			e.Stats.RxOversize.Add(1)
			continue
		}
		if size < header.EthernetMinimumSize {
			e.Stats.RxBadHeader.Add(1)
			continue
		}
		// The frame is body[:size] followed, for a maximal one, by the
		// first bytes of tail.
		var frame []byte
		if size <= len(body) {
			frame = body[:size]
		} else {
			frame = append(append(make([]byte, 0, size), body...), tail[:size-len(body)]...)
		}
		m, herr := checkRx(decodeHeader(hdr[:]), frame)
		if herr != nil {
			e.Stats.RxBadHeader.Add(1)
			continue
		}
		if !m.trusted {
			if verr := verifyFrame(frame); verr != nil {
				if errors.Is(verr, ErrBadChecksum) {
					e.Stats.RxBadChecksum.Add(1)
				} else {
					e.Stats.RxUnverifiable.Add(1)
				}
				continue
			}
		}
		var payload buffer.Buffer
		switch {
		case size <= smallFrame || size > len(body):
			payload = buffer.MakeWithData(frame)
		default:
			big.CapLength(size)
			payload = buffer.MakeWithView(big)
			big = nil
		}
		e.Stats.RxFrames.Add(1)
		if m.super {
			e.Stats.RxSuperFrames.Add(1)
		}
		e.deliver(payload)
	}
}

func (e *Endpoint) deliver(payload buffer.Buffer) {
	e.mu.Lock()
	d := e.dispatcher
	e.mu.Unlock()
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: payload})
	defer pkt.DecRef()
	if d == nil {
		return
	}
	// link/ethernet reads the EtherType and delivers by it.
	d.DeliverNetworkPacket(0, pkt)
}

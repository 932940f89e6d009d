// Command gvisor-server runs gVisor's netstack on a tap device with the
// same echo, discard and source servers as actnet serve's apps, through
// gVisor's gonet adapter. It is the gVisor side of the tap benchmark.
//
// By default the tap is opened with IFF_TAP|IFF_NO_PI, no vnet header and
// no offloads, and gVisor's fdbased endpoint reads it: gVisor's default
// configuration on a tap. With --gso the tap is opened with a virtio-net
// header and TSO, and the bench's own endpoint (internal/vnettap) gives
// gVisor host GSO: it sends TCP segments of up to 64 KiB for the kernel
// to segment and takes the kernel's coalesced super-frames whole, as
// runsc does on a host socket.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/actnet/actnet/bench/internal/gvstack"
	"github.com/actnet/actnet/bench/internal/servers"
	"github.com/actnet/actnet/bench/internal/vnettap"
)

func main() {
	var (
		tap     = flag.String("tap", "tap0", "tap device (must exist)")
		ipv4Str = flag.String("ipv4", "10.0.0.2/24", "the stack's IPv4 address and prefix")
		ipv6Str = flag.String("ipv6", "", "the stack's IPv6 address and prefix (none if empty)")
		macStr  = flag.String("mac", "02:00:00:00:00:02", "the stack's MAC address")
		mtu     = flag.Uint("mtu", 1500, "link MTU")
		echo    = flag.Uint("echo", 9000, "echo port")
		discard = flag.Uint("discard", 9001, "discard port")
		source  = flag.Uint("source", 9002, "source port")
		gso     = flag.Bool("gso", false, "open the tap with a virtio-net header and TSO, and give gVisor host GSO")
	)
	flag.Parse()
	if err := run(*tap, *ipv4Str, *ipv6Str, *macStr, uint32(*mtu), *gso, map[uint16]servers.Handler{
		uint16(*echo): servers.Echo, uint16(*discard): servers.Discard, uint16(*source): servers.Source,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "gvisor-server:", err)
		os.Exit(1)
	}
}

func run(tap, ipv4Str, ipv6Str, macStr string, mtu uint32, gso bool, apps map[uint16]servers.Handler) error {
	prefix, err := netip.ParsePrefix(ipv4Str)
	if err != nil {
		return err
	}
	if !prefix.Addr().Is4() {
		return fmt.Errorf("--ipv4 %s is not an IPv4 prefix", ipv4Str)
	}
	prefixes := []netip.Prefix{prefix}
	if ipv6Str != "" {
		p6, err := netip.ParsePrefix(ipv6Str)
		if err != nil {
			return err
		}
		if !p6.Addr().Is6() || p6.Addr().Is4In6() {
			return fmt.Errorf("--ipv6 %s is not an IPv6 prefix", ipv6Str)
		}
		prefixes = append(prefixes, p6)
	}
	mac, err := net.ParseMAC(macStr)
	if err != nil {
		return err
	}
	var (
		link     stack.LinkEndpoint
		vnet     *vnettap.Endpoint
		linkDesc = "fdbased, no offloads"
	)
	if gso {
		if link, vnet, err = openGSO(tap, mtu, tcpip.LinkAddress(mac)); err != nil {
			return err
		}
		linkDesc = "virtio-net header, host GSO"
	} else if link, err = openPlain(tap, mtu, tcpip.LinkAddress(mac)); err != nil {
		return err
	}
	s, err := gvstack.New(link, prefixes...)
	if err != nil {
		return err
	}
	defer s.Close()
	// A gVisor endpoint serves one family, so each port has a listener
	// per address.
	for port, h := range apps {
		for _, p := range prefixes {
			a := p.Addr()
			l, err := gonet.ListenTCP(s, gvstack.FullAddress(a, port), gvstack.Protocol(a))
			if err != nil {
				return fmt.Errorf("listening on [%s]:%d: %w", a, port, err)
			}
			defer l.Close()
			go servers.Serve(l, h)
		}
	}
	fmt.Fprintf(os.Stderr, "gvisor-server: serving on %s (%s, %s) at %v\n", tap, mac, linkDesc, prefixes)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	printStats(s)
	if vnet != nil {
		printLinkStats(&vnet.Stats)
	}
	return nil
}

// openPlain gives gVisor the tap through its own fdbased endpoint.
func openPlain(tap string, mtu uint32, mac tcpip.LinkAddress) (stack.LinkEndpoint, error) {
	fd, err := openTap(tap)
	if err != nil {
		return nil, fmt.Errorf("opening tap %s: %w", tap, err)
	}
	return fdbased.New(&fdbased.Options{
		FDs:            []int{fd},
		MTU:            mtu,
		EthernetHeader: true,
		Address:        mac,
		// Readv is the only dispatcher for a tap fd (the others need a
		// socket); fdbased picks it by itself, this says so.
		PacketDispatchMode: fdbased.Readv,
	})
}

// gsoMaxSize is the largest packet gVisor's TCP hands the endpoint:
// Linux's default gso_max_size, which the tap accepts.
const gsoMaxSize = 1 << 16

// openGSO gives gVisor the tap through the bench's virtio-net endpoint,
// under gVisor's Ethernet layer.
func openGSO(tap string, mtu uint32, mac tcpip.LinkAddress) (stack.LinkEndpoint, *vnettap.Endpoint, error) {
	fd, err := vnettap.Open(tap)
	if err != nil {
		return nil, nil, fmt.Errorf("opening tap %s with a virtio-net header and TSO: %w", tap, err)
	}
	ep, err := vnettap.New(fd, mtu, mac, gsoMaxSize)
	if err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	return ethernet.New(ep), ep, nil
}

// printLinkStats prints the virtio-net endpoint's counters: how many
// super-frames crossed, and every frame it refused.
func printLinkStats(st *vnettap.Stats) {
	for _, c := range []struct {
		name string
		v    uint64
	}{
		{"link.rx_frames", st.RxFrames.Load()},
		{"link.rx_super_frames", st.RxSuperFrames.Load()},
		{"link.rx_bad_header", st.RxBadHeader.Load()},
		{"link.rx_bad_checksum", st.RxBadChecksum.Load()},
		{"link.rx_unverifiable", st.RxUnverifiable.Load()},
		{"link.rx_oversize", st.RxOversize.Load()},
		{"link.rx_errors", st.RxErrors.Load()},
		{"link.tx_frames", st.TxFrames.Load()},
		{"link.tx_super_frames", st.TxSuperFrames.Load()},
		{"link.tx_refused", st.TxRefused.Load()},
		{"link.tx_errors", st.TxErrors.Load()},
	} {
		fmt.Printf("%s %d\n", c.name, c.v)
	}
}

// printStats prints the counters that explain a throughput number
// (retransmissions, recoveries, drops), as actnet serve prints its own
// counters when stopped; the runner keeps them in the run's log.
func printStats(s *stack.Stack) {
	st := s.Stats()
	t := st.TCP
	for _, c := range []struct {
		name string
		v    *tcpip.StatCounter
	}{
		{"tcp.segments_received", t.ValidSegmentsReceived},
		{"tcp.segments_sent", t.SegmentsSent},
		{"tcp.retransmits", t.Retransmits},
		{"tcp.fast_retransmit", t.FastRetransmit},
		{"tcp.sack_recovery", t.SACKRecovery},
		{"tcp.tlp_recovery", t.TLPRecovery},
		{"tcp.timeouts", t.Timeouts},
		{"tcp.checksum_errors", t.ChecksumErrors},
		{"tcp.listen_overflow_syn_drop", t.ListenOverflowSynDrop},
		{"tcp.resets_sent", t.ResetsSent},
		{"ip.packets_received", st.IP.PacketsReceived},
		{"ip.packets_sent", st.IP.PacketsSent},
		{"nic.tx_dropped_no_buffer_space", st.NICs.TxPacketsDroppedNoBufferSpace},
		{"dropped_packets", st.DroppedPackets},
	} {
		fmt.Printf("%s %d\n", c.name, c.v.Value())
	}
}

// openTap attaches to the tap device name with IFF_TAP|IFF_NO_PI.
func openTap(name string) (int, error) {
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
	ifr.flags = unix.IFF_TAP | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF: %w", errno)
	}
	return fd, nil
}

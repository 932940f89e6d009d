// Command gvisor-server runs gVisor's netstack on a tap device with the
// same echo, discard and source servers as actnet serve's apps, through
// gVisor's gonet adapter. It is the gVisor side of the tap benchmark.
//
// The tap is opened the way actnet's own tap device is (TUNSETIFF with
// IFF_TAP|IFF_NO_PI, no vnet header, no offloads), so both stacks see the
// same frames from Linux and compute their own checksums.
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
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/actnet/actnet/bench/internal/gvstack"
	"github.com/actnet/actnet/bench/internal/servers"
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
	)
	flag.Parse()
	if err := run(*tap, *ipv4Str, *ipv6Str, *macStr, uint32(*mtu), map[uint16]servers.Handler{
		uint16(*echo): servers.Echo, uint16(*discard): servers.Discard, uint16(*source): servers.Source,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "gvisor-server:", err)
		os.Exit(1)
	}
}

func run(tap, ipv4Str, ipv6Str, macStr string, mtu uint32, apps map[uint16]servers.Handler) error {
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
	fd, err := openTap(tap)
	if err != nil {
		return fmt.Errorf("opening tap %s: %w", tap, err)
	}
	link, err := fdbased.New(&fdbased.Options{
		FDs:            []int{fd},
		MTU:            mtu,
		EthernetHeader: true,
		Address:        tcpip.LinkAddress(mac),
		// Readv is the only dispatcher for a tap fd (the others need a
		// socket); fdbased picks it by itself, this says so.
		PacketDispatchMode: fdbased.Readv,
	})
	if err != nil {
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
	fmt.Fprintf(os.Stderr, "gvisor-server: serving on %s (%s) at %v\n", tap, mac, prefixes)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	printStats(s)
	return nil
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

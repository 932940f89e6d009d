package main

import (
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/tcp"
)

// stackFlags are the flags that describe the stack a command runs on a
// tap: serve, resolve and get share them, so each command takes the same
// addresses, MAC, MTU, capture, log level and TCP options.
type stackFlags struct {
	tap     *string
	ipv4    ipv4Flag
	fb4     prefixFlag
	gateway addrFlag
	ipv6    ipv6Flag
	gw6     addr6Flag
	iid     iidFlag
	secret  *string
	macText *string
	mtu     *int
	pcap    *string
	level   levelFlag
	cc      *string
	noSACK  *bool
	noTS    *bool
	offload *string

	mac net.HardwareAddr // from macText, by check
	set map[string]bool  // the flags given on the command line, by check
	// offloads names the offloads the tap negotiated, by open (for the
	// log).
	offloads string
	// limits are the stack's resource caps; the command sets what it
	// has flags for (serve's --max-connections) before open.
	limits actnet.Limits
}

// addStackFlags defines the stack flags on fs.
func addStackFlags(fs *flag.FlagSet) *stackFlags {
	f := &stackFlags{level: levelFlag{l: zerolog.InfoLevel}}
	f.tap = fs.String("tap", "", "tap device to attach to; created if missing (required)")
	f.macText = fs.String("mac", "", "the stack's MAC address (default: random, locally administered)")
	f.mtu = fs.Int("mtu", 1500, "link MTU")
	f.pcap = fs.String("pcap", "", "write every frame, both directions, to this pcap file")
	f.cc = fs.String("tcp-cc", "cubic", "TCP congestion control: cubic (RFC 9438) or newreno (RFC 5681/6582)")
	f.noSACK = fs.Bool("tcp-no-sack", false, "turn selective acknowledgments (RFC 2018/6675) off")
	f.noTS = fs.Bool("tcp-no-timestamps", false, "turn TCP timestamps (RFC 7323) off")
	f.offload = fs.String("offload", "auto", "tap offloads: auto (a virtio-net header, with checksum and TCP segmentation offload as far as the kernel agrees: super-frames of up to 64 KiB both ways) or off")
	fs.Var(&f.ipv4, "ipv4", "the stack's IPv4 address and prefix, e.g. 10.0.0.2/24, or dhcp to lease one from a DHCP server (required)")
	fs.Var(&f.fb4, "ipv4-fallback", "with --ipv4 dhcp: the address and prefix to use when no DHCP server answers within 10 s")
	fs.Var(&f.gateway, "ipv4-gateway", "default IPv4 router for off-link destinations (with a static --ipv4)")
	fs.Var(&f.ipv6, "ipv6", "IPv6: auto (the default: a link-local address, plus SLAAC addresses and default routers from router advertisements), none (IPv6 off), or a static ADDR/PREFIX such as 2001:db8:1::2/64 (besides the link-local address)")
	fs.Var(&f.gw6, "ipv6-gateway", "default IPv6 router, link-local or on the --ipv6 prefix; only with a static --ipv6 (router advertisements may add others)")
	fs.Var(&f.iid, "ipv6-iid", "interface identifiers of the link-local and SLAAC addresses: eui64 (the default: from the MAC, RFC 4291), stable (RFC 7217: stable per network prefix, opaque; keyed by --ipv6-secret) or random")
	f.secret = fs.String("ipv6-secret", "", "file holding the RFC 7217 secret for --ipv6-iid stable, created with 32 random bytes (mode 0600) if missing, so the addresses survive restarts; without it the secret is drawn at start and the addresses are stable only while the process runs")
	fs.Var(&f.level, "log-level", "log level: trace, debug, info, warn, error")
	return f
}

// check validates the stack flags against one another once fs is parsed,
// before anything is opened.
func (f *stackFlags) check(fs *flag.FlagSet) error {
	switch {
	case *f.tap == "":
		return fmt.Errorf("--tap is required")
	case !f.ipv4.p.IsValid() && !f.ipv4.dhcp:
		return fmt.Errorf("--ipv4 is required")
	case f.ipv4.dhcp && f.gateway.a.IsValid():
		return fmt.Errorf("--ipv4-gateway is the DHCP server's to give with --ipv4 dhcp")
	case f.fb4.p.IsValid() && !f.ipv4.dhcp:
		return fmt.Errorf("--ipv4-fallback is for --ipv4 dhcp")
	case *f.offload != "auto" && *f.offload != "off":
		return fmt.Errorf("--offload %q: want auto or off", *f.offload)
	case *f.mtu < 576 || *f.mtu > 65535:
		return fmt.Errorf("--mtu %d is out of range (576 to 65535)", *f.mtu)
	case f.gateway.a.IsValid() && !f.ipv4.p.Contains(f.gateway.a):
		return fmt.Errorf("--ipv4-gateway %s is not on the link %s", f.gateway.a, f.ipv4.p.Masked())
	case f.gateway.a.IsValid() && f.gateway.a == f.ipv4.p.Addr():
		return fmt.Errorf("--ipv4-gateway %s is the stack's own address", f.gateway.a)
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if err := checkIPv6(f.ipv6, f.gw6, f.set); err != nil {
		return err
	}
	if f.set["ipv6-secret"] && f.iid.k != actnet.IIDStable {
		return fmt.Errorf("--ipv6-secret keys --ipv6-iid stable only")
	}
	if *f.pcap != "" {
		if err := checkPcapPath(*f.pcap); err != nil {
			return err
		}
	}
	switch *f.cc {
	case "cubic", "newreno":
	default:
		return fmt.Errorf("--tcp-cc %q: want cubic or newreno", *f.cc)
	}
	if *f.macText != "" {
		mac, err := net.ParseMAC(*f.macText)
		if err != nil || len(mac) != 6 || mac[0]&1 != 0 {
			return fmt.Errorf("--mac %q is not a unicast Ethernet address", *f.macText)
		}
		f.mac = mac
	}
	return nil
}

// tcpConfig is the TCP configuration the flags ask for; the command adds
// what is its own (serve's idle timeout).
func (f *stackFlags) tcpConfig() actnet.TCPConfig {
	c := actnet.TCPConfig{NoSACK: *f.noSACK, NoTimestamps: *f.noTS, Congestion: tcp.NewCubic}
	if *f.cc == "newreno" {
		c.Congestion = tcp.NewNewReno
	}
	return c
}

// logger is the command's logger at the --log-level.
func (f *stackFlags) logger(stderr io.Writer) zerolog.Logger {
	return actnet.DefaultLogger(stderr).Level(f.level.l)
}

// open attaches to the tap (with its pcap wrapper) and starts the stack.
// Its errors name what failed; the command prefixes its own name.
func (f *stackFlags) open(tcpConfig actnet.TCPConfig, log *zerolog.Logger) (*actnet.Stack, error) {
	dev, err := openTap(*f.tap, *f.mtu, f.mac, *f.offload == "auto")
	if err != nil {
		return nil, fmt.Errorf("opening tap %s: %v", *f.tap, err)
	}
	f.offloads = offloadsOf(dev)
	if *f.pcap != "" {
		wrapped, err := device.OpenPcapFile(dev, *f.pcap)
		if err != nil {
			dev.Close()
			return nil, err
		}
		dev = wrapped
	}
	v6 := ipv6Config(f.ipv6, f.gw6, f.iid)
	if *f.secret != "" {
		if v6.StableSecret, err = loadStableSecret(*f.secret); err != nil {
			dev.Close()
			return nil, err
		}
	}
	return actnet.New(actnet.Config{
		Device:       dev,
		IPv4:         f.ipv4.p,
		IPv4Gateway:  f.gateway.a,
		IPv4DHCP:     f.ipv4.dhcp,
		IPv4Fallback: f.fb4.p,
		Limits:       f.limits,
		Logger:       log,
		TCP:          tcpConfig,
		IPv6:         v6,
	})
}

// offloadsOf names the offloads dev negotiated, for the log.
func offloadsOf(dev device.Device) string {
	od, ok := dev.(device.OffloadDevice)
	if !ok || !od.Offloads().Any() {
		return "off"
	}
	f := od.Offloads()
	s := "csum"
	if f.TSO4 {
		s += ",tso4"
	}
	if f.TSO6 {
		s += ",tso6"
	}
	return s
}

package main

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// appSpec is one --app KIND:PORT.
type appSpec struct {
	Kind string
	Port uint16
}

// appKinds are the apps serve knows, and whether this build can run them.
var appKinds = map[string]string{
	"echo":     "TCP echo (RFC 862)",
	"discard":  "TCP discard (RFC 863)",
	"source":   "TCP source: reads a decimal byte count and a newline, sends that many bytes",
	"crash":    "TCP echo that panics on the line \"panic\", to show supervision",
	"udp-echo": "UDP echo of each datagram to its sender",
}

// knownKinds lists the app kinds, for messages.
func knownKinds() string { return strings.Join(slices.Sorted(maps.Keys(appKinds)), ", ") }

// availableApps are the kinds this build serves; TCP and UDP apps join it as
// their transports land.
var availableApps = map[string]bool{}

// appList collects repeated --app flags.
type appList []appSpec

func (l *appList) String() string {
	parts := make([]string, len(*l))
	for i, a := range *l {
		parts[i] = fmt.Sprintf("%s:%d", a.Kind, a.Port)
	}
	return strings.Join(parts, ",")
}

func (l *appList) Set(v string) error {
	kind, portText, ok := strings.Cut(v, ":")
	if !ok {
		return fmt.Errorf("want KIND:PORT, e.g. echo:9000")
	}
	if _, known := appKinds[kind]; !known {
		return fmt.Errorf("unknown app kind %q (known: %s)", kind, knownKinds())
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", portText)
	}
	if !availableApps[kind] {
		return fmt.Errorf("app kind %q (%s) is not available yet: its transport has not landed in this build", kind, appKinds[kind])
	}
	*l = append(*l, appSpec{Kind: kind, Port: uint16(port)})
	return nil
}

// prefixFlag parses ADDR/PREFIX for IPv4.
type prefixFlag struct{ p netip.Prefix }

func (f *prefixFlag) String() string {
	if !f.p.IsValid() {
		return ""
	}
	return f.p.String()
}

func (f *prefixFlag) Set(v string) error {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return fmt.Errorf("want an IPv4 address with its prefix length, e.g. 10.0.0.2/24")
	}
	if !p.Addr().Is4() {
		return fmt.Errorf("%s is not an IPv4 address", p.Addr())
	}
	if err := checkHostPrefix(p); err != nil {
		return err
	}
	f.p = p
	return nil
}

// checkHostPrefix refuses what cannot be a host's address on its link:
// the unspecified, loopback, multicast and limited broadcast addresses, a
// /0 link (every address would be a neighbour), and on links of /30 or
// wider the network and broadcast addresses, whose host part is all zeros
// or all ones (RFC 1122 §3.2.1.3; a /31 has no such addresses, RFC 3021).
func checkHostPrefix(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case a.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address, not a host's", a)
	case a.IsLoopback() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is not a unicast address for a link", a)
	case p.Bits() == 0:
		return fmt.Errorf("prefix length 0 would put every address on the link; give the link's, e.g. /24")
	}
	if p.Bits() > 30 {
		return nil
	}
	network := p.Masked().Addr()
	b := network.As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	switch a {
	case network:
		return fmt.Errorf("%s is the network address of %s, not a host's", a, p.Masked())
	case netip.AddrFrom4(b):
		return fmt.Errorf("%s is the broadcast address of %s, not a host's", a, p.Masked())
	}
	return nil
}

// transportOf is the port space an app kind listens in.
func transportOf(kind string) string {
	if kind == "udp-echo" {
		return "udp"
	}
	return "tcp"
}

// checkApps refuses two apps on one port of one transport, before anything
// is opened: the second would only fail once the tap is up.
func checkApps(apps appList) error {
	seen := map[string]appSpec{}
	for _, a := range apps {
		key := fmt.Sprintf("%s/%d", transportOf(a.Kind), a.Port)
		if prev, dup := seen[key]; dup {
			return fmt.Errorf("--app %s:%d and --app %s:%d both want %s port %d",
				prev.Kind, prev.Port, a.Kind, a.Port, transportOf(a.Kind), a.Port)
		}
		seen[key] = a
	}
	return nil
}

// checkPcapPath refuses a capture file whose folder does not exist, at
// flag time rather than once the tap is up.
func checkPcapPath(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("--pcap %s: folder %s: %v", path, dir, err)
	case !fi.IsDir():
		return fmt.Errorf("--pcap %s: %s is not a folder", path, dir)
	}
	return nil
}

// addrFlag parses a single IPv4 address.
type addrFlag struct{ a netip.Addr }

func (f *addrFlag) String() string {
	if !f.a.IsValid() {
		return ""
	}
	return f.a.String()
}

func (f *addrFlag) Set(v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		return fmt.Errorf("want an IPv4 address, e.g. 10.0.0.1")
	}
	f.a = a
	return nil
}

// levelFlag parses a zerolog level name.
type levelFlag struct{ l zerolog.Level }

func (f *levelFlag) String() string { return f.l.String() }

func (f *levelFlag) Set(v string) error {
	l, err := zerolog.ParseLevel(v)
	if err != nil || v == "" {
		return fmt.Errorf("want one of trace, debug, info, warn, error")
	}
	f.l = l
	return nil
}

// ipv4Flag is --ipv4: ADDR/PREFIX, or dhcp to ask a DHCP server for the
// address, gateway and DNS servers (RFC 2131).
type ipv4Flag struct {
	prefixFlag
	dhcp bool
}

func (f *ipv4Flag) String() string {
	if f.dhcp {
		return "dhcp"
	}
	return f.prefixFlag.String()
}

func (f *ipv4Flag) Set(v string) error {
	if v == "dhcp" {
		f.dhcp, f.p = true, netip.Prefix{}
		return nil
	}
	f.dhcp = false
	if err := f.prefixFlag.Set(v); err != nil {
		return fmt.Errorf("%v, or dhcp", err)
	}
	return nil
}

package main

import (
	"fmt"
	"net/netip"
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
		return fmt.Errorf("unknown app kind %q (known: echo, discard, source, crash, udp-echo)", kind)
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
	f.p = p
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

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
)

// ipv6Flag parses --ipv6: auto, none, or a static ADDR/PREFIX.
type ipv6Flag struct {
	mode actnet.IPv6Mode
	addr netip.Prefix
}

func (f *ipv6Flag) String() string {
	switch f.mode {
	case actnet.IPv6Off:
		return "none"
	case actnet.IPv6Static:
		return f.addr.String()
	}
	return "auto"
}

func (f *ipv6Flag) Set(v string) error {
	switch v {
	case "auto":
		*f = ipv6Flag{mode: actnet.IPv6Auto}
		return nil
	case "none", "off":
		*f = ipv6Flag{mode: actnet.IPv6Off}
		return nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return fmt.Errorf("want auto, none, or an IPv6 address with its prefix length, e.g. 2001:db8:1::2/64")
	}
	if err := checkHostPrefix6(p); err != nil {
		return err
	}
	*f = ipv6Flag{mode: actnet.IPv6Static, addr: p}
	return nil
}

// checkHostPrefix6 refuses what cannot be a static IPv6 address of a host
// on its link: IPv4 and IPv4-mapped addresses, the unspecified, loopback
// and multicast addresses, a link-local address (the stack always forms
// its own, RFC 4862 §5.3), a /0 link, and the Subnet-Router anycast
// address of the prefix (all-zero interface identifier, RFC 4291 §2.6.1;
// a /127 and a /128 have none, RFC 6164).
func checkHostPrefix6(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case a.Is4():
		return fmt.Errorf("%s is not an IPv6 address", a)
	case a.Is4In6():
		return fmt.Errorf("%s is an IPv4-mapped address, not a host's IPv6 address", a)
	case a.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address, not a host's", a)
	case a.IsLoopback() || a.IsMulticast():
		return fmt.Errorf("%s is not a unicast address for a link", a)
	case a.IsLinkLocalUnicast():
		return fmt.Errorf("%s is link-local: the stack forms its own link-local address; give a global or unique local one", a)
	case p.Bits() == 0:
		return fmt.Errorf("prefix length 0 would put every address on the link; give the link's, e.g. /64")
	case p.Bits() < 127 && p.Masked().Addr() == a:
		return fmt.Errorf("%s is the Subnet-Router anycast address of %s (RFC 4291 §2.6.1), not a host's", a, p.Masked())
	}
	return nil
}

// addr6Flag parses a single IPv6 address (--ipv6-gateway).
type addr6Flag struct{ a netip.Addr }

func (f *addr6Flag) String() string {
	if !f.a.IsValid() {
		return ""
	}
	return f.a.String()
}

func (f *addr6Flag) Set(v string) error {
	a, err := netip.ParseAddr(v)
	switch {
	case err != nil || !a.Is6() || a.Is4In6():
		return fmt.Errorf("want an IPv6 address, e.g. fe80::1 or 2001:db8:1::1")
	case a.Zone() != "":
		return fmt.Errorf("give %s without a zone: the gateway is on the tap's link", a.WithZone(""))
	case a.IsUnspecified() || a.IsLoopback() || a.IsMulticast():
		return fmt.Errorf("%s is not a router's unicast address", a)
	}
	f.a = a
	return nil
}

// iidFlag parses --ipv6-iid.
type iidFlag struct{ k actnet.IIDKind }

var iidNames = map[string]actnet.IIDKind{
	"eui64":  actnet.IIDEUI64,
	"stable": actnet.IIDStable,
	"random": actnet.IIDRandom,
}

func (f *iidFlag) String() string {
	for name, k := range iidNames {
		if k == f.k {
			return name
		}
	}
	return ""
}

func (f *iidFlag) Set(v string) error {
	k, ok := iidNames[v]
	if !ok {
		return fmt.Errorf("want eui64, stable or random")
	}
	f.k = k
	return nil
}

// checkIPv6 checks the IPv6 flags against one another, once all are
// parsed; set holds the names of the flags given on the command line.
func checkIPv6(v6 ipv6Flag, gw addr6Flag, set map[string]bool) error {
	if gw.a.IsValid() {
		switch {
		case v6.mode != actnet.IPv6Static:
			return fmt.Errorf("--ipv6-gateway needs a static --ipv6 ADDR/PREFIX (with --ipv6 %s the routers come from router advertisements)", v6.String())
		case gw.a == v6.addr.Addr():
			return fmt.Errorf("--ipv6-gateway %s is the stack's own address", gw.a)
		case !gw.a.IsLinkLocalUnicast() && !v6.addr.Contains(gw.a):
			return fmt.Errorf("--ipv6-gateway %s is neither link-local nor on the link %s", gw.a, v6.addr.Masked())
		}
	}
	if v6.mode == actnet.IPv6Off && set["ipv6-iid"] {
		return fmt.Errorf("--ipv6-iid has no use with --ipv6 none")
	}
	return nil
}

// ipv6Config is the stack's IPv6 configuration from the checked flags.
func ipv6Config(v6 ipv6Flag, gw addr6Flag, iid iidFlag) actnet.IPv6Config {
	return actnet.IPv6Config{Mode: v6.mode, Addr: v6.addr, Gateway: gw.a, IID: iid.k}
}

// minStableSecret is RFC 7217 §5's floor for the secret key: 128 bits.
const minStableSecret = 16

// loadStableSecret reads the RFC 7217 secret key from path, creating the
// file with 32 random bytes (mode 0600) when it does not exist: the secret
// must persist across restarts for the addresses to be stable (§5), and
// must not be guessable, so it is never derived from anything visible.
func loadStableSecret(path string) ([]byte, error) {
	secret, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret = make([]byte, 32)
		rand.Read(secret)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use its secret.
			return loadStableSecret(path)
		}
		if err != nil {
			return nil, fmt.Errorf("--ipv6-secret: creating %s: %v", path, err)
		}
		_, werr := f.Write(secret)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return nil, fmt.Errorf("--ipv6-secret: writing %s: %v", path, werr)
		}
		return secret, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--ipv6-secret: reading %s: %v", path, err)
	}
	if len(secret) < minStableSecret {
		return nil, fmt.Errorf("--ipv6-secret: %s holds %d bytes; RFC 7217 wants a secret of at least %d", path, len(secret), minStableSecret)
	}
	return secret, nil
}

// ipv6Waiter is the part of *actnet.Stack that logIPv6Ready uses
// (Stack.IPv6Addrs, Stack.WaitIPv6), so that its test can stand in for a
// stack. serve passes its Stack: the compiler checks the methods.
type ipv6Waiter interface {
	IPv6Addrs() []netip.Prefix
	WaitIPv6(ctx context.Context, global bool) (netip.Addr, error)
}

var _ ipv6Waiter = (*actnet.Stack)(nil)

// logIPv6Ready logs the stack's IPv6 addresses once duplicate address
// detection has let them be used: the first usable address (link-local,
// as a rule), then, if that was not a global one, the first global one (a
// SLAAC address once a router advertised a prefix, or the static one). It
// returns when that is logged or ctx ends (the stack's life), whichever
// comes first.
func logIPv6Ready(ctx context.Context, s ipv6Waiter, mode actnet.IPv6Mode, log zerolog.Logger) {
	if mode == actnet.IPv6Off {
		return
	}
	for _, global := range []bool{false, true} {
		a, err := s.WaitIPv6(ctx, global)
		if err != nil {
			// The stack's end (closed, failed) is logged where it is seen.
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, actnet.ErrStackFailed) {
				log.Warn().Err(err).Msg("waiting for a usable IPv6 address")
			}
			return
		}
		kind := "global"
		if a.IsLinkLocalUnicast() {
			kind = "link-local"
		}
		log.Info().Str("addr", a.String()).Str("addrs", prefixList(s.IPv6Addrs())).
			Msgf("IPv6 %s address usable (duplicate address detection passed)", kind)
		if !a.IsLinkLocalUnicast() {
			return
		}
	}
}

func prefixList(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/internal/syncbuf"
)

func TestCommandLine(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		output string // expected in stdout+stderr
	}{
		{nil, 2, "Usage"},
		{[]string{"help"}, 0, "actnet serve"},
		{[]string{"help", "serve"}, 0, "-app value"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"serve"}, 2, "--tap is required"},
		{[]string{"serve", "--tap", "t0"}, 2, "--ipv4 is required"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2"}, 2, "prefix length"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "fe80::1/64"}, 2, "not an IPv4 address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv4-gateway", "10.9.9.9"}, 2, "not on the link"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--mtu", "100"}, 2, "out of range"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--idle-timeout", "-1s"}, 2, "negative"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--mac", "ff:ff:ff:ff:ff:ff"}, 2, "not a unicast"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "echo"}, 2, "KIND:PORT"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "gopher:70"}, 2, "unknown app kind"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "echo:0"}, 2, "1 to 65535"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--tcp-cc", "vegas"}, 2, "want cubic or newreno"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--log-level", "loud"}, 2, "log level"},
		// Each of these is found before the tap is opened: t0 never is (the
		// test does not run as a tap owner, and a bad line must not need one).
		{[]string{"help", "foo"}, 2, `unknown command "foo"`},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--pcap", "/nonexistent-actnet-dir/x.pcap"}, 2, "folder /nonexistent-actnet-dir"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "echo:9000", "--app", "discard:9000"}, 2, "both want tcp port 9000"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.0/24"}, 2, "network address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.255/24"}, 2, "broadcast address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "0.0.0.0/0"}, 2, "unspecified address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/0"}, 2, "prefix length 0"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "224.0.0.1/24"}, 2, "not a unicast"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv4-gateway", "10.0.0.2"}, 2, "own address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--offload", "gso"}, 2, "want auto or off"},
		{[]string{"get", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--offload", "gso", "http://x/"}, 2, "want auto or off"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "dhcp", "--ipv4-gateway", "10.0.0.1"}, 2, "DHCP server's to give"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv4-fallback", "10.0.0.3/24"}, 2, "for --ipv4 dhcp"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "dhcp", "--ipv4-fallback", "dhcp"}, 2, "prefix length"},
		// IPv6 flags, all refused before the tap is opened.
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6-secret", "/tmp/x"}, 2, "--ipv6-iid stable only"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "sometimes"}, 2, "want auto, none, or an IPv6 address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8::2"}, 2, "prefix length"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8::2/129"}, 2, "prefix length"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "10.0.0.3/24"}, 2, "not an IPv6 address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "::ffff:10.0.0.3/120"}, 2, "IPv4-mapped"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "::/64"}, 2, "unspecified address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "::1/128"}, 2, "not a unicast"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "ff02::1/64"}, 2, "not a unicast"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "ff0e::2/64"}, 2, "not a unicast"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "fe80::2/64"}, 2, "link-local"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8::2/0"}, 2, "prefix length 0"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8:1::/64"}, 2, "Subnet-Router anycast"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6-gateway", "fe80::1"}, 2, "needs a static --ipv6"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "none", "--ipv6-gateway", "fe80::1"}, 2, "needs a static --ipv6"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8:1::2/64", "--ipv6-gateway", "2001:db8:2::1"}, 2, "neither link-local nor on the link 2001:db8:1::/64"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8:1::2/64", "--ipv6-gateway", "2001:db8:1::2"}, 2, "own address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8:1::2/64", "--ipv6-gateway", "ff02::2"}, 2, "not a router's unicast"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8:1::2/64", "--ipv6-gateway", "::"}, 2, "not a router's unicast"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8:1::2/64", "--ipv6-gateway", "fe80::1%eth0"}, 2, "without a zone"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "2001:db8:1::2/64", "--ipv6-gateway", "10.0.0.1"}, 2, "want an IPv6 address"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6-iid", "mac"}, 2, "want eui64, stable or random"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--ipv6", "none", "--ipv6-iid", "stable"}, 2, "no use with --ipv6 none"},
		{[]string{"help", "serve"}, 0, "-ipv6-gateway value"},
		// TLS flags, all refused before the tap is opened.
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "https:443", "--cert", "c.pem"}, 2, "--cert and --key go together"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "tls-echo:7443", "--key", "k.pem"}, 2, "--cert and --key go together"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "http:80", "--cert", "c.pem", "--key", "k.pem"}, 2, "of no use without an https or tls-echo app"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "https:443", "--cert", "/nonexistent-actnet/c.pem", "--key", "/nonexistent-actnet/k.pem"}, 2, "--cert/--key: loading /nonexistent-actnet/c.pem"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "https:443", "--app", "http:443"}, 2, "both want tcp port 443"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "gopher:70"}, 2, "known: crash, discard, echo, http, https, source, tls-echo, udp-echo"},
		{[]string{"help", "serve"}, 0, "-cert string"},
		{[]string{"demo", "--loss", "99"}, 2, "--loss 0..25"},
		{[]string{"demo", "--loss", "-1"}, 2, "--loss 0..25"},
		{[]string{"demo", "--loss", "NaN"}, 2, "--loss 0..25"},
		{[]string{"demo", "--count", "0"}, 2, "--count"},
		{[]string{"demo", "--count", "3", "--size", "100"}, 0, "echoed back"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		code := run(c.args, &out, &out)
		if code != c.code || !strings.Contains(out.String(), c.output) {
			t.Errorf("actnet %s: exit %d, want %d; output lacks %q:\n%s",
				strings.Join(c.args, " "), code, c.code, c.output, out.String())
		}
	}
}

// Addresses a host may hold pass the --ipv4 check: a /31's two addresses
// included (RFC 3021), and a /32.
func TestHostPrefixAccepted(t *testing.T) {
	for _, p := range []string{"10.0.0.2/24", "10.0.0.1/24", "10.0.0.254/24", "10.0.0.0/31", "10.0.0.1/31", "10.0.0.7/32", "192.168.1.0/23"} {
		if err := checkHostPrefix(netip.MustParsePrefix(p)); err != nil {
			t.Errorf("%s refused: %v", p, err)
		}
	}
}

// Static IPv6 addresses a host may hold pass the --ipv6 check: a unique
// local one, a /127's two addresses (RFC 6164), a /128.
func TestHostPrefix6Accepted(t *testing.T) {
	for _, p := range []string{"2001:db8:1::2/64", "2001:db8:1::ff:fe00:2/64", "fd00::1/8", "2001:db8::/127", "2001:db8::1/127", "2001:db8::/128", "2001:db8::7/48"} {
		if err := checkHostPrefix6(netip.MustParsePrefix(p)); err != nil {
			t.Errorf("%s refused: %v", p, err)
		}
	}
}

// The IPv6 flags become the stack's IPv6Config: auto by default, with
// EUI-64 identifiers; a static address with a link-local or on-link
// gateway.
func TestIPv6FlagsMakeTheConfig(t *testing.T) {
	parse := func(args ...string) (actnet.IPv6Config, error) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var (
			v6  ipv6Flag
			gw  addr6Flag
			iid iidFlag
		)
		fs.Var(&v6, "ipv6", "")
		fs.Var(&gw, "ipv6-gateway", "")
		fs.Var(&iid, "ipv6-iid", "")
		if err := fs.Parse(args); err != nil {
			return actnet.IPv6Config{}, err
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if err := checkIPv6(v6, gw, set); err != nil {
			return actnet.IPv6Config{}, err
		}
		return ipv6Config(v6, gw, iid), nil
	}
	cases := []struct {
		args []string
		want actnet.IPv6Config
	}{
		{nil, actnet.IPv6Config{Mode: actnet.IPv6Auto, IID: actnet.IIDEUI64}},
		{[]string{"--ipv6", "auto", "--ipv6-iid", "stable"}, actnet.IPv6Config{Mode: actnet.IPv6Auto, IID: actnet.IIDStable}},
		{[]string{"--ipv6-iid", "random"}, actnet.IPv6Config{Mode: actnet.IPv6Auto, IID: actnet.IIDRandom}},
		{[]string{"--ipv6", "none"}, actnet.IPv6Config{Mode: actnet.IPv6Off}},
		{[]string{"--ipv6", "2001:db8:1::2/64"}, actnet.IPv6Config{Mode: actnet.IPv6Static, Addr: netip.MustParsePrefix("2001:db8:1::2/64")}},
		{[]string{"--ipv6", "2001:db8:1::2/64", "--ipv6-gateway", "fe80::1"},
			actnet.IPv6Config{Mode: actnet.IPv6Static, Addr: netip.MustParsePrefix("2001:db8:1::2/64"), Gateway: netip.MustParseAddr("fe80::1")}},
		{[]string{"--ipv6", "2001:db8:1::2/64", "--ipv6-gateway", "2001:db8:1::1", "--ipv6-iid", "stable"},
			actnet.IPv6Config{Mode: actnet.IPv6Static, Addr: netip.MustParsePrefix("2001:db8:1::2/64"), Gateway: netip.MustParseAddr("2001:db8:1::1"), IID: actnet.IIDStable}},
	}
	for _, c := range cases {
		got, err := parse(c.args...)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: got %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
}

// fakeIPv6 stands for a stack's IPv6 family: its addresses become usable
// when the test says so.
type fakeIPv6 struct {
	linkLocal, global chan netip.Addr
	addrs             []netip.Prefix
}

func (f *fakeIPv6) IPv6Addrs() []netip.Prefix { return f.addrs }

func (f *fakeIPv6) WaitIPv6(ctx context.Context, global bool) (netip.Addr, error) {
	ch := f.linkLocal
	if global {
		ch = f.global
	}
	select {
	case a := <-ch:
		return a, nil
	case <-ctx.Done():
		return netip.Addr{}, ctx.Err()
	}
}

// serve logs the link-local address, then the global one, as each
// becomes usable, and its logger stops waiting with the stack's life.
func TestLogIPv6Ready(t *testing.T) {
	var buf syncbuf.Buffer
	log := zerolog.New(&buf)
	f := &fakeIPv6{linkLocal: make(chan netip.Addr, 1), global: make(chan netip.Addr, 1),
		addrs: []netip.Prefix{netip.MustParsePrefix("fe80::ff:fe00:2/64"), netip.MustParsePrefix("2001:db8:1::ff:fe00:2/64")}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); logIPv6Ready(ctx, f, actnet.IPv6Auto, log) }()
	f.linkLocal <- netip.MustParseAddr("fe80::ff:fe00:2")
	f.global <- netip.MustParseAddr("2001:db8:1::ff:fe00:2")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("logIPv6Ready did not return once both addresses were usable")
	}
	out := buf.String()
	if !strings.Contains(out, `"addr":"fe80::ff:fe00:2"`) || !strings.Contains(out, "IPv6 link-local address usable") ||
		!strings.Contains(out, `"addr":"2001:db8:1::ff:fe00:2"`) || !strings.Contains(out, "IPv6 global address usable") ||
		!strings.Contains(out, "2001:db8:1::ff:fe00:2/64") {
		t.Errorf("log lacks the addresses:\n%s", out)
	}
	cancel()

	// No router: the global address never comes, and the stack's end
	// (ctx) ends the wait without a warning.
	buf = syncbuf.Buffer{}
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { defer close(done); logIPv6Ready(ctx, f, actnet.IPv6Auto, log) }()
	f.linkLocal <- netip.MustParseAddr("fe80::ff:fe00:2")
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("logIPv6Ready outlived its context")
	}
	if out := buf.String(); strings.Contains(out, "warn") {
		t.Errorf("a warning at the stack's end:\n%s", out)
	}
}

// A capture file in an existing folder passes the --pcap check.
func TestPcapPathAccepted(t *testing.T) {
	if err := checkPcapPath(filepath.Join(t.TempDir(), "x.pcap")); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if err := checkPcapPath(filepath.Join(f, "x.pcap")); err == nil {
		t.Fatal("a capture path under a regular file was accepted")
	}
}

// The same port for a TCP and a UDP app is no conflict.
func TestAppsOnOnePortOfEachTransport(t *testing.T) {
	if err := checkApps(appList{{"echo", 7}, {"udp-echo", 7}}); err != nil {
		t.Fatal(err)
	}
}

// The demo's link drops frames in both directions, as --loss's help says.
func TestDemoLinkLosesEachWay(t *testing.T) {
	a, b := demoLink(25)
	defer a.Close()
	defer b.Close()
	frame := make([]byte, 60)
	copy(frame, b.HardwareAddr())
	for range 200 {
		a.Write(frame)
		b.Write(frame)
	}
	if ab, ba := a.FaultStats().Dropped, b.FaultStats().Dropped; ab == 0 || ba == 0 {
		t.Fatalf("frames dropped a→b %d, b→a %d: want some each way", ab, ba)
	}
}

// --ipv6-secret: the first start creates the secret file (private, 32
// bytes), later starts read the same secret, and a secret shorter than
// RFC 7217's 128 bits is refused.
func TestStableSecretPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	first, err := loadStableSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 32 || info.Mode().Perm() != 0o600 {
		t.Fatalf("created a %d-byte secret with mode %v, want 32 bytes, 0600", len(first), info.Mode().Perm())
	}
	again, err := loadStableSecret(path)
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("second load: %x, %v; want the first secret %x", again, err, first)
	}
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadStableSecret(short); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Fatalf("a 9-byte secret: %v, want refused", err)
	}
}

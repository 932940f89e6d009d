package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

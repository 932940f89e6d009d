package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/actnet/actnet/apps/happyeyeballs"
)

// The client commands' bad command lines exit 2 before the tap is opened.
func TestClientCommandLines(t *testing.T) {
	stack := []string{"--tap", "t0", "--ipv4", "10.0.0.2/24"}
	cases := []struct {
		args   []string
		code   int
		output string
	}{
		{[]string{"help", "resolve"}, 0, "-nameserver value"},
		{[]string{"help", "get"}, 0, "3 resolution failed"},
		{[]string{"help", "get"}, 0, "-ipv6-gateway value"},
		{[]string{"help"}, 0, "actnet get"},
		{[]string{"resolve", "svc.test"}, 2, "--tap is required"},
		{append([]string{"resolve"}, stack...), 2, "at least one NAME"},
		{append([]string{"resolve", "--nameserver", "ns.test"}, stack...), 2, "nameserver's IP address"},
		{append([]string{"resolve", "--nameserver", "10.0.0.1:0"}, stack...), 2, "nameserver's IP address"},
		{append([]string{"resolve", "--wait", "-1s"}, append(stack, "x.test")...), 2, "negative"},
		{append([]string{"resolve", "--ipv6", "fe80::2/64"}, append(stack, "x.test")...), 2, "link-local"},
		{append([]string{"get"}, stack...), 2, "give one URL"},
		{append([]string{"get"}, append(stack, "ftp://svc.test/")...), 2, "http:// or https://"},
		{append([]string{"get"}, append(stack, "http:///x")...), 2, "no host"},
		{append([]string{"get", "--ca", "/nonexistent-actnet/ca.pem"}, append(stack, "https://svc.test/")...), 2, "--ca"},
		{append([]string{"get", "--mtu", "100"}, append(stack, "http://svc.test/")...), 2, "out of range"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		code := run(c.args, &out, &out)
		if code != c.code || !strings.Contains(out.String(), c.output) {
			t.Errorf("actnet %s: exit %d, output %q; want exit %d and %q", strings.Join(c.args, " "), code, out.String(), c.code, c.output)
		}
	}
}

func TestNameserverFlag(t *testing.T) {
	var l nameserverList
	for _, v := range []string{"10.0.0.1", "[2001:db8::1]:5353", "::ffff:10.0.0.9"} {
		if err := l.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	want := nameserverList{netip.MustParseAddrPort("10.0.0.1:53"), netip.MustParseAddrPort("[2001:db8::1]:5353"), netip.MustParseAddrPort("10.0.0.9:53")}
	if fmt.Sprint(l) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", l, want)
	}
	none := func() []netip.Addr { return nil }
	if _, err := nameservers(nil, none); err == nil || !strings.Contains(err.Error(), "--nameserver") {
		t.Errorf("no servers: %v, want an error that says to pass --nameserver", err)
	}
	learnt := func() []netip.Addr {
		return []netip.Addr{netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("10.0.0.53")}
	}
	got, err := nameservers(nil, learnt)
	if wantLearnt := []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::53]:53"), netip.MustParseAddrPort("10.0.0.53:53")}; err != nil || !slices.Equal(got, wantLearnt) {
		t.Errorf("learnt servers: %v, %v; want %v", got, err, wantLearnt)
	}
	if got, _ := nameservers(l, learnt); !slices.Equal(got, []netip.AddrPort(l)) {
		t.Errorf("--nameserver given: %v, want those (%v), not the learnt ones", got, l)
	}
}

// Each failure of get is named by its step and has its exit code.
func TestGetClassifiesFailures(t *testing.T) {
	u, _ := url.Parse("https://svc.test:8443/f")
	cases := []struct {
		err, tlsErr error
		code        int
		text        string
	}{
		{&url.Error{Op: "Get", URL: u.String(), Err: &happyeyeballs.ResolveError{Host: "svc.test", A: errors.New("no such host")}}, nil, getResolve, "resolving svc.test failed: A: no such host"},
		{&url.Error{Op: "Get", URL: u.String(), Err: &happyeyeballs.ConnectError{Host: "svc.test:8443", Attempts: []happyeyeballs.Attempt{{Addr: netip.MustParseAddrPort("192.0.2.1:8443"), Err: errors.New("refused")}}}}, nil, getConnect, "192.0.2.1:8443: refused"},
		{errors.New("remote error"), errors.New("x509: certificate signed by unknown authority"), getTLS, "TLS handshake with svc.test:8443 failed: x509"},
		{errors.New("EOF"), nil, getTransfer, "fetching https://svc.test:8443/f failed"},
	}
	for _, c := range cases {
		code, text := classify(c.err, c.tlsErr, u)
		if code != c.code || !strings.Contains(text, c.text) {
			t.Errorf("classify(%v, %v) = %d %q, want %d and %q", c.err, c.tlsErr, code, text, c.code, c.text)
		}
	}
}

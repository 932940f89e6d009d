package main

import (
	"bytes"
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
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--mac", "ff:ff:ff:ff:ff:ff"}, 2, "not a unicast"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "echo"}, 2, "KIND:PORT"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "gopher:70"}, 2, "unknown app kind"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--app", "echo:0"}, 2, "1 to 65535"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--tcp-cc", "vegas"}, 2, "want cubic or newreno"},
		{[]string{"serve", "--tap", "t0", "--ipv4", "10.0.0.2/24", "--log-level", "loud"}, 2, "log level"},
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

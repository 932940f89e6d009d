package tests

import (
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 11's DHCP acceptance on a tap: Debian's dnsmasq serves DHCP in a
// namespace the test makes, on that tap only, and `actnet serve --ipv4
// dhcp` leases from it.
const (
	dhcpMAC    = "02:00:00:00:00:07" // the stack's MAC in these tests
	dhcpLeased = "10.77.0.100"       // the one address of dnsmasq's range
)

// dhcpBridgedLink makes br0 in n with Linux at 10.77.0.1/24, tap0 in it,
// and another host (a second namespace on a veth in the bridge) holding
// addr. It has to be another namespace: dnsmasq's unicast to an address
// of its own host would never leave that host.
func dhcpBridgedLink(t *testing.T, n *netns, addr string) {
	t.Helper()
	other := newNetns(t)
	n.mustRun("ip", "link", "add", "br0", "type", "bridge")
	n.mustRun("ip", "addr", "add", tapLinux+"/24", "dev", "br0")
	n.mustRun("ip", "link", "set", "br0", "up")
	n.mustRun("ip", "tuntap", "add", "tap0", "mode", "tap")
	n.mustRun("ip", "link", "set", "tap0", "master", "br0")
	n.mustRun("ip", "link", "set", "tap0", "up")
	n.mustRun("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	n.mustRun("ip", "link", "set", "veth0", "master", "br0")
	n.mustRun("ip", "link", "set", "veth0", "up")
	n.mustRun("ip", "link", "set", "veth1", "netns", other.name)
	other.mustRun("ip", "addr", "add", addr+"/24", "dev", "veth1")
	other.mustRun("ip", "link", "set", "veth1", "up")
}

// startDnsmasq runs dnsmasq as a DHCP server only (no DNS: port 0, no
// resolv.conf, no hosts file), bound to iface, leasing dhcpLeased for two
// minutes (dnsmasq's shortest lease) with T1 at 4 s so that the stack
// renews within the test; extra adds options.
func startDnsmasq(t *testing.T, n *netns, iface string, extra ...string) *process {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{
		"--no-daemon", "--conf-file=/dev/null", "--user=root",
		"--interface=" + iface, "--bind-interfaces", "--except-interface=lo",
		"--port=0", "--no-resolv", "--no-hosts", "--no-ping",
		"--dhcp-authoritative",
		"--dhcp-range=" + dhcpLeased + "," + dhcpLeased + ",255.255.255.0,2m",
		"--dhcp-option=option:T1,4",
		"--dhcp-option=option:dns-server," + tapLinux,
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"),
		"--pid-file=",
		"--log-dhcp", "--log-facility=-",
	}, extra...)
	p := n.start("dnsmasq", args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dnsmasq's log:\n%s", lastLines(p.stderr.String(), 40))
		}
	})
	eventually(t, 10*time.Second, "dnsmasq to start", func() bool {
		select {
		case <-p.done:
			t.Fatalf("dnsmasq exited: %v\n%s", p.err, p.stderr.String())
		default:
		}
		// It logs its DHCP range once its sockets are open.
		return strings.Contains(p.stderr.String(), "DHCP, IP range")
	})
	return p
}

// serveDHCP starts actnet serve --ipv4 dhcp on tap0 with the log at info.
func serveDHCP(t *testing.T, n *netns, args ...string) *process {
	t.Helper()
	all := append([]string{"serve", "--tap", "tap0", "--ipv4", "dhcp", "--ipv6", "none", "--mac", dhcpMAC,
		"--log-level", "info"}, args...)
	p := n.start(actnetBinary(t), all...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("actnet's log:\n%s", lastLines(p.stderr.String(), 40))
		}
	})
	return p
}

// waitLog waits until the stack's log matches re.
func waitLog(t *testing.T, stack *process, within time.Duration, what string, re *regexp.Regexp) {
	t.Helper()
	eventually(t, within, what, func() bool {
		stack.failIfExited(t)
		return re.MatchString(stack.stderr.String())
	})
}

// The stack leases its address, gateway and DNS server from dnsmasq,
// answers ping there, renews the lease at T1, and releases it on SIGINT.
func TestDHCPTapLeaseAndRenew(t *testing.T) {
	requireNetns(t, "dnsmasq", "ping")
	n := newNetns(t)
	tapLink(t, n)
	server := startDnsmasq(t, n, "tap0")
	stack := serveDHCP(t, n)
	// The console log orders fields by name.
	bound := regexp.MustCompile(`dhcp: lease bound addr=` + regexp.QuoteMeta(dhcpLeased) + `/24 dns=` +
		regexp.QuoteMeta(tapLinux) + ` gateway=` + regexp.QuoteMeta(tapLinux) + ` lease=2m0s`)
	waitLog(t, stack, 20*time.Second, "the lease in the log", bound)
	waitPingable(t, n, stack, dhcpLeased)
	waitLog(t, stack, 30*time.Second, "a renewal in the log",
		regexp.MustCompile(`dhcp: lease renewed addr=`+regexp.QuoteMeta(dhcpLeased)+`/24`))
	// Still reachable after the renewal.
	waitPingable(t, n, stack, dhcpLeased)
	if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("actnet exited %d\n%s", code, stack.stderr.String())
	}
	eventually(t, 5*time.Second, "dnsmasq to log the release", func() bool {
		return strings.Contains(server.stderr.String(), "DHCPRELEASE(tap0) "+dhcpLeased)
	})
}

// A Linux host already holds the address dnsmasq offers first (a static
// dhcp-host for the stack's MAC): the stack's ARP probe finds it, the
// stack declines it (RFC 2131 §4.4.1) and takes the next one.
func TestDHCPTapDeclinesAddressInUse(t *testing.T) {
	requireNetns(t, "dnsmasq", "ping")
	n := newNetns(t)
	const taken = "10.77.0.50"
	dhcpBridgedLink(t, n, taken)
	server := startDnsmasq(t, n, "br0", "--dhcp-host="+dhcpMAC+","+taken)
	stack := serveDHCP(t, n)
	waitLog(t, stack, 60*time.Second, "the second lease in the log",
		regexp.MustCompile(`dhcp: lease bound addr=`+regexp.QuoteMeta(dhcpLeased)+`/24`))
	log := stack.stderr.String()
	if !strings.Contains(log, "arp: probed address in use") || !strings.Contains(log, "addr="+taken) {
		t.Fatalf("no probe conflict for %s in the log:\n%s", taken, log)
	}
	if strings.Contains(log, "lease bound addr="+taken) {
		t.Fatalf("the stack bound the address in use:\n%s", log)
	}
	if !strings.Contains(server.stderr.String(), "DHCPDECLINE(br0) "+taken) {
		t.Fatalf("dnsmasq saw no DHCPDECLINE of %s:\n%s", taken, server.stderr.String())
	}
	waitPingable(t, n, stack, dhcpLeased)
	if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("actnet exited %d", code)
	}
	if !regexp.MustCompile(`\b1 probed addresses found in use`).MatchString(stack.stdout.String()) {
		t.Fatalf("the conflict was not counted:\n%s", stack.stdout.String())
	}
}

// With no DHCP server on the link, the stack takes --ipv4-fallback after
// 10 s and answers ping there.
func TestDHCPTapFallback(t *testing.T) {
	requireNetns(t, "ping")
	n := newNetns(t)
	tapLink(t, n)
	stack := serveDHCP(t, n, "--ipv4-fallback", tapStack+"/24")
	waitLog(t, stack, 20*time.Second, "the fallback in the log",
		regexp.MustCompile(`using the fallback address addr=`+regexp.QuoteMeta(tapStack)+`/24`))
	waitPingable(t, n, stack, tapStack)
	if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("actnet exited %d", code)
	}
}

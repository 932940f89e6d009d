package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 10's tap acceptance: the stack as an IPv6 host on a link where
// radvd advertises 2001:db8:1::/64. Each test makes its own namespaces;
// radvd runs inside them and is killed with them.
const (
	v6MAC       = "02:00:00:00:00:02"     // the stack's MAC in these tests
	v6Stack     = "2001:db8:1::ff:fe00:2" // its SLAAC address (EUI-64 of v6MAC)
	v6StackLL   = "fe80::ff:fe00:2"       // its link-local address
	v6Linux     = "2001:db8:1::1"         // Linux's end of the tap
	v6Prefix    = "2001:db8:1::/64"
	v6FormLimit = 20 * time.Second // issue 10: the address forms within 20 s
)

// requireRadvd skips the test unless it can run radvd in a namespace.
func requireRadvd(t *testing.T, tools ...string) {
	t.Helper()
	requireNetns(t, append([]string{"radvd", "sysctl", "ping", "python3"}, tools...)...)
}

// startRadvd runs radvd in n, advertising prefix on iface as its default
// router, every 3 to 4 s (and at once to a router solicitation). radvd
// wants IPv6 forwarding on: it is set in n only. It is killed when the test
// ends (and with the namespace).
func startRadvd(t *testing.T, n *netns, iface, prefix string) *process {
	t.Helper()
	n.mustRun("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	dir := t.TempDir()
	conf := filepath.Join(dir, "radvd.conf")
	config := `interface ` + iface + ` {
	AdvSendAdvert on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 4;
	AdvDefaultLifetime 600;
	prefix ` + prefix + ` {
		AdvOnLink on;
		AdvAutonomous on;
	};
};
`
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(dir, "radvd.pid")
	p := n.start("radvd", "-n", "-m", "stderr", "-C", conf, "-p", pidfile)
	eventually(t, 10*time.Second, "radvd to start", func() bool {
		select {
		case <-p.done:
			t.Fatalf("radvd exited: %v\n%s", p.err, p.stderr.String())
		default:
		}
		_, err := os.Stat(pidfile)
		return err == nil
	})
	return p
}

// v6Link makes tap0 in n with Linux at 10.77.0.1/24 and 2001:db8:1::1/64
// (no DAD on Linux's side: the stack is its only neighbour), and radvd
// advertising 2001:db8:1::/64 on it.
func v6Link(t *testing.T, n *netns) *process {
	t.Helper()
	n.mustRun("ip", "tuntap", "add", "tap0", "mode", "tap")
	n.mustRun("ip", "addr", "add", tapLinux+"/24", "dev", "tap0")
	n.mustRun("sysctl", "-qw", "net.ipv6.conf.tap0.accept_dad=0")
	n.mustRun("ip", "-6", "addr", "add", v6Linux+"/64", "dev", "tap0", "nodad")
	n.mustRun("ip", "link", "set", "tap0", "txqueuelen", "30000", "up")
	return startRadvd(t, n, "tap0", v6Prefix)
}

// serveV6 starts actnet serve on tap0 with the stack's MAC of these tests
// and the log at info (the IPv6 addresses and duplicates are logged
// there), and waits until Linux can ping its IPv4 address.
func serveV6(t *testing.T, n *netns, args ...string) *process {
	t.Helper()
	all := append([]string{"serve", "--tap", "tap0", "--ipv4", tapStack + "/24", "--mac", v6MAC, "--log-level", "info"}, args...)
	stack := n.start(actnetBinary(t), all...)
	waitReachable(t, n, stack)
	return stack
}

// waitPing6 waits until dst answers one ping -6 from n.
func waitPing6(t *testing.T, n *netns, stack *process, within time.Duration, dst string) {
	t.Helper()
	eventually(t, within, dst+" to answer ping -6", func() bool {
		stack.failIfExited(t)
		return n.cmd(t.Context(), "ping", "-6", "-c", "1", "-W", "1", dst).Run() == nil
	})
}

// ping6 runs count pings -6 of size bytes at interval and fails the test
// unless every one came back.
func ping6(t *testing.T, n *netns, dst string, count int, interval string, size int) {
	t.Helper()
	c := strconv.Itoa(count)
	out := n.mustRun("ping", "-6", "-c", c, "-i", interval, "-W", "2", "-s", strconv.Itoa(size), dst)
	if !strings.Contains(out, c+" received") || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping -6 -s %d %s lost packets:\n%s", size, dst, lastLines(out, 4))
	}
}

// v6Counter sums the printed counters of the IPv6 layers (any layer whose
// name says ipv6, icmpv6, ndp or mld) whose names match pattern. Names are
// matched, not fields, so that these tests read the counters by what they
// mean, whatever the IPv6 family calls its fields.
func v6Counter(printed, pattern string) uint64 {
	re := regexp.MustCompile("(?i)" + pattern)
	layer, sum := "", uint64(0)
	for _, line := range strings.Split(printed, "\n") {
		if name, ok := strings.CutSuffix(line, ":"); ok && !strings.HasPrefix(line, " ") {
			layer = strings.ToLower(name)
			continue
		}
		if !strings.Contains(layer, "6") && !strings.Contains(layer, "ndp") && !strings.Contains(layer, "mld") {
			continue
		}
		n, name, _ := strings.Cut(strings.TrimSpace(line), " ")
		if v, err := strconv.ParseUint(n, 10, 64); err == nil && re.MatchString(name) {
			sum += v
		}
	}
	return sum
}

// loggedUsable reports whether actnet serve logged addr as usable (its
// "IPv6 ... address usable" line, cmd/actnet's logIPv6Ready).
func loggedUsable(stack *process, addr string) bool {
	re := regexp.MustCompile(`address usable.*\baddr=` + regexp.QuoteMeta(addr) + `(\s|$)`)
	return re.MatchString(stack.stderr.String())
}

// TestTapIPv6RadvdServesLinux checks these tests' own set-up, with Linux
// as the host: radvd, run as startRadvd runs it, makes a Linux neighbour
// on a veth form its EUI-64 SLAAC address and take the default route, as
// the stack must on the tap.
func TestTapIPv6RadvdServesLinux(t *testing.T) {
	requireRadvd(t)
	router, host := newNetns(t), newNetns(t)
	router.mustRun("ip", "link", "add", "r0", "type", "veth", "peer", "name", "h0", "netns", host.name)
	router.mustRun("ip", "-6", "addr", "add", v6Linux+"/64", "dev", "r0", "nodad")
	router.mustRun("ip", "link", "set", "r0", "up")
	host.mustRun("ip", "link", "set", "h0", "address", "02:00:00:00:00:03", "up")
	startRadvd(t, router, "r0", v6Prefix)
	const hostAddr = "2001:db8:1::ff:fe00:3"
	eventually(t, v6FormLimit, "Linux to form "+hostAddr, func() bool {
		out, err := host.cmd(t.Context(), "ip", "-6", "addr", "show", "dev", "h0").Output()
		return err == nil && strings.Contains(string(out), hostAddr+"/64") && !strings.Contains(string(out), "tentative")
	})
	if out := host.mustRun("ip", "-6", "route", "show", "default"); !strings.Contains(out, "via fe80::") {
		t.Errorf("no default route from the RA:\n%s", out)
	}
	ping6(t, router, hostAddr, 10, "0.01", 56)
	ping6(t, router, hostAddr, 3, "0.05", 5000)
}

// TestTapIPv6SLAAC: the stack forms 2001:db8:1::ff:fe00:2 from radvd's
// prefix within 20 s, answers 100 of 100 quick pings at it and at its
// link-local address and a 5000-byte ping (fragmented both ways), echoes
// 1 MiB over TCP on 4 parallel connections and UDP datagrams of 1 to
// 20000 bytes, and the same listeners serve IPv4 alike.
func TestTapIPv6SLAAC(t *testing.T) {
	requireRadvd(t)
	ns := newNetns(t)
	v6Link(t, ns)
	actnetBinary(t) // built before the clock starts
	start := time.Now()
	stack := serveV6(t, ns, "--app", "echo:9000", "--app", "udp-echo:7")

	waitPing6(t, ns, stack, v6FormLimit-time.Since(start), v6Stack)
	t.Logf("%s answered %v after the stack started", v6Stack, time.Since(start).Round(time.Millisecond))
	eventually(t, 5*time.Second, "the log line of the global address", func() bool {
		return loggedUsable(stack, v6Stack)
	})

	t.Run("100 pings to the global address", func(t *testing.T) {
		ping6(t, ns, v6Stack, 100, "0.01", 56)
	})
	t.Run("100 pings to the link-local address", func(t *testing.T) {
		ping6(t, ns, v6StackLL+"%tap0", 100, "0.01", 56)
	})
	t.Run("5000-byte ping, fragmented both ways", func(t *testing.T) {
		ping6(t, ns, v6Stack, 10, "0.05", 5000)
	})
	t.Run("TCP echo of 1 MiB on 4 connections", func(t *testing.T) {
		peer(t, ns, 3*time.Minute, "echo", v6Stack, "9000", "1048576", "4")
	})
	t.Run("TCP echo over the link-local address", func(t *testing.T) {
		peer(t, ns, time.Minute, "echo", v6StackLL+"%tap0", "9000", "65536", "2")
	})
	t.Run("UDP echo of 1 to 20000 bytes", func(t *testing.T) {
		peer(t, ns, 3*time.Minute, "udpecho", v6Stack, "7", "1..1500/7", "1452", "1453", "1232", "1233", "1500..20000/97")
	})
	t.Run("the same listeners serve IPv4", func(t *testing.T) {
		peer(t, ns, time.Minute, "echo", tapStack, "9000", "1048576", "2")
		peer(t, ns, time.Minute, "udpecho", tapStack, "7", "1", "1472", "1473", "20000")
	})

	printed := stopAndCounters(t, stack)
	if n := v6Counter(printed, "echo repl(y|ies) sent"); n < 210 {
		t.Errorf("%d ICMPv6 echo replies counted, want at least 210:\n%s", n, printed)
	}
	if n := v6Counter(printed, "reassembled"); n == 0 {
		t.Errorf("no IPv6 reassembly counted after the 5000-byte pings:\n%s", printed)
	}
	if n := v6Counter(printed, "fragmented"); n == 0 {
		t.Errorf("no IPv6 fragmentation counted after the 5000-byte pings:\n%s", printed)
	}
}

// TestTapIPv6DADConflict: Linux holds the stack's would-be SLAAC address
// on the tap before the stack starts. The stack's duplicate address
// detection must find it: the stack logs and counts the duplicate and
// never sends from that address, while its link-local address works.
func TestTapIPv6DADConflict(t *testing.T) {
	requireRadvd(t, "tcpdump")
	ns := newNetns(t)
	v6Link(t, ns)
	ns.mustRun("ip", "-6", "addr", "add", v6Stack+"/64", "dev", "tap0", "nodad")
	capture := filepath.Join(t.TempDir(), "wire.pcap")
	dump := ns.start("tcpdump", "-i", "tap0", "-U", "-n", "-w", capture, "ip6")
	eventually(t, 10*time.Second, "tcpdump to listen", func() bool {
		return strings.Contains(dump.stderr.String(), "listening on")
	})
	stack := serveV6(t, ns, "--app", "echo:9000")

	waitPing6(t, ns, stack, v6FormLimit, v6StackLL+"%tap0")
	eventually(t, v6FormLimit, "the stack to log the duplicate "+v6Stack, func() bool {
		log := stack.stderr.String()
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(strings.ToLower(line), "duplicate") && strings.Contains(line, v6Stack) {
				return true
			}
		}
		return false
	})
	// The stack's link-local address still serves; what it sends now
	// must not come from the duplicate.
	peer(t, ns, time.Minute, "echo", v6StackLL+"%tap0", "9000", "65536", "1")
	ping6(t, ns, v6StackLL+"%tap0", 20, "0.01", 56)

	printed := stopAndCounters(t, stack)
	dump.stop(t, syscall.SIGINT, 10*time.Second)
	if loggedUsable(stack, v6Stack) {
		t.Errorf("the stack logged the duplicate %s as usable:\n%s", v6Stack, stack.stderr.String())
	}
	if n := v6Counter(printed, "duplicate"); n == 0 {
		t.Errorf("the duplicate address was not counted:\n%s", printed)
	}
	out, err := exec.Command("tcpdump", "-n", "-r", capture, "ether src "+v6MAC+" and ip6 src "+v6Stack).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	if sent := strings.TrimSpace(string(out)); regexp.MustCompile(`(?m)^\d`).MatchString(sent) {
		t.Errorf("the stack sent from the duplicate address %s:\n%s", v6Stack, firstLines(sent, 10))
	}
}

// v6probe runs testdata/v6probe.py in n: a crafted frame to the stack on
// tap0, and whether the stack answered.
func v6probe(t *testing.T, n *netns, dst, src, probe string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "testdata", "v6probe.py")
	out := n.mustRun("python3", script, "tap0", v6MAC, dst, src, probe)
	return strings.TrimSpace(out)
}

// TestTapIPv6HostileInput: an echo request in two overlapping fragments
// gets no reply (RFC 8200 §4.5), where the same request in fragments that
// do not overlap does; a neighbour solicitation with hop limit 64 is
// ignored and counted (RFC 4861 §7.1.1), where the same with 255 is
// answered.
func TestTapIPv6HostileInput(t *testing.T) {
	requireRadvd(t)
	ns := newNetns(t)
	v6Link(t, ns)
	stack := serveV6(t, ns)
	waitPing6(t, ns, stack, v6FormLimit, v6Stack)

	if got := v6probe(t, ns, v6Stack, v6Linux, "frags-ok"); got != "reply" {
		t.Fatalf("an echo request in two fragments that do not overlap: %s, want reply", got)
	}
	if got := v6probe(t, ns, v6Stack, v6Linux, "frags-overlap"); got != "none" {
		t.Errorf("an echo request in overlapping fragments: %s, want none", got)
	}
	if got := v6probe(t, ns, v6Stack, v6Linux, "ns255"); got != "reply" {
		t.Fatalf("a neighbour solicitation with hop limit 255: %s, want reply", got)
	}
	if got := v6probe(t, ns, v6Stack, v6Linux, "ns64"); got != "none" {
		t.Errorf("a neighbour solicitation with hop limit 64: %s, want none", got)
	}
	// The stack still serves after both.
	ping6(t, ns, v6Stack, 10, "0.01", 56)

	printed := stopAndCounters(t, stack)
	if n := v6Counter(printed, "overlap"); n == 0 {
		t.Errorf("the overlapping fragments were not counted:\n%s", printed)
	}
	if n := v6Counter(printed, "hop limit"); n == 0 {
		t.Errorf("the neighbour solicitation with hop limit 64 was not counted:\n%s", printed)
	}
}

// TestTapIPv6PathMTU: a peer namespace behind a router namespace, the
// router's link to the peer with MTU 1280 and the peer advertising MSS
// 1440 anyway. radvd on the router's tap advertises the prefix and the
// router as the default router: the stack must learn its route from the
// RA, and heed the router's Packet Too Big, for a 1 MiB TCP echo from the
// peer to complete.
func TestTapIPv6PathMTU(t *testing.T) {
	requireRadvd(t)
	router, peerNS := newNetns(t), newNetns(t)
	v6Link(t, router)
	router.mustRun("ip", "link", "add", "to-peer", "mtu", "1280", "type", "veth", "peer", "name", "to-router", "mtu", "1280")
	router.mustRun("ip", "link", "set", "to-router", "netns", peerNS.name)
	router.mustRun("ip", "-6", "addr", "add", "2001:db8:2::1/64", "dev", "to-peer", "nodad")
	router.mustRun("ip", "link", "set", "to-peer", "up")
	peerNS.mustRun("ip", "-6", "addr", "add", "2001:db8:2::2/64", "dev", "to-router", "nodad")
	peerNS.mustRun("ip", "link", "set", "to-router", "up")
	// The peer advertises MSS 1440 although its link carries 1280.
	peerNS.mustRun("ip", "-6", "route", "add", v6Prefix, "via", "2001:db8:2::1", "advmss", "1440")

	// The set-up itself: the peer reaches Linux's end of the tap through
	// the router, so a failure below is the stack's.
	eventually(t, 10*time.Second, "the peer to reach "+v6Linux+" through the router", func() bool {
		return peerNS.cmd(t.Context(), "ping", "-6", "-c", "1", "-W", "1", "-s", "1232", v6Linux).Run() == nil
	})

	stack := serveV6(t, router, "--app", "echo:9000")
	waitPing6(t, router, stack, v6FormLimit, v6Stack)
	// The peer's echo requests reach the stack only through the router,
	// and the replies only through the default router the RA named.
	waitPing6(t, peerNS, stack, 10*time.Second, v6Stack)

	out, err := peerNS.python(90*time.Second, tcpEchoMiB, v6Stack)
	t.Logf("peer: %s", strings.TrimSpace(out))
	if err != nil || !strings.Contains(out, "echoed 1048576 True") {
		printed := stopAndCounters(t, stack)
		t.Fatalf("1 MiB TCP echo across the 1280-byte link failed: %v\n%s\nactnet counters:\n%s", err, out, printed)
	}
	printed := stopAndCounters(t, stack)
	if n := v6Counter(printed, "too big"); n == 0 {
		t.Errorf("no Packet Too Big counted:\n%s", printed)
	}
}

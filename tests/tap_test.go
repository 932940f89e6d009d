package tests

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	tapStack = "10.77.0.2"
	tapLinux = "10.77.0.1"
)

// tapLink makes tap0 in n with Linux at tapLinux/24 and brings it up.
func tapLink(t testing.TB, n *netns) {
	t.Helper()
	n.mustRun("ip", "tuntap", "add", "tap0", "mode", "tap")
	n.mustRun("ip", "addr", "add", tapLinux+"/24", "dev", "tap0")
	n.mustRun("ip", "link", "set", "tap0", "up")
}

// waitReachable waits until the stack answers a ping at tapStack.
func waitReachable(t testing.TB, ns *netns, stack *process) {
	t.Helper()
	waitPingable(t, ns, stack, tapStack)
}

// waitPingable waits until addr answers a ping from n, and fails at once
// if the stack exits.
func waitPingable(t testing.TB, n *netns, stack *process, addr string) {
	t.Helper()
	eventually(t, 20*time.Second, addr+" to answer ping", func() bool {
		stack.failIfExited(t)
		return n.cmd(t.Context(), "ping", "-c", "1", "-W", "1", addr).Run() == nil
	})
}

// TestTapPing is issue 2's acceptance: 300 pings at 5 ms with no loss, the
// gratuitous ARP at start-up on the wire, a pcap of both directions, and a
// clean exit on SIGINT.
func TestTapPing(t *testing.T) {
	requireNetns(t, "ping", "tcpdump")
	bin := actnetBinary(t)
	ns := newNetns(t)
	dir := t.TempDir()
	tapLink(t, ns)

	capture := filepath.Join(dir, "wire.pcap")
	dump := ns.start("tcpdump", "-i", "tap0", "-U", "-n", "-w", capture)
	eventually(t, 10*time.Second, "tcpdump to listen", func() bool {
		return strings.Contains(dump.stderr.String(), "listening on")
	})

	stackPcap := filepath.Join(dir, "stack.pcap")
	stack := ns.start(bin, "serve", "--tap", "tap0", "--ipv4", tapStack+"/24", "--pcap", stackPcap, "--log-level", "warn")
	waitReachable(t, ns, stack)

	out := ns.mustRun("ping", "-c", "300", "-i", "0.005", "-W", "1", tapStack)
	if !strings.Contains(out, "300 received") || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping lost packets:\n%s", out)
	}

	if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("actnet exited %d on SIGINT; stderr:\n%s", code, stack.stderr.String())
	}
	if printedStats(t, stack.stdout.String()).ICMPv4.EchoRepliesSent == 0 {
		t.Errorf("actnet printed no counters at exit:\n%s", stack.stdout.String())
	}
	dump.stop(t, syscall.SIGINT, 10*time.Second)

	// The wire saw the stack announce itself: "who-has X tell X".
	wire := readPcap(t, capture)
	announce := regexp.MustCompile(`ARP, Request who-has ` + regexp.QuoteMeta(tapStack) + ` tell ` + regexp.QuoteMeta(tapStack))
	if !announce.MatchString(wire) {
		t.Errorf("no gratuitous ARP from the stack on the wire:\n%s", firstLines(wire, 20))
	}

	// The stack's own capture holds both directions.
	own := readPcap(t, stackPcap)
	if !strings.Contains(own, tapLinux+" > "+tapStack+": ICMP echo request") ||
		!strings.Contains(own, tapStack+" > "+tapLinux+": ICMP echo reply") {
		t.Errorf("stack pcap lacks a direction:\n%s", firstLines(own, 20))
	}
}

func readPcap(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("tcpdump", "-n", "-r", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v\n%s", path, err, out)
	}
	return string(out)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

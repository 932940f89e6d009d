package tests

import (
	"strings"
	"testing"
	"time"
)

const tcpEchoMiB = `
import socket, sys, threading
data = bytes((i * 31 + 7) & 0xff for i in range(1 << 20))
s = socket.create_connection((sys.argv[1], 9000), timeout=60)
print("mss", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG), flush=True)
def writer():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=writer, daemon=True).start()
got = bytearray()
while len(got) < len(data):
    b = s.recv(65536)
    if not b:
        break
    got += b
print("echoed", len(got), bytes(got) == data)
`

// TestTapPathMTU is issue 4's PMTU acceptance: the stack's tap namespace,
// a router namespace and a peer namespace, the far link with MTU 1280
// while the peer advertises MSS 1460 (a route's advmss). The stack's
// full-size segments carry DF, the router answers fragmentation needed,
// and the stack must heed it for a 1 MiB TCP echo to complete.
func TestTapPathMTU(t *testing.T) {
	requireNetns(t, "ping", "python3")
	ns, stack := tapStackNS(t, "--ipv4-gateway", tapLinux, "--app", "echo:9000")
	router, peer := newNetns(t), newNetns(t)

	// tap namespace ⇄ router: 10.76.0.0/24, MTU 1500.
	ns.mustRun("ip", "link", "add", "to-router", "type", "veth", "peer", "name", "to-tapns")
	ns.mustRun("ip", "link", "set", "to-tapns", "netns", router.name)
	ns.mustRun("ip", "addr", "add", "10.76.0.1/24", "dev", "to-router")
	ns.mustRun("ip", "link", "set", "to-router", "up")
	ns.mustRun("ip", "route", "add", "10.78.0.0/24", "via", "10.76.0.2")
	ns.mustRun("sysctl", "-qw", "net.ipv4.ip_forward=1")
	router.mustRun("ip", "addr", "add", "10.76.0.2/24", "dev", "to-tapns")
	router.mustRun("ip", "link", "set", "to-tapns", "up")
	router.mustRun("ip", "route", "add", "10.77.0.0/24", "via", "10.76.0.1")
	router.mustRun("sysctl", "-qw", "net.ipv4.ip_forward=1")

	// router ⇄ peer: 10.78.0.0/24, MTU 1280.
	router.mustRun("ip", "link", "add", "to-peer", "mtu", "1280", "type", "veth", "peer", "name", "to-router", "mtu", "1280")
	router.mustRun("ip", "link", "set", "to-router", "netns", peer.name)
	router.mustRun("ip", "addr", "add", "10.78.0.1/24", "dev", "to-peer")
	router.mustRun("ip", "link", "set", "to-peer", "up")
	peer.mustRun("ip", "addr", "add", "10.78.0.2/24", "dev", "to-router")
	peer.mustRun("ip", "link", "set", "to-router", "up")
	// The peer advertises MSS 1460 although its link carries 1280.
	peer.mustRun("ip", "route", "add", "10.77.0.0/16", "via", "10.78.0.1", "advmss", "1460")

	eventually(t, 10*time.Second, "the peer to reach the stack", func() bool {
		return peer.cmd(t.Context(), "ping", "-c", "1", "-W", "1", tapStack).Run() == nil
	})
	out, err := peer.python(90*time.Second, tcpEchoMiB, tapStack)
	t.Logf("peer: %s", strings.TrimSpace(out))
	if err != nil || !strings.Contains(out, "echoed 1048576 True") {
		printed := stopAndCounters(t, stack)
		t.Fatalf("1 MiB TCP echo across the 1280-byte link failed: %v\n%s\nactnet counters:\n%s", err, out, printed)
	}
	printed := stopAndCounters(t, stack)
	if n := printedStats(t, printed).IPv4.PathMTULowered; n == 0 {
		t.Errorf("the path MTU was never lowered:\n%s", printed)
	}
}

package tests

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// routedTopology is: actnet on tap0 in the router namespace (the router is
// its gateway), a veth pair from the router to a peer namespace, and the
// router forwarding between them. What the router does to forwarded
// packets (nftables) is up to the test.
type routedTopology struct {
	router, peer *netns
	stack        *process
}

const (
	peerRouterSide = "10.78.0.1"
	peerAddr       = "10.78.0.2"
)

func newRoutedTopology(t testing.TB, args ...string) *routedTopology {
	t.Helper()
	rt := &routedTopology{router: newNetns(t), peer: newNetns(t)}
	r, p := rt.router, rt.peer
	r.mustRun("ip", "link", "add", "r1", "type", "veth", "peer", "name", "p1", "netns", p.name)
	r.mustRun("ip", "addr", "add", peerRouterSide+"/24", "dev", "r1")
	r.mustRun("ip", "link", "set", "r1", "up")
	r.mustRun("sysctl", "-qw", "net.ipv4.ip_forward=1")
	p.mustRun("ip", "addr", "add", peerAddr+"/24", "dev", "p1")
	p.mustRun("ip", "link", "set", "p1", "up")
	p.mustRun("ip", "route", "add", "default", "via", peerRouterSide)
	rt.stack = serveOnTap(t, r, append([]string{"--ipv4-gateway", tapLinux}, args...)...)
	return rt
}

// dropForwarded makes the router drop percent of the packets it forwards,
// in both directions (this machine has no netem).
func (rt *routedTopology) dropForwarded(t testing.TB, percent int) {
	t.Helper()
	rules := `table inet impair {
	chain forward {
		type filter hook forward priority 0; policy accept;
		numgen random mod 100 < ` + itoa(percent) + ` counter drop
	}
}
`
	cmd := rt.router.cmd(t.Context(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
}

// droppedForwarded reads how many packets the impairment rule dropped.
func (rt *routedTopology) droppedForwarded(t testing.TB) string {
	t.Helper()
	return rt.router.mustRun("nft", "list", "chain", "inet", "impair", "forward")
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestTapTCPThroughLossyRouter(t *testing.T) {
	requireNetns(t, "python3", "nft", "sysctl")
	rt := newRoutedTopology(t, "--app", "echo:9000")
	rt.dropForwarded(t, 2)
	// Four parallel 4 MiB echoes from the far side of the router.
	peer(t, rt.peer, 5*time.Minute, "echo", tapStack, "9000", "4194304", "4")
	counters := rt.droppedForwarded(t)
	t.Logf("router: %s", counters)
	if !strings.Contains(counters, "packets") || strings.Contains(counters, "packets 0 ") {
		t.Errorf("the router dropped nothing; the test proved nothing:\n%s", counters)
	}
}

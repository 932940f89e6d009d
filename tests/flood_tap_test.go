package tests

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/actnet/actnet/internal/syncbuf"
)

// TestTapSYNFlood is issue 9's acceptance for the SYN flood: during a
// 10-second `hping3 --flood -S --rand-source` at `actnet serve`'s echo
// port, an established echo connection keeps answering (a line every
// 0.5 s, each within 2 s) and at least 9 of 10 new connections succeed
// (connect and echo a line within 5 s), both during the flood and right
// after it. Everything, hping3 included, runs inside the test's own
// namespace.
//
// Without a gateway, the random sources have no route back: their SYNs
// are dropped at once. With Linux as the gateway every SYN-ACK can be
// sent, the backlog fills, and SYN cookies carry the new connections.
func TestTapSYNFlood(t *testing.T) {
	requireNetns(t, "python3", "hping3", "timeout")
	t.Run("no route back", func(t *testing.T) { synFlood(t) })
	t.Run("via a gateway", func(t *testing.T) { synFlood(t, "--ipv4-gateway", tapLinux) })
}

func synFlood(t *testing.T, args ...string) {
	ns := newNetns(t)
	stack := serveOnTap(t, ns, append([]string{"--app", "echo:9000"}, args...)...)

	const flood = "10" // seconds
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "testdata", "peer.py")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The peer makes its established connection first, says so, and
	// waits for a line on standard input before it times anything: the
	// flood starts in between, so the connection is established before
	// it, as the acceptance says.
	peer := ns.cmd(ctx, "python3", script, "flood", tapStack, "9000", flood, "5")
	var peerOut syncbuf.Buffer
	peer.Stdout, peer.Stderr = &peerOut, &peerOut
	goAhead, err := peer.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	peerDone := make(chan error, 1)
	go func() { peerDone <- peer.Wait() }()
	select {
	case err := <-peerDone:
		t.Fatalf("the peer ended before the flood: %v\n%s", err, peerOut.String())
	case <-waitFor(ctx, func() bool { return strings.Contains(peerOut.String(), "established") }):
	}
	// timeout ends hping3 with SIGINT after 10 s (it prints its count
	// then); the namespace's clean-up kills it if that fails.
	hping := ns.start("timeout", "-s", "INT", "-k", "5", flood, "hping3", "--flood", "-S", "--rand-source", "-p", "9000", tapStack)
	io.WriteString(goAhead, "go\n")
	err = <-peerDone
	verdict := strings.TrimSpace(strings.TrimPrefix(peerOut.String(), "established\n"))

	select {
	case <-hping.done:
	case <-time.After(30 * time.Second):
		t.Fatal("hping3 did not stop")
	}
	if code := stack.stop(t, syscall.SIGINT, 20*time.Second); code != 0 {
		t.Fatalf("actnet exited %d; stderr:\n%s", code, stack.stderr.String())
	}
	st := printedStats(t, stack.stdout.String())
	t.Logf("peer: %s", verdict)
	t.Logf("hping3: %s", strings.TrimSpace(hping.stdout.String()+hping.stderr.String()))
	t.Logf("counters: %d frames received, %d dropped by the ingress ring; %d passive openings, %d established; "+
		"backlog full %d times, %d SYN cookies sent, %d received, %d invalid; %d SYNs dropped: no route back, %d half-open ended: next hop unresolved",
		st.Link.FramesReceived, st.Link.RingFull, st.TCP.PassiveOpens, st.TCP.Established,
		st.TCP.BacklogFull, st.TCP.CookiesSent, st.TCP.CookiesReceived, st.TCP.CookiesFailed,
		st.TCP.SYNNoRoute, st.TCP.HalfOpenUnreachable)
	if err != nil || !strings.HasPrefix(verdict, "ok") {
		t.Fatalf("peer flood: %v\n%s\nstack stderr:\n%s", err, verdict, lastLines(stack.stderr.String(), 20))
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor returns a channel closed once cond holds; it polls every 10 ms
// and gives up (leaving the channel open) when ctx ends.
func waitFor(ctx context.Context, cond func() bool) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for !cond() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		close(ch)
	}()
	return ch
}

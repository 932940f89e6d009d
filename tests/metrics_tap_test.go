package tests

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTapMetricsAndSIGUSR1 runs `actnet serve --metrics` on a tap in a
// namespace of its own, makes one TCP connection to it from Linux, then
// reads the counters three ways: a Prometheus scrape of /metrics (served
// on the namespace's loopback, the host's network, not the stack's), the
// SIGUSR1 print on stderr, and the exit print on stdout.
func TestTapMetricsAndSIGUSR1(t *testing.T) {
	requireNetns(t, "curl", "python3")
	ns := newNetns(t)
	tapLink(t, ns)
	const metrics = "127.0.0.1:9464"
	stack := ns.start(actnetBinary(t), "serve", "--tap", "tap0", "--ipv4", tapStack+"/24",
		"--app", "echo:9000", "--metrics", metrics)
	scrape := func() string {
		out, err := ns.cmd(t.Context(), "curl", "-sf", "http://"+metrics+"/metrics").Output()
		if err != nil {
			t.Fatalf("scraping /metrics: %v", err)
		}
		return string(out)
	}
	eventually(t, 10*time.Second, "/metrics to answer", func() bool {
		stack.failIfExited(t)
		return ns.cmd(t.Context(), "curl", "-sf", "-o", "/dev/null", "http://"+metrics+"/metrics").Run() == nil
	})

	peer(t, ns, time.Minute, "echo", tapStack, "9000", "4096")
	text := scrape()
	for _, want := range []string{
		"actnet_tcp_passive_connection_openings_total 1\n",
		"# HELP actnet_tcp_segments_received_total segments received\n",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, text)
		}
	}

	stack.cmd.Process.Signal(syscall.SIGUSR1)
	eventually(t, 5*time.Second, "the counters on stderr after SIGUSR1", func() bool {
		return strings.Contains(stack.stderr.String(), "tcp:\n    1 passive connection openings\n")
	})
	if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT\n%s", code, stack.stderr.String())
	}
	if out := stack.stdout.String(); printedStats(t, out).TCP.PassiveOpens != 1 {
		t.Errorf("exit print lacks the passive opening:\n%s", out)
	}
}

package tests

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveOnTap makes tap0 in ns with Linux at tapLinux/24, starts
// `actnet serve` on it at tapStack/24 with args, and waits until Linux can
// ping it.
func serveOnTap(t testing.TB, ns *netns, args ...string) *process {
	t.Helper()
	ns.mustRun("ip", "tuntap", "add", "tap0", "mode", "tap")
	ns.mustRun("ip", "addr", "add", tapLinux+"/24", "dev", "tap0")
	// A long queue on Linux's side of the tap, so bursts wait for actnet
	// instead of being dropped by the kernel when the machine is busy.
	ns.mustRun("ip", "link", "set", "tap0", "txqueuelen", "30000", "up")
	all := append([]string{"serve", "--tap", "tap0", "--ipv4", tapStack + "/24", "--log-level", "warn"}, args...)
	stack := ns.start(actnetBinary(t), all...)
	waitReachable(t, ns, stack)
	return stack
}

// peer runs a job of testdata/peer.py inside ns and fails the test unless
// it reports ok.
func peer(t testing.TB, ns *netns, within time.Duration, job string, args ...string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "testdata", "peer.py")
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	out, err := ns.cmd(ctx, "python3", append([]string{script, job}, args...)...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(text, "ok") {
		t.Fatalf("peer %s %v: %v\n%s", job, args, err, text)
	}
	return text
}

func TestTapTCP(t *testing.T) {
	requireNetns(t, "python3")
	ns := newNetns(t)
	stack := serveOnTap(t, ns, "--app", "echo:9000", "--app", "source:9001", "--app", "crash:9002", "--app", "discard:9003")

	t.Run("echo 4KiB 64KiB 16MiB", func(t *testing.T) {
		for _, size := range []string{"4096", "65536", "16777216"} {
			peer(t, ns, 3*time.Minute, "echo", tapStack, "9000", size)
		}
	})
	t.Run("200 parallel 20KB echoes", func(t *testing.T) {
		peer(t, ns, 3*time.Minute, "echo", tapStack, "9000", "20000", "200")
	})
	t.Run("source sends the count asked", func(t *testing.T) {
		for _, n := range []string{"0", "1", "100000", "5000000"} {
			peer(t, ns, time.Minute, "source", tapStack, "9001", n, `abcdefghijklmnopqrstuvwxyz0123456789\n`)
		}
	})
	t.Run("closed port refused", func(t *testing.T) {
		start := time.Now()
		peer(t, ns, 10*time.Second, "refused", tapStack, "9999")
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("refusal took %v", d)
		}
	})
	t.Run("half-close", func(t *testing.T) {
		peer(t, ns, time.Minute, "halfclose", tapStack, "9000")
	})
	t.Run("crash app is contained", func(t *testing.T) {
		peer(t, ns, time.Minute, "crash", tapStack, "9002", "9000")
	})
	t.Run("nc to discard", func(t *testing.T) {
		if _, err := exec.LookPath("nc"); err != nil {
			t.Skip("needs nc (netcat-openbsd)")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := ns.cmd(ctx, "nc", "-N", "-w", "5", tapStack, "9003")
		cmd.Stdin = strings.NewReader(strings.Repeat("discard me\n", 10000))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nc: %v: %s", err, out)
		}
	})

	if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("actnet exited %d; stderr:\n%s", code, stack.stderr.String())
	}
	out := stack.stdout.String()
	if printedStats(t, out).TCP.AppCrashes != 1 {
		t.Errorf("the crash was not counted:\n%s", out)
	}
}

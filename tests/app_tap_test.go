package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	exampleMu   sync.Mutex
	exampleBins = map[string]string{}
)

// exampleBinary builds examples/<name> once per test run.
func exampleBinary(t testing.TB, name string) string {
	t.Helper()
	exampleMu.Lock()
	defer exampleMu.Unlock()
	if bin, ok := exampleBins[name]; ok {
		return bin
	}
	dir, err := os.MkdirTemp("", "actnet-example-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	out, err := exec.Command("go", "build", "-o", bin, "github.com/actnet/actnet/examples/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build examples/%s: %v\n%s", name, err, out)
	}
	exampleBins[name] = bin
	return bin
}

// TestTapAppActorStreams is issue 8's acceptance on a tap: the app actor
// the README shows (examples/stream) streams 64 MiB to a Linux peer and
// ends the connection, by Close, by CloseWrite, and by Close with the app
// stopping itself at once. The peer reads to EOF without a reset and its
// SHA-256 of what it received is the one of the payload; the app hears
// Closed (unless it stopped itself), and no app crashed or stopped
// without closing.
func TestTapAppActorStreams(t *testing.T) {
	requireNetns(t, "ping", "python3")
	const size = 64 << 20
	bin := exampleBinary(t, "stream")
	for _, end := range []string{"close", "closewrite", "close-stop"} {
		t.Run(end, func(t *testing.T) {
			ns := newNetns(t)
			ns.mustRun("ip", "tuntap", "add", "tap0", "mode", "tap")
			ns.mustRun("ip", "addr", "add", tapLinux+"/24", "dev", "tap0")
			ns.mustRun("ip", "link", "set", "tap0", "txqueuelen", "30000", "up")
			stack := ns.start(bin, "--tap", "tap0", "--ipv4", tapStack+"/24", "--port", "9000",
				"--size", fmt.Sprint(size), "--end", end)
			waitReachable(t, ns, stack)
			serving := regexp.MustCompile(`stream: serving (\d+) bytes on \S+, SHA-256 ([0-9a-f]{64})`)
			var want []string
			eventually(t, 30*time.Second, "the stream program to serve", func() bool {
				want = serving.FindStringSubmatch(stack.stdout.String())
				return want != nil
			})

			got := strings.Fields(peer(t, ns, 3*time.Minute, "sha", tapStack, "9000"))
			if len(got) != 3 || got[1] != want[1] || got[2] != want[2] {
				t.Fatalf("peer received %v (count, SHA-256); the app sent %s bytes, SHA-256 %s", got[1:], want[1], want[2])
			}
			if end != "close-stop" {
				eventually(t, 30*time.Second, "the app to hear Closed", func() bool {
					return strings.Contains(stack.stdout.String(), "stream: connection ended: closed (err <nil>)")
				})
			}

			if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
				t.Fatalf("stream exited %d; stderr:\n%s", code, stack.stderr.String())
			}
			var counters []string
			for _, line := range strings.Split(stack.stdout.String(), "\n") {
				if strings.HasPrefix(line, "stream: connection ended:") && !strings.HasSuffix(line, "closed (err <nil>)") {
					t.Errorf("%s", line)
				}
				if !strings.HasPrefix(line, "stream:") {
					counters = append(counters, line)
				}
			}
			st := printedStats(t, strings.Join(counters, "\n")).TCP
			if st.AppGone != 0 || st.AppCrashes != 0 || st.Established != 1 {
				t.Errorf("%d connections established, %d apps stopped without closing, %d crashed; want 1, 0, 0",
					st.Established, st.AppGone, st.AppCrashes)
			}
		})
	}
}

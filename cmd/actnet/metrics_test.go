package main

import (
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/internal/stacktest"
)

// serveMetrics listens on the host's network and serves /metrics there.
func TestServeMetrics(t *testing.T) {
	a, _ := stacktest.PingedPair(t)
	addr, stop, err := serveMetrics("127.0.0.1:0", a.Stats, a.Gauges, actnet.DefaultLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "actnet_arp_requests_sent_total 1\n") {
		t.Errorf("/metrics:\n%s", body)
	}
	if _, _, err := serveMetrics("127.0.0.1:-1", a.Stats, a.Gauges, actnet.DefaultLogger(io.Discard)); err == nil {
		t.Error("a bad --metrics address was accepted")
	}
}

// writes hands each Write to a channel, so a test waits for a print
// instead of sleeping.
type writes chan string

func (w writes) Write(p []byte) (int, error) { w <- string(p); return len(p), nil }

// Each signal prints the counters once, as the exit print does.
func TestPrintStatsOnSignal(t *testing.T) {
	a, _ := stacktest.PingedPair(t)
	// A fixed snapshot: the stacks' ARP announcements go on meanwhile.
	st := a.Stats()
	stats := func() actnet.Stats { return st }
	sig, done, out := make(chan os.Signal), make(chan struct{}), make(writes, 1)
	finished := make(chan struct{})
	go func() { printStatsOn(sig, done, out, stats); close(finished) }()
	for range 2 {
		sig <- syscall.SIGUSR1
		select {
		case got := <-out:
			if want := st.String(); got != want || !strings.Contains(got, "icmpv4:\n    1 ICMP messages received\n") {
				t.Errorf("printed:\n%s\nwant:\n%s", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("nothing printed after the signal")
		}
	}
	close(done)
	<-finished
}

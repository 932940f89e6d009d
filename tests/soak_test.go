package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The soak's knobs. Loss is what the router drops of the packets it
// forwards, each way.
const (
	soakLoss        = 2 // percent
	soakSampleEvery = 5 * time.Second
	soakPrintEvery  = 30 * time.Second
	soakFlood       = 3 * time.Second
	// soakFloodSettle is how long after the flood its samples are left out
	// of the growth baseline (goroutines, connections, pool): the flood is
	// a transient, not the steady state the soak compares.
	soakFloodSettle = 15 * time.Second
	// soakMinWarmUp is the shortest warm-up: TIME-WAIT (60 s) fills
	// first. After it, the growth check compares the rest's two halves.
	soakMinWarmUp = 75 * time.Second
	// soakDrain bounds the wait, after the load, for every connection to
	// end (TIME-WAIT and a flood's half-open connections included).
	soakDrain = 100 * time.Second
	// soakMaxErrRate is the share of operations of one load that may fail:
	// loss slows TCP down, it must not break it.
	soakMaxErrRate = 0.01
)

// TestSoak is `make soak`: ACTNET_SOAK (a duration, e.g. 10m) of mixed load
// against `actnet serve` on a tap, through a router namespace that drops
// soakLoss% of the forwarded packets both ways (the stack's gateway is the
// router; the loads run in a peer namespace behind it). The loads: bulk in
// (discard), bulk out (source), bulk echo, request/response, connection
// churn (connect, echo, close), UDP echo with datagrams from 64 bytes to
// 20 KB (fragmented), and one 3-second hping3 SYN flood from random sources
// half-way. Every 30 s it prints the actnet process's RSS, goroutines, open
// TCP connections (and how many are half-open) and pool buffers
// outstanding, read from its --metrics endpoint every 5 s.
//
// It fails if a load fails more than soakMaxErrRate of its operations (or
// never succeeds), if UDP echoes come back far less often than the loss
// explains, if a gauge grows after warm-up, or if the stack does not come
// back to idle (no connection, the pool as at start) within soakDrain of
// the load's end. Growth: after a warm-up of a third of the run (at least
// soakMinWarmUp), the rest is cut in two halves, and the last half's
// largest sample (RSS, goroutines) or median (established connections,
// that is open minus half-open, and pool buffers: they follow the load's
// bursts) must not exceed the middle half's largest by more than a
// tolerance: RSS 10% + 8 MiB, goroutines 10% + 2, connections 10% + 8,
// pool buffers 10% + 32. Samples from the flood to soakFloodSettle after it
// are left out of the middle's maxima, except RSS's (the Go heap keeps a
// flood's high water mark for minutes). It runs only when ACTNET_SOAK is
// set, as root.
func TestSoak(t *testing.T) {
	spec := os.Getenv("ACTNET_SOAK")
	if spec == "" {
		t.Skip("set ACTNET_SOAK to a duration to run the soak (make soak SOAK=10m)")
	}
	total, err := time.ParseDuration(spec)
	if err != nil || total < time.Minute {
		t.Fatalf("ACTNET_SOAK=%q: want a duration of at least 1m", spec)
	}
	requireNetns(t, "nft", "sysctl", "hping3", "timeout")
	const metricsAddr = "127.0.0.1:9464"
	rt := newRoutedTopology(t, "--app", "echo:9000", "--app", "source:9001", "--app", "discard:9003",
		"--app", "udp-echo:9007", "--metrics", metricsAddr)
	rt.dropForwarded(t, soakLoss)

	scraper := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialIn(rt.router.name, network, addr, 5*time.Second)
		},
	}}
	var first soakSample
	eventually(t, 10*time.Second, "/metrics to answer", func() bool {
		first, err = scrapeSoak(scraper, "http://"+metricsAddr+"/metrics")
		return err == nil
	})

	loads := []*soakLoad{
		{name: "bulk-in", op: bulkIn, workers: 1},
		{name: "bulk-out", op: bulkOut, workers: 1},
		{name: "bulk-echo", op: bulkEcho, workers: 1},
		{name: "req-resp", op: reqResp, workers: 2},
		{name: "churn", op: churn, workers: 2, pause: 20 * time.Millisecond},
	}
	udp := &soakUDP{}
	ctx, cancel := context.WithTimeout(t.Context(), total)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range loads {
		for range l.workers {
			wg.Go(func() { l.run(ctx, rt.peer.name) })
		}
	}
	wg.Go(func() { udp.run(ctx, rt.peer.name) })

	start := time.Now()
	fmt.Printf("soak: %v of load through a router dropping %d%% each way; actnet at start: %s\n", total, soakLoss, first)
	floodAt := total / 2
	var floodStart, floodEnd time.Duration
	floodDone := make(chan string, 1)
	var samples []soakSample
	tick := time.NewTicker(soakSampleEvery)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-tick.C:
		}
		at := time.Since(start)
		if floodStart == 0 && at >= floodAt && running {
			floodStart = at
			go func() {
				cmd := rt.router.cmd(t.Context(), "timeout", "-s", "INT", "-k", "5", strconv.Itoa(int(soakFlood/time.Second)),
					"hping3", "--flood", "-S", "--rand-source", "-p", "9000", tapStack)
				out, _ := cmd.CombinedOutput()
				floodDone <- strings.Join(strings.Fields(string(out)), " ")
			}()
			fmt.Printf("soak %6s  SYN flood: hping3 --flood -S --rand-source at port 9000 for %v\n", round(at), soakFlood)
		}
		s, err := scrapeSoak(scraper, "http://"+metricsAddr+"/metrics")
		if err != nil {
			t.Errorf("at %v: scraping /metrics: %v", round(at), err)
			continue
		}
		s.at = at
		samples = append(samples, s)
		if len(samples)%int(soakPrintEvery/soakSampleEvery) == 0 || !running {
			fmt.Printf("soak %6s  %s  | %s\n", round(at), s, opsLine(loads, udp))
		}
	}
	cancel()
	wg.Wait()
	if floodStart != 0 {
		select {
		case out := <-floodDone:
			floodEnd = floodStart + soakFlood
			fmt.Printf("soak: hping3 said: %s\n", out)
		case <-time.After(30 * time.Second):
			t.Errorf("hping3 did not stop")
		}
	}
	fmt.Printf("soak: router: %s\n", strings.Join(strings.Fields(rt.droppedForwarded(t)), " "))

	// The loads.
	for _, l := range loads {
		ok, failed := l.ok.Load(), l.failed.Load()
		fmt.Printf("soak: %-9s %6d ok %4d failed%s\n", l.name, ok, failed, l.extra())
		switch {
		case ok == 0:
			t.Errorf("%s: no operation succeeded; errors: %s", l.name, l.errors())
		case float64(failed) > soakMaxErrRate*float64(ok+failed):
			t.Errorf("%s: %d of %d operations failed (more than %.0f%%); first errors: %s",
				l.name, failed, ok+failed, soakMaxErrRate*100, l.errors())
		}
	}
	udp.judge(t)

	// The gauges.
	if len(samples) < 3 {
		t.Fatalf("only %d samples", len(samples))
	}
	inFlood := func(s soakSample) bool {
		return floodStart != 0 && s.at >= floodStart && s.at <= floodEnd+soakFloodSettle
	}
	warm := max(total/3, soakMinWarmUp)
	lastFrom := warm + (total-warm)/2
	for _, g := range []struct {
		name       string
		value      func(soakSample) float64
		rel, abs   float64
		floodProne bool // leave the flood's samples out of the baseline
		median     bool // judge the last part's median, not its max
		unit       string
	}{
		{"RSS", func(s soakSample) float64 { return s.rss / (1 << 20) }, 0.10, 8, false, false, " MiB"},
		{"goroutines", func(s soakSample) float64 { return s.goroutines }, 0.10, 2, true, false, ""},
		{"established connections", func(s soakSample) float64 { return s.conns - s.halfOpen }, 0.10, 8, true, true, ""},
		{"pool buffers", func(s soakSample) float64 { return s.pool }, 0.10, 32, true, true, ""},
	} {
		mid := math.Inf(-1)
		var last []float64
		for _, s := range samples {
			switch v := g.value(s); {
			case s.at >= lastFrom:
				last = append(last, v)
			case s.at >= warm && !(g.floodProne && inFlood(s)):
				mid = max(mid, v)
			}
		}
		if math.IsInf(mid, 0) || len(last) == 0 {
			t.Errorf("%s: no samples to compare (middle %v, last %v)", g.name, mid, last)
			continue
		}
		slices.Sort(last)
		stat, what := last[len(last)-1], "max"
		if g.median {
			stat, what = last[len(last)/2], "median"
		}
		limit := mid*(1+g.rel) + g.abs
		verdict := "ok"
		if stat > limit {
			verdict = "GROWS"
			t.Errorf("%s grows after warm-up: the last part's %s %.1f%s is above the middle part's max %.1f%s + %.0f%% + %.0f%s",
				g.name, what, stat, g.unit, mid, g.unit, g.rel*100, g.abs, g.unit)
		}
		fmt.Printf("soak: %-23s middle max %7.1f%s, last %-6s %7.1f%s, limit %7.1f%s: %s\n",
			g.name, mid, g.unit, what, stat, g.unit, limit, g.unit, verdict)
	}

	// Idle again: every connection ends (TIME-WAIT lasts 2 MSL, 60 s) and
	// the pool's buffers come back.
	drainStart := time.Now()
	var idle soakSample
	drained := func() bool {
		idle, err = scrapeSoak(scraper, "http://"+metricsAddr+"/metrics")
		return err == nil && idle.conns == 0 && idle.pool <= first.pool+16
	}
	for !drained() && time.Since(drainStart) < soakDrain {
		time.Sleep(soakSampleEvery)
	}
	fmt.Printf("soak: idle %v after the load: %s\n", round(time.Since(drainStart)), idle)
	if idle.conns != 0 || idle.pool > first.pool+16 {
		t.Errorf("%v after the load stopped, %.0f connections are still open and %.0f pool buffers out (%.0f at start)",
			soakDrain, idle.conns, idle.pool, first.pool)
	}
	if t.Failed() {
		fmt.Println("soak: FAIL")
	} else {
		fmt.Println("soak: PASS: no load failed beyond its tolerance and no gauge grew after warm-up")
	}
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }

// dialIn dials from inside the network namespace ns: a goroutine locks its
// thread, moves it into ns, dials and moves it back (the socket stays in
// ns). Should the way back fail, the goroutine ends locked, which ends its
// thread, so no other goroutine ever runs in ns.
func dialIn(ns, network, addr string, timeout time.Duration) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer home.Close()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		c, err := net.DialTimeout(network, addr, timeout)
		ch <- result{c, err}
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	r := <-ch
	return r.c, r.err
}

// soakSample is one scrape of actnet's /metrics.
type soakSample struct {
	at                                     time.Duration
	rss, goroutines, conns, halfOpen, pool float64
}

func (s soakSample) String() string {
	return fmt.Sprintf("rss %6.1f MiB  goroutines %4.0f  conns %5.0f (half-open %4.0f)  pool %5.0f",
		s.rss/(1<<20), s.goroutines, s.conns, s.halfOpen, s.pool)
}

func scrapeSoak(c *http.Client, url string) (soakSample, error) {
	resp, err := c.Get(url)
	if err != nil {
		return soakSample{}, err
	}
	defer resp.Body.Close()
	want := map[string]*float64{}
	var s soakSample
	want["process_resident_memory_bytes"] = &s.rss
	want["go_goroutines"] = &s.goroutines
	want["actnet_tcp_open_connections"] = &s.conns
	want["actnet_tcp_half_open_connections"] = &s.halfOpen
	want["actnet_pool_buffers_outstanding"] = &s.pool
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if p := want[name]; ok && p != nil {
			if *p, err = strconv.ParseFloat(value, 64); err != nil {
				return s, fmt.Errorf("%s: %v", name, err)
			}
			delete(want, name)
		}
	}
	if len(want) > 0 {
		return s, fmt.Errorf("/metrics lacks %d of the gauges (%v)", len(want), want)
	}
	return s, sc.Err()
}

// soakLoad is one TCP load: workers each repeat op until the soak ends.
type soakLoad struct {
	name    string
	op      func(ctx context.Context, ns string, l *soakLoad) error
	workers int
	pause   time.Duration

	ok, failed, bytes, requests atomic.Int64
	mu                          sync.Mutex
	errs                        []string
}

func (l *soakLoad) run(ctx context.Context, ns string) {
	for ctx.Err() == nil {
		err := l.op(ctx, ns, l)
		switch {
		case ctx.Err() != nil:
			// Cut short by the soak's end: neither a success nor a failure.
		case err == nil:
			l.ok.Add(1)
		default:
			l.failed.Add(1)
			l.mu.Lock()
			if len(l.errs) < 5 {
				l.errs = append(l.errs, err.Error())
			}
			l.mu.Unlock()
		}
		if l.pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(l.pause):
			}
		}
	}
}

func (l *soakLoad) errors() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.errs, "; ")
}

func (l *soakLoad) extra() string {
	s := ""
	if b := l.bytes.Load(); b > 0 {
		s += fmt.Sprintf(", %d MiB", b>>20)
	}
	if r := l.requests.Load(); r > 0 {
		s += fmt.Sprintf(", %d requests", r)
	}
	return s
}

func opsLine(loads []*soakLoad, udp *soakUDP) string {
	var b strings.Builder
	for _, l := range loads {
		fmt.Fprintf(&b, "%s %d/%d ", l.name, l.ok.Load(), l.failed.Load())
	}
	fmt.Fprintf(&b, "udp %d/%d", udp.answered[0].Load()+udp.answered[1].Load(), udp.sent[0].Load()+udp.sent[1].Load())
	return b.String()
}

// soakConn dials the stack from ns with a deadline for the whole
// operation; the soak's end cuts it short.
func soakConn(ctx context.Context, ns string, port int, within time.Duration) (*net.TCPConn, func(), error) {
	c, err := dialIn(ns, "tcp", net.JoinHostPort(tapStack, strconv.Itoa(port)), within)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Now().Add(within))
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	return c.(*net.TCPConn), func() { stop(); c.Close() }, nil
}

// soakPayload fills b from a seeded stream, so the echo can be checked.
func soakPayload(seed uint64, b []byte) {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), 's', 'o', 'a', 'k'})
	r.Read(b)
}

var soakSeed atomic.Uint64

// bulkIn sends 2 MiB to the discard app, half-closes and waits for the
// app's close.
func bulkIn(ctx context.Context, ns string, l *soakLoad) error {
	c, done, err := soakConn(ctx, ns, 9003, 2*time.Minute)
	if err != nil {
		return err
	}
	defer done()
	buf := make([]byte, 2<<20)
	soakPayload(soakSeed.Add(1), buf)
	if _, err := c.Write(buf); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	c.CloseWrite()
	if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
		return fmt.Errorf("waiting for the close: %d bytes, %v", n, err)
	}
	l.bytes.Add(int64(len(buf)))
	return nil
}

// bulkOut asks the source app for 2 MiB and counts what arrives before its
// close.
func bulkOut(ctx context.Context, ns string, l *soakLoad) error {
	c, done, err := soakConn(ctx, ns, 9001, 2*time.Minute)
	if err != nil {
		return err
	}
	defer done()
	const size = 2 << 20
	if _, err := c.Write([]byte(strconv.Itoa(size) + "\n")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != size {
		return fmt.Errorf("source: %d of %d bytes, %v", n, size, err)
	}
	l.bytes.Add(n)
	return nil
}

// bulkEcho sends 1 MiB to the echo app while reading it back, and checks
// it.
func bulkEcho(ctx context.Context, ns string, l *soakLoad) error {
	c, done, err := soakConn(ctx, ns, 9000, 2*time.Minute)
	if err != nil {
		return err
	}
	defer done()
	out := make([]byte, 1<<20)
	soakPayload(soakSeed.Add(1), out)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(out)
		c.CloseWrite()
		werr <- err
	}()
	in, err := io.ReadAll(c)
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err != nil || !bytes.Equal(in, out) {
		return fmt.Errorf("echo: %d of %d bytes back (equal %v), %v", len(in), len(out), bytes.Equal(in, out), err)
	}
	l.bytes.Add(int64(len(out)))
	return nil
}

// reqResp sends 200 requests of 64 bytes on one connection, each after
// the previous answer came back whole.
func reqResp(ctx context.Context, ns string, l *soakLoad) error {
	c, done, err := soakConn(ctx, ns, 9000, time.Minute)
	if err != nil {
		return err
	}
	defer done()
	req, resp := make([]byte, 64), make([]byte, 64)
	for i := range 200 {
		binary.BigEndian.PutUint64(req, uint64(i))
		if _, err := c.Write(req); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if _, err := io.ReadFull(c, resp); err != nil || !bytes.Equal(req, resp) {
			return fmt.Errorf("response %d: %v", i, err)
		}
		l.requests.Add(1)
	}
	return nil
}

// churn connects, echoes 100 bytes and closes.
func churn(ctx context.Context, ns string, _ *soakLoad) error {
	c, done, err := soakConn(ctx, ns, 9000, 30*time.Second)
	if err != nil {
		return err
	}
	defer done()
	msg, back := make([]byte, 100), make([]byte, 100)
	soakPayload(soakSeed.Add(1), msg)
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(msg, back) {
		return fmt.Errorf("echo: %v", err)
	}
	return nil
}

// soakUDP echoes datagrams off the udp-echo app: class 0 fits one frame
// (64 to 1,400 bytes), class 1 is fragmented (4 to 20 KB). Each waits up to
// a second for its answer; answers are checked byte for byte.
type soakUDP struct {
	sent, answered, frags [2]atomic.Int64
	bad, errs             atomic.Int64
	firstErr              atomic.Value
}

var soakUDPSizes = []int{64, 512, 1400, 4000, 8000, 12000, 20000}

func (u *soakUDP) run(ctx context.Context, ns string) {
	c, err := dialIn(ns, "udp", net.JoinHostPort(tapStack, "9007"), 5*time.Second)
	if err != nil {
		u.errs.Add(1)
		u.firstErr.CompareAndSwap(nil, err.Error())
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 65536)
	for seq := uint64(0); ctx.Err() == nil; seq++ {
		size := soakUDPSizes[seq%uint64(len(soakUDPSizes))]
		class := 0
		if size > 1472 {
			class = 1
		}
		msg := make([]byte, size)
		soakPayload(seq, msg)
		binary.BigEndian.PutUint64(msg, seq)
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(msg); err != nil {
			if ctx.Err() == nil {
				u.errs.Add(1)
				u.firstErr.CompareAndSwap(nil, err.Error())
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		u.sent[class].Add(1)
		u.frags[class].Add(int64((size + 8 + 1479) / 1480))
		for {
			n, err := c.Read(buf)
			if err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					if ctx.Err() == nil {
						u.errs.Add(1)
						u.firstErr.CompareAndSwap(nil, err.Error())
					}
				}
				break
			}
			if n < 8 || binary.BigEndian.Uint64(buf) != seq {
				continue // a late answer to an earlier datagram
			}
			if !bytes.Equal(buf[:n], msg) {
				u.bad.Add(1)
			} else {
				u.answered[class].Add(1)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// judge fails the soak if UDP answers came back much less often than
// the router's loss explains (each fragment crosses it twice), if any came
// back corrupted, or on socket errors.
func (u *soakUDP) judge(t *testing.T) {
	keep := 1 - soakLoss/100.0
	for class, name := range []string{"single-frame", "fragmented"} {
		sent, answered := u.sent[class].Load(), u.answered[class].Load()
		if sent == 0 {
			t.Errorf("udp %s: nothing sent", name)
			continue
		}
		frags := float64(u.frags[class].Load()) / float64(sent)
		expect := math.Pow(keep, 2*frags)
		got := float64(answered) / float64(sent)
		fmt.Printf("soak: udp %-12s %6d sent %6d answered (%.1f%%; the loss alone explains %.1f%%)\n",
			name, sent, answered, 100*got, 100*expect)
		if got < expect/2 {
			t.Errorf("udp %s: %.1f%% answered, under half of the %.1f%% the loss explains", name, 100*got, 100*expect)
		}
	}
	if n := u.bad.Load(); n > 0 {
		t.Errorf("udp: %d answers differ from what was sent", n)
	}
	if n := u.errs.Load(); n > 2 {
		t.Errorf("udp: %d socket errors, the first: %v", n, u.firstErr.Load())
	}
}

// Command loadgen drives one load against one benchmark server and prints
// a report.Result as JSON on stdout. The runner starts it inside the
// server's network namespace (ip netns exec), on the Linux side of the tap
// or veth. Every load is bounded by a duration and a count, and loadgen
// gives up by itself after -timeout, reporting what it had, so a stalled
// server shows up as a failed row instead of a hung benchmark.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/actnet/actnet/bench/internal/report"
	"github.com/actnet/actnet/bench/internal/servers"
)

type config struct {
	load                          string
	host                          string
	echo, discard, source         int
	duration, timeout, dialTimout time.Duration
	maxCount                      int64
	conns, dialers                int
	serverPID                     int
	slab                          bool
	sources                       []net.IP // local addresses the idle load dials from, in turn
}

func main() {
	var c config
	flag.StringVar(&c.load, "load", "", "load to run: ready, "+strings.Join(report.Loads, ", ")+
		" (an IPv6 load is its IPv4 twin; -host picks the family)")
	flag.StringVar(&c.host, "host", "10.0.0.2", "server address, IPv4 or IPv6")
	flag.IntVar(&c.echo, "echo", 9000, "echo port")
	flag.IntVar(&c.discard, "discard", 9001, "discard port")
	flag.IntVar(&c.source, "source", 9002, "source port")
	flag.DurationVar(&c.duration, "duration", 3*time.Second, "how long bulk, rr and crr run")
	flag.Int64Var(&c.maxCount, "max-count", 1_000_000, "most transactions or connections rr and crr make")
	flag.IntVar(&c.conns, "conns", 100000, "connections the idle load holds open")
	flag.IntVar(&c.dialers, "dialers", 64, "concurrent dialers for the idle load")
	flag.IntVar(&c.serverPID, "server-pid", 0, "server process whose RSS the idle load reads, and whose CPU time the bulk loads read (each summed over it and its descendants)")
	flag.BoolVar(&c.slab, "slab", false, "idle load: also report the kernel's Slab growth (for Linux as the server)")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up after this long, reporting the load as failed")
	flag.DurationVar(&c.dialTimout, "dial-timeout", 5*time.Second, "timeout of each connect")
	sources := flag.String("sources", "", "idle load: comma-separated local addresses to dial from in turn, "+
		"so that more connections fit than one address has ports")
	flag.Parse()
	for _, a := range strings.Split(*sources, ",") {
		if a == "" {
			continue
		}
		ip := net.ParseIP(a)
		if ip == nil {
			fmt.Fprintf(os.Stderr, "loadgen: bad -sources address %q\n", a)
			os.Exit(2)
		}
		c.sources = append(c.sources, ip)
	}

	raiseFileLimit(c.conns)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	base, _ := report.IPv6(c.load)
	run := map[string]func(context.Context, config) report.Result{
		"ready":        ready,
		report.BulkIn:  bulkIn,
		report.BulkOut: bulkOut,
		report.RR:      rr,
		report.CRR:     crr,
		report.Idle:    idle,
		"idle-hold":    idleHold,
	}[base]
	if run == nil {
		fmt.Fprintf(os.Stderr, "loadgen: unknown -load %q\n", c.load)
		os.Exit(2)
	}
	// The load runs in a goroutine so that a Read or Write stuck past every
	// deadline (which should not happen, but this is what we measure) still
	// cannot keep loadgen from reporting.
	done := make(chan report.Result, 1)
	go func() { done <- run(ctx, c) }()
	var res report.Result
	select {
	case res = <-done:
	case <-time.After(c.timeout + 5*time.Second):
		res = report.Result{Error: fmt.Sprintf("no answer within %v", c.timeout)}
	}
	res.Load = c.load
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if res.Error != "" {
		os.Exit(1)
	}
}

// raiseFileLimit lets the idle load hold conns sockets: the soft limit
// goes to the hard one, and as root (the runner's case) both go past
// conns when the hard limit is lower.
func raiseFileLimit(conns int) {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	if want := uint64(conns) + 1024; l.Max < want {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
			return
		}
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func (c config) addr(port int) string { return net.JoinHostPort(c.host, strconv.Itoa(port)) }

// network is tcp4 or tcp6, after the family of -host, so that a load
// never falls back from one family to the other.
func (c config) network() string {
	if a, err := netip.ParseAddr(c.host); err == nil && a.Is6() && !a.Is4In6() {
		return "tcp6"
	}
	return "tcp4"
}

func (c config) dial(ctx context.Context, port int) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: c.dialTimout}
	conn, err := d.DialContext(ctx, c.network(), c.addr(port))
	if err != nil {
		return nil, err
	}
	return conn.(*net.TCPConn), nil
}

// dialIdle opens the idle load's connection i to echo: from the i-th of
// the -sources addresses in turn (one address has about 64,000 ports for
// one server port), and without keep-alive probes, which Go's Dialer
// sends after 15 s and which would make the idle connections busy.
func (c config) dialIdle(ctx context.Context, i int) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: c.dialTimout, KeepAlive: -1}
	if len(c.sources) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: c.sources[i%len(c.sources)]}
	}
	conn, err := d.DialContext(ctx, c.network(), c.addr(c.echo))
	if err != nil {
		return nil, err
	}
	return conn.(*net.TCPConn), nil
}

// deadline is when a single blocking call must give up: the load's own
// context deadline.
func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// ready waits until the server answers a 1-byte echo.
func ready(ctx context.Context, c config) report.Result {
	var last error
	for ctx.Err() == nil {
		conn, err := c.dial(ctx, c.echo)
		if err == nil {
			err = echoOnce(ctx, conn)
			conn.Close()
			if err == nil {
				return report.Result{}
			}
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return report.Result{Error: fmt.Sprintf("server not ready: %v", last)}
}

func echoOnce(ctx context.Context, conn net.Conn) error {
	conn.SetDeadline(deadline(ctx))
	var b [1]byte
	b[0] = 'x'
	if _, err := conn.Write(b[:]); err != nil {
		return err
	}
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return err
	}
	if b[0] != 'x' {
		return fmt.Errorf("echo returned %q, want %q", b[0], 'x')
	}
	return nil
}

// bulkIn writes to the discard server for the duration, then half-closes
// and waits for the server's FIN. The discard server closes only after it
// has read everything, so the elapsed time covers delivery of every byte,
// not just their copy into the client's send buffer.
func bulkIn(ctx context.Context, c config) report.Result {
	conn, err := c.dial(ctx, c.discard)
	if err != nil {
		return report.Result{Error: err.Error()}
	}
	defer conn.Close()
	conn.SetDeadline(deadline(ctx))
	buf := bytes.Repeat([]byte("actnet-bench "), 64<<10/13+1)[:64<<10]
	cpu := c.startCPU()
	start := time.Now()
	end := start.Add(c.duration)
	var total int64
	for time.Now().Before(end) {
		n, err := conn.Write(buf)
		total += int64(n)
		if err != nil {
			return cpu.stop(throughput(total, time.Since(start), fmt.Errorf("write: %w", err)))
		}
	}
	if err := conn.CloseWrite(); err != nil {
		return cpu.stop(throughput(total, time.Since(start), fmt.Errorf("close write: %w", err)))
	}
	if _, err := io.Copy(io.Discard, conn); err != nil {
		return cpu.stop(throughput(total, time.Since(start), fmt.Errorf("waiting for the server's FIN: %w", err)))
	}
	return cpu.stop(throughput(total, time.Since(start), nil))
}

// bulkOut asks the source server for far more than it can send in the
// duration, reads for the duration, checks every byte against the pattern,
// and closes.
func bulkOut(ctx context.Context, c config) report.Result {
	conn, err := c.dial(ctx, c.source)
	if err != nil {
		return report.Result{Error: err.Error()}
	}
	defer conn.Close()
	conn.SetDeadline(deadline(ctx))
	if _, err := conn.Write([]byte("1099511627776\n")); err != nil {
		return report.Result{Error: "request: " + err.Error()}
	}
	p := servers.Pattern
	want := bytes.Repeat(p, 64<<10/len(p)+2)
	buf := make([]byte, 64<<10)
	cpu := c.startCPU()
	start := time.Now()
	end := start.Add(c.duration)
	var total int64
	for time.Now().Before(end) {
		n, err := conn.Read(buf)
		if n > 0 {
			off := total % int64(len(p))
			if !bytes.Equal(buf[:n], want[off:off+int64(n)]) {
				return cpu.stop(throughput(total, time.Since(start), fmt.Errorf("corrupt data at byte %d", total)))
			}
			total += int64(n)
		}
		if err != nil {
			return cpu.stop(throughput(total, time.Since(start), fmt.Errorf("read: %w", err)))
		}
	}
	elapsed := time.Since(start)
	r := cpu.stop(throughput(total, elapsed, nil))
	// Closing with unread data resets the connection, which ends the
	// source at once instead of after a terabyte.
	conn.SetLinger(0)
	return r
}

// cpuWatch reads the server's CPU time at the start and the end of a
// bulk load's measured interval.
type cpuWatch struct {
	pid   int
	start float64
	err   error
}

func (c config) startCPU() cpuWatch {
	if c.serverPID == 0 {
		return cpuWatch{}
	}
	t, err := procCPUSeconds(c.serverPID)
	return cpuWatch{pid: c.serverPID, start: t, err: err}
}

// stop sets r's ServerCPUSeconds. A server whose CPU time cannot be read
// leaves it unset and says why, without failing the throughput run.
func (w cpuWatch) stop(r report.Result) report.Result {
	if w.pid == 0 {
		return r
	}
	t, err := procCPUSeconds(w.pid)
	if err == nil {
		err = w.err
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: server CPU time: %v\n", err)
		return r
	}
	r.ServerCPUSeconds = t - w.start
	return r
}

// procCPUSeconds is the user plus system time of a process and its
// descendants (a server may serve from worker processes), all their
// threads (proc(5): fields 14 and 15 of /proc/PID/stat, in clock ticks of
// USER_HZ, which is 100 on every Linux architecture Go supports).
func procCPUSeconds(pid int) (float64, error) {
	pids, err := procTree(pid)
	if err != nil {
		return 0, err
	}
	var total float64
	for _, p := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			return 0, err
		}
		t, err := statCPUSeconds(data)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", p, err)
		}
		total += t
	}
	return total, nil
}

// procTree is pid and its descendants, from the children files of each
// of their threads (/proc/PID/task/TID/children).
func procTree(pid int) ([]int, error) {
	pids := []int{pid}
	for i := 0; i < len(pids); i++ {
		files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pids[i]))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			if i == 0 {
				return nil, fmt.Errorf("process %d: no /proc/%d/task/*/children", pid, pid)
			}
			continue // it has exited since its parent listed it
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue // the thread has exited
			}
			for _, field := range strings.Fields(string(data)) {
				child, err := strconv.Atoi(field)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				pids = append(pids, child)
			}
		}
	}
	return pids, nil
}

// statCPUSeconds reads utime and stime from the text of a /proc/PID/stat.
func statCPUSeconds(data []byte) (float64, error) {
	// The command name is in parentheses and may hold spaces; the fields
	// after it start with the state (field 3).
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want 13 or more", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return float64(utime+stime) / 100, nil
}

func throughput(total int64, elapsed time.Duration, err error) report.Result {
	r := report.Result{Bytes: total, Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		r.Gbps = float64(total) * 8 / elapsed.Seconds() / 1e9
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// rr sends one byte to the echo server and waits for it, back to back on
// one connection, for the duration.
func rr(ctx context.Context, c config) report.Result {
	conn, err := c.dial(ctx, c.echo)
	if err != nil {
		return report.Result{Error: err.Error()}
	}
	defer conn.Close()
	conn.SetDeadline(deadline(ctx))
	conn.SetNoDelay(true)
	lat := make([]float64, 0, 1<<16)
	var b [1]byte
	start := time.Now()
	end := start.Add(c.duration)
	for t0 := start; t0.Before(end) && int64(len(lat)) < c.maxCount; t0 = time.Now() {
		b[0] = byte('a' + len(lat)%26)
		if _, err := conn.Write(b[:]); err != nil {
			return transactions(lat, time.Since(start), fmt.Errorf("write: %w", err))
		}
		if _, err := io.ReadFull(conn, b[:]); err != nil {
			return transactions(lat, time.Since(start), fmt.Errorf("read: %w", err))
		}
		lat = append(lat, float64(time.Since(t0).Microseconds()))
	}
	return transactions(lat, time.Since(start), nil)
}

// crr connects to the echo server, sends one byte, reads it back and
// closes, one connection at a time (like netperf's TCP_CRR), for the
// duration. The first failure ends the load and is reported.
func crr(ctx context.Context, c config) report.Result {
	lat := make([]float64, 0, 1<<14)
	start := time.Now()
	end := start.Add(c.duration)
	for t0 := start; t0.Before(end) && int64(len(lat)) < c.maxCount; t0 = time.Now() {
		conn, err := c.dial(ctx, c.echo)
		if err != nil {
			return transactions(lat, time.Since(start), fmt.Errorf("connection %d: %w", len(lat)+1, err))
		}
		err = echoOnce(ctx, conn)
		conn.Close()
		if err != nil {
			return transactions(lat, time.Since(start), fmt.Errorf("connection %d: %w", len(lat)+1, err))
		}
		lat = append(lat, float64(time.Since(t0).Microseconds()))
	}
	return transactions(lat, time.Since(start), nil)
}

func transactions(lat []float64, elapsed time.Duration, err error) report.Result {
	r := report.Result{Transactions: int64(len(lat)), Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		r.PerSecond = float64(len(lat)) / elapsed.Seconds()
	}
	sort.Float64s(lat)
	if len(lat) > 0 {
		r.P50Micros = report.Percentile(lat, 50)
		r.P99Micros = report.Percentile(lat, 99)
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// idle opens c.conns connections to the echo server, makes each echo one
// byte (so the server has accepted it and set up whatever it keeps per
// connection), waits for the server to settle, and reads how much the
// server's resident memory grew.
func idle(ctx context.Context, c config) report.Result {
	if c.serverPID == 0 {
		return report.Result{Error: "idle needs -server-pid"}
	}
	before, err := rssKiB(c.serverPID)
	if err != nil {
		return report.Result{Error: err.Error()}
	}
	var slabBefore int64
	if c.slab {
		if slabBefore, err = slabKiB(); err != nil {
			return report.Result{Error: err.Error()}
		}
	}
	var (
		open     int
		release  func()
		firstErr error
	)
	if per := fileLimit() - 256; per > 0 && c.conns > per {
		open, release, firstErr = holdInChildren(ctx, c, per)
	} else {
		open, release, firstErr = holdHere(ctx, c, c.conns)
	}
	defer release()
	r := report.Result{Conns: open, RSSBeforeKiB: before}
	if firstErr != nil {
		r.Error = firstErr.Error()
		return r
	}
	// Let the server finish whatever it does after the last echo (Go's
	// scavenger, deferred frees) before reading its footprint.
	time.Sleep(time.Second)
	if r.RSSAfterKiB, err = rssKiB(c.serverPID); err != nil {
		r.Error = err.Error()
		return r
	}
	r.KiBPerConn = float64(r.RSSAfterKiB-before) / float64(open)
	if c.slab {
		after, err := slabKiB()
		if err != nil {
			r.Error = err.Error()
			return r
		}
		r.SlabDeltaKiB = after - slabBefore
		// Both ends of every connection are Linux sockets in the same
		// kernel; the server's share is half the growth.
		r.KernelPerConn = float64(r.SlabDeltaKiB) / float64(2*open)
	}
	return r
}

// holdHere opens n idle connections (echoing one byte on each) with
// c.dialers dialers; release closes them.
func holdHere(ctx context.Context, c config, n int) (int, func(), error) {
	conns := make([]net.Conn, n)
	release := func() {
		for _, conn := range conns {
			if conn != nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
		}
	}
	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	for range c.dialers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				conn, err := c.dialIdle(ctx, i)
				if err != nil {
					fail(fmt.Errorf("connection %d: %w", i+1, err))
					return
				}
				conns[i] = conn
				if err := echoOnce(ctx, conn); err != nil {
					fail(fmt.Errorf("connection %d: %w", i+1, err))
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	open := 0
	for _, conn := range conns {
		if conn != nil {
			open++
		}
	}
	return open, release, firstErr
}

// idleHold is the load of a child of holdInChildren: it opens -conns
// idle connections, says "held N" on its first line, and holds them
// until its standard input closes.
func idleHold(ctx context.Context, c config) report.Result {
	open, release, err := holdHere(ctx, c, c.conns)
	defer release()
	if err != nil {
		return report.Result{Conns: open, Error: err.Error()}
	}
	fmt.Printf("held %d\n", open)
	io.Copy(io.Discard, os.Stdin)
	return report.Result{Conns: open}
}

// holdInChildren spreads the idle load over child processes of per
// connections each, started one after the other, when one process may not hold them all (a hard file
// limit it cannot raise, as in a container without CAP_SYS_RESOURCE).
// Each child dials from its own slice of the source addresses' ports,
// as the i-th connection would here.
func holdInChildren(ctx context.Context, c config, per int) (int, func(), error) {
	var (
		stdins []io.Closer
		cmds   []*exec.Cmd
		open   int
	)
	release := func() {
		for _, in := range stdins {
			in.Close()
		}
		for _, cmd := range cmds {
			cmd.Wait()
		}
	}
	for start := 0; start < c.conns; start += per {
		n := min(per, c.conns-start)
		deadline, _ := ctx.Deadline()
		args := []string{"-load", "idle-hold", "-host", c.host, "-echo", strconv.Itoa(c.echo), "-conns", strconv.Itoa(n),
			"-dialers", strconv.Itoa(c.dialers), "-timeout", time.Until(deadline).String()}
		if len(c.sources) > 0 {
			// Child k dials from the sources in turn starting at k, so
			// that the children together use them evenly.
			var srcs []string
			for i := range c.sources {
				srcs = append(srcs, c.sources[(start/per+i)%len(c.sources)].String())
			}
			args = append(args, "-sources", strings.Join(srcs, ","))
		}
		cmd := exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return open, release, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return open, release, err
		}
		if err := cmd.Start(); err != nil {
			return open, release, err
		}
		stdins, cmds = append(stdins, in), append(cmds, cmd)
		line, _ := bufio.NewReader(out).ReadString('\n')
		var held int
		if _, err := fmt.Sscanf(line, "held %d", &held); err != nil {
			return open, release, fmt.Errorf("idle child %d: %q (its errors are in the log)", len(cmds), strings.TrimSpace(line))
		}
		open += held
	}
	return open, release, nil
}

// fileLimit is the soft limit on open files.
func fileLimit() int {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	return int(min(l.Cur, 1<<30))
}

// rssKiB is the resident memory of a process and its descendants (a
// server may serve from worker processes).
func rssKiB(pid int) (int64, error) {
	pids, err := procTree(pid)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, p := range pids {
		kib, err := procField(fmt.Sprintf("/proc/%d/status", p), "VmRSS:")
		if err != nil {
			return 0, err
		}
		total += kib
	}
	return total, nil
}

func slabKiB() (int64, error) { return procField("/proc/meminfo", "Slab:") }

// procField reads a "Name:   1234 kB" line from a /proc file.
func procField(path, name string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), name); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	return 0, errors.Join(s.Err(), fmt.Errorf("%s: no %s line", path, name))
}

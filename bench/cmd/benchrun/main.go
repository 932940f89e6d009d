// Command benchrun is `make bench`: it runs actnet, gVisor's netstack and
// Linux side by side under the same loads and writes one Markdown table
// and one PNG chart.
//
// Each run of each load gets a fresh network namespace and a fresh server
// (so that no load inherits another's state or memory), is driven by
// loadgen from the Linux side inside that namespace, and is bounded in
// time; the namespace is deleted afterwards. The stacks alternate within
// each load and the whole set repeats for several rounds, so slow drift
// of the machine (another job starting, thermal limits) hits every stack
// alike; the table reports medians over the rounds.
//
// Nothing is created in the host's own network namespace: taps and veth
// pairs are made inside the namespaces, and every namespace is deleted on
// every exit path, including SIGINT and SIGTERM. Namespaces left by a run
// that was killed outright are removed by the next run.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/actnet/actnet/bench/internal/report"
)

type bench struct {
	w        *world
	binDir   string
	outDir   string
	rounds   int
	duration time.Duration
	conns    int
	budget   time.Duration
	started  time.Time
	stacks   []stackKind
	loads    []string
	inproc   bool

	// runs holds every result: stack short name → load → one per round.
	runs map[string]map[string][]run1
	// roundsDone is how many rounds completed within the budget.
	roundsDone int
	notes      []string
	// cpu measures the CPU other processes took during the run: their
	// work shows up as noise, and the table says so.
	cpu cpuMeter
	// actnetRev names the actnet source measured; empty means ask git
	// about the working tree in "..".
	actnetRev string
}

// run1 is one measurement with where it came from.
type run1 struct {
	Round  int           `json:"round"`
	Result report.Result `json:"result"`
}

func main() {
	b := &bench{w: newWorld(), started: time.Now(), runs: map[string]map[string][]run1{}}
	var stacks, loads string
	flag.StringVar(&b.binDir, "bin", "results/bin", "directory with actnet, gvisor-server, linux-server, loadgen and inproc.test")
	flag.StringVar(&b.outDir, "out", "results", "directory for the table, the chart, the raw runs and the logs")
	flag.IntVar(&b.rounds, "rounds", 5, "rounds; each runs every load on every stack once")
	flag.DurationVar(&b.duration, "duration", 3*time.Second, "length of the bulk, request/response and connect-rate loads")
	flag.IntVar(&b.conns, "conns", 100000, "connections of the idle load")
	// The default fits 3 rounds of the default loads and stacks on a
	// 2-core machine: the first about 5 to 7 minutes (30 runs of about 6 s
	// with set-up, the in-process benchmark, and the idle load's 30 to
	// 60 s a stack), the others about 3 minutes each.
	flag.DurationVar(&b.budget, "budget", 13*time.Minute+30*time.Second, "start no round that would end after this long, so the run ends in bounded time")
	flag.StringVar(&stacks, "stacks", "actnet,actnet-off,gvisor,gvisor-gso,linux", "stacks to run (gvisor-gso: gVisor with host GSO over a tap with a virtio-net header; actnet-off: actnet with --offload off, on bulk-in and bulk-out only)")
	flag.StringVar(&loads, "loads", strings.Join(report.Loads, ","), "tap loads to run")
	flag.BoolVar(&b.inproc, "inproc", true, "also run the in-process memory-link benchmark")
	flag.StringVar(&b.actnetRev, "actnet-rev", "", "the actnet revision the binaries were built from, for the table (default: git's view of ..)")
	flag.Parse()
	for _, s := range strings.Split(stacks, ",") {
		found := false
		for _, k := range stackKinds {
			if k.short == s {
				b.stacks, found = append(b.stacks, k), true
			}
		}
		if !found {
			fatalf("unknown stack %q", s)
		}
	}
	for _, l := range strings.Split(loads, ",") {
		if !contains(report.Loads, l) {
			fatalf("unknown load %q", l)
		}
		b.loads = append(b.loads, l)
	}
	if os.Geteuid() != 0 {
		fatalf("needs root: it creates network namespaces and tap devices")
	}
	for _, tool := range []string{"ip", "sysctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			fatalf("needs %s (apt-get install iproute2 procps)", tool)
		}
	}
	raiseFileLimit()
	removeStale()
	b.cpu = startCPUMeter()

	// The trap: on SIGINT or SIGTERM, delete everything and exit.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "\nbenchrun: %v: deleting the namespaces and stopping\n", s)
		b.w.cleanup()
		os.Exit(130)
	}()
	defer b.w.cleanup()

	if err := os.MkdirAll(filepath.Join(b.outDir, "logs"), 0o755); err != nil {
		fatalf("%v", err)
	}
	b.runAll()
	b.w.cleanup()
	if err := b.write(); err != nil {
		fatalf("%v", err)
	}
}

// firstRoundOnly are the loads run in the first round alone: the idle
// load's figure is memory, not a rate, and varies little, while holding
// 100,000 connections costs up to a minute a stack.
var firstRoundOnly = []string{report.Idle}

// scheduled says whether a round runs load on stack k.
func scheduled(k stackKind, load string, round int) bool {
	if k.only != nil && !contains(k.only, load) {
		return false
	}
	return round == 1 || !contains(firstRoundOnly, load)
}

func (b *bench) runAll() {
	// longest is the longest round so far, without its first-round-only
	// loads: a round is started only if one that long would still end
	// within the budget, so that a stack that stalls on every load (each
	// then costing its timeout) shortens the run instead of stretching it
	// past the time `make bench` has.
	var longest time.Duration
	for round := 1; round <= b.rounds; round++ {
		if round > 1 && time.Since(b.started)+longest > b.budget {
			b.notes = append(b.notes, fmt.Sprintf("Stopped after %d of %d rounds: another round would not have ended within the %v budget.", round-1, b.rounds, b.budget))
			break
		}
		roundStart := time.Now()
		var once time.Duration // spent on the first-round-only loads
		for _, load := range b.loads {
			for _, k := range b.stacks {
				if !scheduled(k, load, round) {
					continue
				}
				fmt.Fprintf(os.Stderr, "round %d/%d  %-8s  %-16s ", round, b.rounds, load, k.name)
				start := time.Now()
				r := b.runOne(k, load, round)
				if contains(firstRoundOnly, load) {
					once += time.Since(start)
				}
				fmt.Fprintln(os.Stderr, summary(r))
				b.add(k.short, load, round, r)
			}
		}
		if b.inproc {
			for _, s := range []string{"actnet", "gvisor"} {
				fmt.Fprintf(os.Stderr, "round %d/%d  %-8s  %-16s ", round, b.rounds, "inproc", s)
				r := b.runInproc(s)
				fmt.Fprintln(os.Stderr, summary(r))
				b.add(s, inprocLoad, round, r)
			}
		}
		b.roundsDone = round
		longest = max(longest, time.Since(roundStart)-once)
	}
}

func (b *bench) add(stack, load string, round int, r report.Result) {
	if b.runs[stack] == nil {
		b.runs[stack] = map[string][]run1{}
	}
	r.Load = load
	b.runs[stack][load] = append(b.runs[stack][load], run1{Round: round, Result: r})
}

// loadTimeout bounds one load, generously: a healthy run takes the
// duration plus a second or two; anything longer is a stall.
func (b *bench) loadTimeout(load string) time.Duration {
	if load == report.Idle {
		// 45 s, and a millisecond per connection to open (100 s for
		// 100,000: a stack that opens them at 1,000 a second).
		return 45*time.Second + time.Duration(b.conns)*time.Millisecond
	}
	return b.duration + 8*time.Second
}

// runOne sets up a fresh namespace and server for one load, runs it and
// tears everything down.
func (b *bench) runOne(k stackKind, load string, round int) (res report.Result) {
	logPath := filepath.Join(b.outDir, "logs", fmt.Sprintf("%s-%s-r%d.log", k.short, load, round))
	logFile, err := os.Create(logPath)
	if err != nil {
		return report.Result{Error: err.Error()}
	}
	defer logFile.Close()
	clientNS, server, err := k.setup(b, logFile)
	defer func() {
		if err := b.w.teardown(server); err != nil && res.Error == "" {
			// A server that cannot stop cleanly after a load is a finding
			// too, but the load's numbers stand; keep it in the log.
			fmt.Fprintf(logFile, "benchrun: stopping the server: %v\n", err)
		}
	}()
	if err != nil {
		return report.Result{Error: "set-up: " + err.Error()}
	}
	// An IPv6 load is its IPv4 twin aimed at the server's IPv6 address;
	// readiness is checked over the same family (actnet's static address
	// is usable only once its duplicate address detection is done).
	base, v6 := report.IPv6(load)
	host := serverAddr
	if v6 {
		host = serverAddr6
	}
	if r := b.loadgen(clientNS, logFile, 20*time.Second, "-load", "ready", "-host", host); r.Error != "" {
		return report.Result{Error: "server did not come up: " + r.Error}
	}
	args := []string{"-load", base, "-host", host, "-duration", b.duration.String(), "-conns", strconv.Itoa(b.conns),
		"-server-pid", strconv.Itoa(server.cmd.Process.Pid)}
	if k.slab {
		args = append(args, "-slab")
	}
	if base == report.CRR {
		args = append(args, "-max-count", strconv.Itoa(crrMaxCount))
	}
	if load == report.Idle {
		args = append(args, "-sources", strings.Join(clientSources, ","))
	}
	res = b.loadgen(clientNS, logFile, b.loadTimeout(load), args...)
	if done, err := server.exited(); done {
		res.Error = strings.TrimPrefix(res.Error+"; ", "; ") + fmt.Sprintf("server exited during the load (%v); see %s", err, logPath)
	}
	return res
}

// loadgen runs the load generator in ns and reads its result. It kills
// the load generator if it overstays its own timeout by more than the
// few seconds loadgen takes to report a stall.
func (b *bench) loadgen(ns string, logFile *os.File, timeout time.Duration, args ...string) report.Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+7*time.Second)
	defer cancel()
	args = append([]string{"netns", "exec", ns, filepath.Join(b.binDir, "loadgen"), "-timeout", timeout.String()}, args...)
	cmd := exec.CommandContext(ctx, "ip", args...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	var r report.Result
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); jerr != nil {
		if ctx.Err() != nil {
			return report.Result{Error: fmt.Sprintf("load generator killed after %v", timeout+7*time.Second)}
		}
		return report.Result{Error: fmt.Sprintf("load generator: %v (%v)", err, jerr)}
	}
	return r
}

// inprocLoad names the in-process benchmark among the loads.
const inprocLoad = "inproc"

// runInproc runs the compiled in-process benchmark for one stack.
func (b *bench) runInproc(stack string) report.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(b.binDir, "inproc.test"),
		"-test.run", "^$", "-test.bench", "^BenchmarkBulk$/^"+stack+"$",
		"-test.benchtime", b.duration.String(), "-test.timeout", "80s")
	out, err := cmd.CombinedOutput()
	logPath := filepath.Join(b.outDir, "logs", "inproc-"+stack+".log")
	if f, ferr := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); ferr == nil {
		f.Write(out)
		f.Close()
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		for i := 1; i < len(fields); i++ {
			if fields[i] == "Gbit/s" && strings.HasPrefix(fields[0], "BenchmarkBulk/") {
				v, perr := strconv.ParseFloat(fields[i-1], 64)
				if perr == nil {
					return report.Result{Gbps: v}
				}
			}
		}
	}
	if ctx.Err() != nil {
		return report.Result{Error: "in-process benchmark killed after 90s; see " + logPath}
	}
	return report.Result{Error: fmt.Sprintf("in-process benchmark: %v; see %s", err, logPath)}
}

func summary(r report.Result) string {
	var s string
	switch {
	case r.Gbps != 0:
		s = fmt.Sprintf("%.3f Gbit/s", r.Gbps)
		if v := r.CPUPerGB(); !math.IsNaN(v) {
			s += fmt.Sprintf(", server %.2f CPU s/GB", v)
		}
	case r.PerSecond != 0:
		s = fmt.Sprintf("%.0f/s p50 %.0fµs p99 %.0fµs", r.PerSecond, r.P50Micros, r.P99Micros)
	case r.Conns != 0:
		s = fmt.Sprintf("%d conns, %.2f KiB/conn", r.Conns, r.KiBPerConn)
		if r.SlabDeltaKiB != 0 {
			s += fmt.Sprintf(" + %.2f KiB/conn kernel", r.KernelPerConn)
		}
	}
	if r.Error != "" {
		s += " FAILED: " + r.Error
	}
	return s
}

// raiseFileLimit lets the servers and load generators it starts (which
// inherit it) hold tens of thousands of sockets.
func raiseFileLimit() {
	l := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		var cur syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur) == nil {
			cur.Cur = cur.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &cur)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "benchrun: "+format+"\n", a...)
	os.Exit(1)
}

package main

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/actnet/actnet/bench/internal/chart"
	"github.com/actnet/actnet/bench/internal/report"
)

// metric is one row of the table: a number taken from each run of a load.
type metric struct {
	title       string
	unit        string
	load        string
	value       func(report.Result) float64
	lowerBetter bool
	chartTitle  string
}

var metrics = []metric{
	{"Bulk into the stack (client → discard)", "Gbit/s", report.BulkIn, gbps, false, "bulk in"},
	{"Bulk into the stack over IPv6", "Gbit/s", report.BulkIn6, gbps, false, "bulk in, IPv6"},
	{"Bulk out of the stack (source → client)", "Gbit/s", report.BulkOut, gbps, false, "bulk out"},
	{"Bulk out of the stack over IPv6", "Gbit/s", report.BulkOut6, gbps, false, "bulk out, IPv6"},
	{"Bulk into the stack: server CPU per GB moved", "CPU s/GB", report.BulkIn, cpuPerGB, true, "bulk in, CPU/GB"},
	{"Bulk out of the stack: server CPU per GB moved", "CPU s/GB", report.BulkOut, cpuPerGB, true, "bulk out, CPU/GB"},
	{"Request/response, 1 byte, one connection", "transactions/s", report.RR, perSecond, false, "req/resp"},
	{"… latency p50", "µs", report.RR, p50, true, "req/resp p50"},
	{"… latency p99", "µs", report.RR, p99, true, "req/resp p99"},
	{"Request/response, 1 byte, over IPv6", "transactions/s", report.RR6, perSecond, false, "req/resp, IPv6"},
	{"… latency p50", "µs", report.RR6, p50, true, "req/resp p50, IPv6"},
	{"… latency p99", "µs", report.RR6, p99, true, "req/resp p99, IPv6"},
	{"Connect, 1-byte echo, close (sequential)", "connections/s", report.CRR, perSecond, false, "connect rate"},
	{"Idle connections: server memory each", "KiB/connection", report.Idle, idleKiB, true, "idle mem/conn"},
	{"In-process bulk, 2 stacks (memory link / channel)", "Gbit/s", inprocLoad, gbps, false, "in-process bulk"},
}

func gbps(r report.Result) float64      { return r.Gbps }
func perSecond(r report.Result) float64 { return r.PerSecond }
func p50(r report.Result) float64       { return r.P50Micros }
func p99(r report.Result) float64       { return r.P99Micros }
func cpuPerGB(r report.Result) float64  { return r.CPUPerGB() }

// familyPairs are the loads run over both families, for the table of
// IPv6 against IPv4.
var familyPairs = []struct {
	title    string
	v4, v6   string
	valueOf  func(report.Result) float64
	unitNote string
}{
	{"Bulk into the stack", report.BulkIn, report.BulkIn6, gbps, "Gbit/s"},
	{"Bulk out of the stack", report.BulkOut, report.BulkOut6, gbps, "Gbit/s"},
	{"Request/response, 1 byte", report.RR, report.RR6, perSecond, "transactions/s"},
}

// idleKiB is the server's resident memory growth per connection; for
// Linux it adds the server's half of the kernel's slab growth, since
// there the connection state lives in the kernel.
func idleKiB(r report.Result) float64 { return r.KiBPerConn + r.KernelPerConn }

// cell is one stack's entry in one row.
type cell struct {
	median   float64 // NaN when no run succeeded or the stack has no such run
	min, max float64
	ok, n    int
	errs     []string
}

func (b *bench) cell(stack string, m metric) cell {
	c := cell{median: math.NaN()}
	var xs []float64
	for _, r := range b.runs[stack][m.load] {
		c.n++
		if r.Result.Error != "" {
			c.errs = append(c.errs, fmt.Sprintf("round %d: %s", r.Round, r.Result.Error))
			continue
		}
		v := m.value(r.Result)
		if math.IsNaN(v) {
			// Not measured in this run (the CPU row of a run without
			// the server's CPU time): neither a success nor a failure.
			c.n--
			continue
		}
		c.ok++
		xs = append(xs, v)
	}
	if len(xs) > 0 {
		c.median = report.Median(xs)
		c.min, c.max = slices.Min(xs), slices.Max(xs)
	}
	return c
}

func (b *bench) write() error {
	var md bytes.Buffer
	now := time.Now().UTC()
	fmt.Fprintf(&md, "# actnet benchmark, %s\n\n", now.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&md, "%s\n\n", machine(filepath.Join(b.binDir, "gvisor-server"), b.actnetRev))
	others := b.cpu.othersCores()
	fmt.Fprintf(&md, "Other processes kept %.2f of %d cores busy on average during the run.", others, runtime.NumCPU())
	if others > busyCores {
		fmt.Fprintf(&md, " **That is enough to make the numbers noisy; rerun on an idle machine.**")
	}
	fmt.Fprintf(&md, "\n\n")
	fmt.Fprintf(&md, "Medians of %d alternating rounds (%v per bulk, request/response and connect-rate run). "+
		"Every run has its own fresh network namespace and server; the load generator is a Go program on the Linux side of the tap "+
		"(actnet, gVisor) or of the veth pair (Linux). ± is half the range of the rounds over the median. A cell marked ✗ had failed runs, counted in brackets; their errors are listed below.",
		b.roundsDone, b.duration)
	if contains(b.loads, report.Idle) {
		fmt.Fprintf(&md, " idle: one run, in the first round, of %d connections (its figure is memory, not a rate, and varies little).", b.conns)
	}
	for _, k := range b.stacks {
		if k.only != nil {
			fmt.Fprintf(&md, " %s runs only %s (it is there for the CPU per GB); its other cells are n/a.", k.name, strings.Join(k.only, " and "))
		}
	}
	fmt.Fprintf(&md, "\n\n")
	ratios := b.ratioStacks()
	fmt.Fprintf(&md, "| load | unit |")
	for _, k := range b.stacks {
		fmt.Fprintf(&md, " %s |", k.name)
	}
	for _, k := range ratios {
		fmt.Fprintf(&md, " actnet/%s |", k.name)
	}
	fmt.Fprintf(&md, "\n|---|---|")
	for range len(b.stacks) + len(ratios) {
		fmt.Fprintf(&md, "--:|")
	}
	fmt.Fprintf(&md, "\n")
	var failures []string
	var panels []chart.Panel
	errsListed := map[string]bool{}
	for _, m := range metrics {
		if m.load != inprocLoad && !contains(b.loads, m.load) || m.load == inprocLoad && !b.inproc {
			continue
		}
		unit := m.unit
		if m.lowerBetter {
			unit += " (lower is better)"
		}
		fmt.Fprintf(&md, "| %s | %s |", m.title, unit)
		cells := map[string]cell{}
		p := chart.Panel{Title: m.chartTitle, Unit: strings.ReplaceAll(m.unit, "µ", "u")}
		if m.lowerBetter {
			p.Unit += ", lower better"
		}
		for _, k := range b.stacks {
			c := b.cell(k.short, m)
			cells[k.short] = c
			fmt.Fprintf(&md, " %s |", c.format(m))
			p.Values = append(p.Values, c.median)
			note := ""
			if c.n > 0 && c.ok == 0 {
				note = "FAIL"
			}
			p.Notes = append(p.Notes, note)
			if !errsListed[k.short+" "+m.load] { // the latency rows share the rr runs and their errors
				errsListed[k.short+" "+m.load] = true
				for _, e := range c.errs {
					failures = append(failures, fmt.Sprintf("%s, %s, %s", k.name, m.load, e))
				}
			}
		}
		for _, k := range ratios {
			ratio := "n/a"
			a, g := b.cell("actnet", m), b.cell(k.short, m)
			if !math.IsNaN(a.median) && !math.IsNaN(g.median) && g.median != 0 {
				ratio = fmt.Sprintf("%.2f×", a.median/g.median)
			}
			fmt.Fprintf(&md, " %s |", ratio)
		}
		fmt.Fprintf(&md, "\n")
		panels = append(panels, p)
	}
	b.writeFamilies(&md)
	fmt.Fprintf(&md, "\nFor Linux the idle row adds the server's half of the kernel's slab growth (`/proc/meminfo` Slab) "+
		"to the RSS growth of the server process and its workers (it spreads the connections over worker processes when it cannot raise its file limit); for actnet and gVisor it is the server process's RSS growth (`/proc/PID/status` VmRSS), "+
		"since their connection state lives in the process. Ratios below 1 mean actnet is slower, except in the rows where lower is better.\n")
	fmt.Fprintf(&md, "\nThe CPU rows are the server process's user and system time (`/proc/PID/stat`, all threads) over the bulk load's measured interval, "+
		"per 10^9 bytes moved. Kernel work done in softirq context or in the load generator's system calls is not in it: "+
		"for Linux that is most of its TCP receive path, so its row is a floor, not a like-for-like figure.\n")
	fmt.Fprintf(&md, "\nRows that do not say IPv6 run over IPv4 (%s → %s); the IPv6 rows run the same load on the same kind of server, "+
		"which has both addresses, at %s → %s (static, on both ends).\n", linuxAddr, serverAddr, linuxAddr6, serverAddr6)
	for _, n := range b.notes {
		fmt.Fprintf(&md, "\n%s\n", n)
	}
	if len(failures) > 0 {
		fmt.Fprintf(&md, "\nFailed runs:\n\n")
		for _, f := range failures {
			fmt.Fprintf(&md, "- %s\n", strings.ReplaceAll(f, "\n", " "))
		}
	}
	fmt.Fprintf(&md, "\nChart: `results.png`. Raw runs: `runs.json`. Server and load-generator logs: `logs/`.\n")

	os.Stdout.Write(md.Bytes())
	if err := os.WriteFile(filepath.Join(b.outDir, "results.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(b.runs, "", "  ")
	if err := os.WriteFile(filepath.Join(b.outDir, "runs.json"), raw, 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(b.outDir, "results.png"))
	if err != nil {
		return err
	}
	defer f.Close()
	var series []chart.Series
	for _, k := range b.stacks {
		series = append(series, chart.Series{Name: k.label, Color: colors[k.short]})
	}
	title := fmt.Sprintf("actnet vs gVisor netstack vs Linux, median of %d rounds, %s", b.roundsDone, now.Format("2006-01-02"))
	return chart.Write(f, title, series, panels)
}

// ratioStacks are the gVisor configurations that get an actnet/… ratio
// column; with neither in the run, the one column says n/a throughout.
func (b *bench) ratioStacks() []stackKind {
	var ks []stackKind
	for _, k := range b.stacks {
		if k.short == "gvisor" || k.short == gvisorGSO {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		ks = append(ks, stackKind{name: "gVisor", short: "gvisor"})
	}
	return ks
}

// writeFamilies adds a table of each stack's IPv6 figure over its IPv4
// figure for the loads run over both, from the same rounds.
func (b *bench) writeFamilies(md *bytes.Buffer) {
	var rows []string
	for _, fp := range familyPairs {
		if !contains(b.loads, fp.v4) || !contains(b.loads, fp.v6) {
			continue
		}
		row := fmt.Sprintf("| %s | %s |", fp.title, fp.unitNote)
		for _, k := range b.stacks {
			m4 := metric{load: fp.v4, value: fp.valueOf}
			m6 := metric{load: fp.v6, value: fp.valueOf}
			c4, c6 := b.cell(k.short, m4), b.cell(k.short, m6)
			if math.IsNaN(c4.median) || math.IsNaN(c6.median) || c4.median == 0 {
				row += " n/a |"
				continue
			}
			row += fmt.Sprintf(" %s → %s (%.2f×) |", chart.Format(c4.median), chart.Format(c6.median), c6.median/c4.median)
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(md, "\nIPv4 → IPv6, the medians above, with IPv6's as a share of IPv4's (higher is better; 1.00× means no cost for IPv6):\n\n| load | unit |")
	for _, k := range b.stacks {
		fmt.Fprintf(md, " %s |", k.name)
	}
	fmt.Fprintf(md, "\n|---|---|")
	for range b.stacks {
		fmt.Fprintf(md, "--:|")
	}
	fmt.Fprintf(md, "\n%s\n", strings.Join(rows, "\n"))
}

var colors = map[string]color.RGBA{
	"actnet":     {31, 119, 180, 255},
	"actnet-off": {158, 202, 225, 255},
	"gvisor":     {255, 127, 14, 255},
	gvisorGSO:    {214, 39, 40, 255},
	"linux":      {127, 127, 127, 255},
}

func (c cell) format(m metric) string {
	if c.n == 0 {
		return "n/a"
	}
	if c.ok == 0 {
		return fmt.Sprintf("✗ failed (%d/%d)", c.n, c.n)
	}
	s := chart.Format(c.median)
	if c.ok > 1 && c.median != 0 {
		// The spread of the rounds, as ± half the range over the median,
		// says how far to trust a difference between two cells.
		s += fmt.Sprintf(" ±%.0f%%", 50*(c.max-c.min)/c.median)
	}
	if c.ok < c.n {
		s += fmt.Sprintf(" ✗ (%d/%d failed)", c.n-c.ok, c.n)
	}
	return s
}

// machine describes where the numbers come from.
func machine(gvisorServer, commit string) string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	var u syscall.Utsname
	kernel := "?"
	if syscall.Uname(&u) == nil {
		kernel = utsString(u.Release[:])
	}
	var si syscall.Sysinfo_t
	mem := "?"
	if syscall.Sysinfo(&si) == nil {
		mem = fmt.Sprintf("%.0f GiB", float64(si.Totalram)*float64(si.Unit)/(1<<30))
	}
	gvisor := "?"
	if bi, err := buildinfo.ReadFile(gvisorServer); err == nil {
		for _, d := range bi.Deps {
			if d.Path == "gvisor.dev/gvisor" {
				gvisor = d.Version
			}
		}
	}
	if commit == "" {
		commit = gitRev()
	}
	return fmt.Sprintf("Machine: %s, %d cores, %s RAM, Linux %s, %s. actnet %s; gVisor %s.",
		cpu, runtime.NumCPU(), mem, kernel, runtime.Version(), commit, gvisor)
}

// gitRev describes the working tree the bench module's replace directive
// builds actnet from.
func gitRev() string {
	commit := "?"
	if out, err := exec.Command("git", "-C", "..", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if out, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
			commit += " with uncommitted changes"
		}
	}
	return commit
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

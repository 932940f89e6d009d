package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter estimates how much CPU other work on the machine took while
// the benchmark ran: the machine's user and system time (from
// /proc/stat) minus the runner's and its children's (from getrusage) and
// minus the kernel threads' (ksoftirqd, kworkers: much of the packet work
// for veth and tap traffic, which is the benchmark's own). The load
// average cannot tell, since the benchmark's own processes raise it.
// Interrupt and softirq time are left out, because the kernel does not
// charge them to a process.
type cpuMeter struct {
	start   time.Time
	machine time.Duration
	ours    time.Duration
	kernel  map[int]time.Duration
}

func startCPUMeter() cpuMeter {
	return cpuMeter{start: time.Now(), machine: machineCPU(), ours: ourCPU(), kernel: kernelThreadsCPU()}
}

// othersCores is the average number of cores other processes kept busy
// since start; negative noise is reported as zero.
func (m cpuMeter) othersCores() float64 {
	wall := time.Since(m.start)
	others := (machineCPU() - m.machine) - (ourCPU() - m.ours)
	for pid, t := range kernelThreadsCPU() {
		others -= t - m.kernel[pid]
	}
	if wall <= 0 || others < 0 {
		return 0
	}
	return others.Seconds() / wall.Seconds()
}

// machineCPU is the user, nice and system time of every CPU.
func machineCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq ...
	if len(f) < 4 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, s := range f[1:4] {
		v, _ := strconv.ParseInt(s, 10, 64)
		ticks += v
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(ticks) * (time.Second / 100)
}

// ourCPU is the runner's CPU time plus that of its children that have
// exited (every server and load generator is waited for).
func ourCPU() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

// busyCores is the share of the machine above which other work makes the
// numbers noisy enough to say so in the table.
var busyCores = 0.1 * float64(runtime.NumCPU())

// kernelThreadsCPU is the user and system time of every kernel thread
// (those with PF_KTHREAD), by PID.
func kernelThreadsCPU() map[int]time.Duration {
	const pfKthread = 0x00200000
	cpu := map[int]time.Duration{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return cpu
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the parenthesised command name: state is field 3,
		// flags 9, utime 14, stime 15 (proc(5)).
		_, rest, ok := strings.Cut(string(data), ") ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		flags, _ := strconv.ParseUint(f[6], 10, 64)
		if flags&pfKthread == 0 {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		cpu[pid] = time.Duration(utime+stime) * (time.Second / 100)
	}
	return cpu
}

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
// /proc/stat) minus the runner's and its children's (from getrusage). The
// load average cannot tell, since the benchmark's own processes raise it.
// Interrupt and softirq time are left out of both sides, because the
// kernel does not charge them to a process.
type cpuMeter struct {
	start   time.Time
	machine time.Duration
	ours    time.Duration
}

func startCPUMeter() cpuMeter {
	return cpuMeter{start: time.Now(), machine: machineCPU(), ours: ourCPU()}
}

// othersCores is the average number of cores other processes kept busy
// since start; negative noise is reported as zero.
func (m cpuMeter) othersCores() float64 {
	wall := time.Since(m.start)
	others := (machineCPU() - m.machine) - (ourCPU() - m.ours)
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

//go:build tamago && amd64

package hvt

import (
	"math"
	"runtime/goos"
	"unsafe"

	// TamaGo's amd64 support supplies the hooks hvt needs nothing special
	// for: the pre-runtime initialisation (empty on amd64), random numbers
	// (RDRAND) and the stack's offset from the top of RAM. Its start-up
	// code and RAM start are replaced by this board (build tags
	// linkcpuinit and linkramstart).
	_ "github.com/usbarmory/tamago/amd64"
)

// Memory: the image is linked at TextStart, RAM for the runtime starts at
// RamStart and ends where the guest's memory does (cpuinit sizes it from the
// boot information). The Makefile's hvt target links with -T TextStart.
const (
	// RamStart is where the runtime's memory begins.
	RamStart = 0x10000000
	// TextStart is the link address of the image, just above RamStart.
	TextStart = RamStart + 0x10000
	// minRAM is the least memory above RamStart the guest boots with.
	minRAM = 128 << 20
)

// Hypercall ports, for the assembly.
const (
	portPuts = HypercallPortBase + HypercallPuts
	portHalt = HypercallPortBase + HypercallHalt
)

//go:linkname ramStart runtime/goos.RamStart
var ramStart uint64 = RamStart

// ramSize is set by cpuinit from the boot information.
//
//go:linkname ramSize runtime/goos.RamSize
var ramSize uint64

// bootInfo is the tender's boot information, saved by cpuinit. It lies
// below the Go heap, where the garbage collector never looks.
var bootInfo *BootInfo

// hypercall traps to the tender with the hypercall argument at arg, which
// must lie below 4 GiB (all of guest memory does).
//
//go:noescape
func hypercall(port uint16, arg unsafe.Pointer)

func rdtsc() uint64

// call makes hypercall n.
//
//go:nosplit
func call(n uint16, arg unsafe.Pointer) { hypercall(HypercallPortBase+n, arg) }

// Console: bytes collect in a line buffer that goes to the tender in one
// PUTS per line (each hypercall is a VM exit). The runtime prints through
// Printk from any context, before the heap exists too, so this uses only
// static memory; one CPU and no preemption mean no locking.
var (
	consoleBuf  [256]byte
	consoleLen  int
	consoleArgs PutsArgs
)

//go:linkname printk runtime/goos.Printk
//go:nosplit
func printk(c byte) {
	if consoleLen >= len(consoleBuf) {
		flushConsole()
	}
	consoleBuf[consoleLen] = c
	consoleLen++
	if c == '\n' {
		flushConsole()
	}
}

//go:nosplit
func flushConsole() {
	if consoleLen == 0 {
		return
	}
	consoleArgs.Data = uint64(uintptr(unsafe.Pointer(&consoleBuf[0])))
	consoleArgs.Len = uint64(consoleLen)
	call(HypercallPuts, unsafe.Pointer(&consoleArgs))
	consoleLen = 0
}

// Clock: the TSC scaled by the frequency the tender measured, plus the
// host's wall clock when the first reading was taken, so that time.Now is
// the real time (TamaGo's wall clock is its monotonic one).
var (
	clockOffset int64
	clockSet    bool
	wallArgs    WalltimeArgs
)

//go:linkname nanotime runtime/goos.Nanotime
//go:nosplit
func nanotime() int64 {
	ns := tscNanos()
	if !clockSet {
		clockSet = true
		call(HypercallWalltime, unsafe.Pointer(&wallArgs))
		if w := int64(wallArgs.Nsecs); w > ns {
			clockOffset = w - ns
		}
	}
	return ns + clockOffset
}

// tscNanos converts the TSC to nanoseconds in two steps, whole seconds and
// the rest, so that neither product overflows 64 bits.
//
//go:nosplit
func tscNanos() int64 {
	freq := bootInfo.CPUCycleFreq
	if freq == 0 {
		freq = 1e9 // never reported as 0; keep the clock running anyway
	}
	t := rdtsc()
	return int64(t/freq*1e9 + t%freq*1e9/freq)
}

var (
	pollArgs PollArgs
	haltArgs HaltArgs
)

// Init completes the board once the runtime is up (TamaGo's Hwinit1): it
// installs the exit and idle hooks.
//
//go:linkname Init runtime/goos.Hwinit1
func Init() {
	goos.Exit = exit
	goos.Idle = idle
}

// exit flushes the console and halts the guest with code as the tender's
// exit status.
func exit(code int32) {
	flushConsole()
	haltArgs.Status = int64(code)
	call(HypercallHalt, unsafe.Pointer(&haltArgs))
	for {
	}
}

// idle runs when no goroutine can: it blocks in POLL until the next timer
// (until, in nanotime's terms) or until a device has input, and then wakes
// the readers of the devices that have.
func idle(until int64) {
	flushConsole()
	var timeout uint64
	switch now := nanotime(); {
	case until == math.MaxInt64:
		timeout = uint64(maxIdle)
	case until > now:
		timeout = uint64(min(until-now, maxIdle))
	}
	pollArgs.TimeoutNs = timeout
	pollArgs.ReadySet = 0
	call(HypercallPoll, unsafe.Pointer(&pollArgs))
	if set := pollArgs.ReadySet; set != 0 {
		wakeReaders(set)
	}
}

// maxIdle bounds one POLL, so that a guest with nothing to do still comes
// round to check now and then.
const maxIdle = int64(1e9)

// guestBytes returns n bytes of guest memory at addr (an address the tender
// gave, outside the Go heap).
func guestBytes(addr uint64, n int) []byte {
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	return unsafe.Slice((*byte)(p), n)
}

// Cmdline returns the arguments after the binary on solo5-hvt's command
// line.
func Cmdline() []string {
	if bootInfo == nil || bootInfo.Cmdline == 0 {
		return nil
	}
	b := guestBytes(bootInfo.Cmdline, cmdlineSize)
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	return SplitCmdline(string(b))
}

// cmdlineSize is the room the tender gives the command line, its NUL
// included.
const cmdlineSize = 8192

// Manifest returns the devices the tender attached, with their MACs and
// MTUs.
func Manifest() ([]Device, error) {
	if bootInfo == nil || bootInfo.Manifest == 0 {
		return nil, ErrManifest
	}
	n := ManifestCount(guestBytes(bootInfo.Manifest, manifestHeaderLen))
	if n < 0 {
		return nil, ErrManifest
	}
	return ParseManifest(guestBytes(bootInfo.Manifest, ManifestLen(n-1)))
}

// MemSize is the guest's memory as solo5-hvt --mem gave it.
func MemSize() uint64 {
	if bootInfo == nil {
		return 0
	}
	return bootInfo.MemSize
}

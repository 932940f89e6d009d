package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/actnet/actnet/bench/internal/report"
)

// Addresses and ports every server uses; the load generator's defaults
// match them.
const (
	linuxAddr  = "10.0.0.1"
	serverAddr = "10.0.0.2"
	prefixLen  = "24"
	// The IPv6 loads use a unique local prefix, static on both ends (and
	// Linux's without DAD), so that no router advertisement is involved.
	linuxAddr6  = "fd00:77::1"
	serverAddr6 = "fd00:77::2"
	prefixLen6  = "64"
	echoPort    = 9000
	discardPrt  = 9001
	sourcePort  = 9002
)

// clientSources are the extra addresses of the load generator's end (the
// tap's Linux end, or the client's veth), from which the idle load dials
// in turn: one address has about 64,000 ports towards one server port,
// and the idle load holds 100,000 connections.
var clientSources = []string{"10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14", "10.0.0.15"}

// addSources adds clientSources to dev in ns.
func addSources(ns, dev string) [][]string {
	var cmds [][]string
	for _, a := range clientSources {
		cmds = append(cmds, []string{"ip", "-n", ns, "addr", "add", a + "/" + prefixLen, "dev", dev})
	}
	return cmds
}

// stackKind is one of the servers the benchmark compares.
type stackKind struct {
	name  string // as in the table
	label string // under its bars in the chart
	short string // in file names and flags
	// setup creates the namespaces and starts the server, returning the
	// namespace the load generator runs in and the server process.
	setup func(b *bench, logFile *os.File) (clientNS string, server *proc, err error)
	// slab says the server's per-connection state lives in the kernel,
	// so the idle load also reads /proc/meminfo's Slab.
	slab bool
	// only, if set, are the loads the stack runs; the table leaves its
	// other cells n/a.
	only []string
}

var stackKinds = []stackKind{
	{name: "actnet", label: "actnet", short: "actnet", setup: setupActnet},
	// actnet without its tap offloads is there for the CPU-per-GB
	// comparison of offloads on and off within one run, so it runs the
	// IPv4 bulk loads only.
	{name: "actnet, offloads off", label: "actnet off", short: "actnet-off", setup: setupActnetOff,
		only: []string{report.BulkIn, report.BulkOut}},
	{name: "gVisor", label: "gVisor", short: "gvisor", setup: setupGVisor},
	{name: "gVisor, host GSO", label: "gVisor GSO", short: gvisorGSO, setup: setupGVisorGSO},
	{name: "Linux (veth)", label: "Linux", short: "linux", setup: setupLinux, slab: true},
}

// tapNS makes a namespace with a tap device whose Linux end is linuxAddr
// and linuxAddr6; the userspace stack attaches to the tap at serverAddr
// and serverAddr6. This is what actnet's own tap tests and `make demo` do.
func (b *bench) tapNS() (string, error) {
	ns, err := b.w.newNS()
	if err != nil {
		return "", err
	}
	return ns, runAll(append([][]string{
		{"ip", "-n", ns, "tuntap", "add", "tap0", "mode", "tap"},
		{"ip", "-n", ns, "addr", "add", linuxAddr + "/" + prefixLen, "dev", "tap0"},
		{"ip", "-n", ns, "addr", "add", linuxAddr6 + "/" + prefixLen6, "dev", "tap0", "nodad"},
		{"ip", "-n", ns, "link", "set", "tap0", "up"},
		clientSysctls(ns),
	}, addSources(ns, "tap0")...)...)
}

// clientSysctls widens the client namespace's ephemeral port range to
// every unprivileged port, for the connect-rate load, whose client ends
// sit in TIME-WAIT. The setting is per namespace.
func clientSysctls(ns string) []string {
	return []string{"ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535"}
}

// crrMaxCount caps the connect-rate load below the point where Linux runs
// short of ports: connect() first takes ports of one parity, half the
// range (32,256 here), and once those sit in TIME-WAIT each connect scans
// the rest, which would measure the port search instead of the stack.
const crrMaxCount = 30000

func setupActnet(b *bench, logFile *os.File) (string, *proc, error) {
	return startActnet(b, logFile)
}

// setupActnetOff runs actnet serve with --offload off: no virtio-net
// header, one frame per read and write.
func setupActnetOff(b *bench, logFile *os.File) (string, *proc, error) {
	return startActnet(b, logFile, "--offload", "off")
}

func startActnet(b *bench, logFile *os.File, extra ...string) (string, *proc, error) {
	ns, err := b.tapNS()
	if err != nil {
		return "", nil, err
	}
	args := append([]string{"netns", "exec", ns, filepath.Join(b.binDir, "actnet"), "serve",
		"--tap", "tap0", "--ipv4", serverAddr + "/" + prefixLen, "--ipv6", serverAddr6 + "/" + prefixLen6, "--log-level", "warn",
		"--app", "echo:" + strconv.Itoa(echoPort),
		"--app", "discard:" + strconv.Itoa(discardPrt),
		"--app", "source:" + strconv.Itoa(sourcePort)}, extra...)
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p, err := b.w.start(cmd)
	return ns, p, err
}

// gvisorGSO is the short name of gVisor with host GSO, whose column gets
// its own actnet/gVisor ratio.
const gvisorGSO = "gvisor-gso"

func setupGVisor(b *bench, logFile *os.File) (string, *proc, error) {
	return startGVisor(b, logFile)
}

// setupGVisorGSO runs gvisor-server with --gso: the tap with a virtio-net
// header and TSO, and gVisor's TCP sending and receiving 64 KiB
// super-segments (the bench's internal/vnettap endpoint).
func setupGVisorGSO(b *bench, logFile *os.File) (string, *proc, error) {
	return startGVisor(b, logFile, "--gso")
}

func startGVisor(b *bench, logFile *os.File, extra ...string) (string, *proc, error) {
	ns, err := b.tapNS()
	if err != nil {
		return "", nil, err
	}
	args := append([]string{"netns", "exec", ns, filepath.Join(b.binDir, "gvisor-server"),
		"--tap", "tap0", "--ipv4", serverAddr + "/" + prefixLen, "--ipv6", serverAddr6 + "/" + prefixLen6,
		"--echo", strconv.Itoa(echoPort), "--discard", strconv.Itoa(discardPrt), "--source", strconv.Itoa(sourcePort)}, extra...)
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p, err := b.w.start(cmd)
	return ns, p, err
}

// setupLinux joins two namespaces with a veth pair, created inside the
// client namespace with its peer end moved straight into the server's, so
// it never appears in the host's namespace.
func setupLinux(b *bench, logFile *os.File) (string, *proc, error) {
	client, err := b.w.newNS()
	if err != nil {
		return "", nil, err
	}
	server, err := b.w.newNS()
	if err != nil {
		return client, nil, err
	}
	if err := runAll(append([][]string{
		{"ip", "-n", client, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", server},
		{"ip", "-n", client, "addr", "add", linuxAddr + "/" + prefixLen, "dev", "veth0"},
		{"ip", "-n", server, "addr", "add", serverAddr + "/" + prefixLen, "dev", "veth1"},
		{"ip", "-n", client, "addr", "add", linuxAddr6 + "/" + prefixLen6, "dev", "veth0", "nodad"},
		{"ip", "-n", server, "addr", "add", serverAddr6 + "/" + prefixLen6, "dev", "veth1", "nodad"},
		{"ip", "-n", client, "link", "set", "veth0", "up"},
		{"ip", "-n", server, "link", "set", "veth1", "up"},
		clientSysctls(client),
	}, addSources(client, "veth0")...)...); err != nil {
		return client, nil, err
	}
	cmd := exec.Command("ip", "netns", "exec", server, filepath.Join(b.binDir, "linux-server"),
		"--host", serverAddr, "--host6", serverAddr6,
		"--echo", strconv.Itoa(echoPort), "--discard", strconv.Itoa(discardPrt), "--source", strconv.Itoa(sourcePort),
		"--conns", strconv.Itoa(b.conns))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p, err := b.w.start(cmd)
	return client, p, err
}

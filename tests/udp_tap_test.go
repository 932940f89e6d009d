package tests

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/actnet/actnet"
)

const tapStackMAC = "02:ac:7e:00:00:02"

// tapStackNS makes a namespace with tap0 (Linux end 10.77.0.1/24) and starts
// actnet serve on it with the given extra flags.
func tapStackNS(t *testing.T, extra ...string) (*netns, *process) {
	t.Helper()
	ns := newNetns(t)
	return ns, serveOnTap(t, ns, append([]string{"--mac", tapStackMAC}, extra...)...)
}

// python runs a Python program inside the namespace, bounded in time.
func (n *netns) python(within time.Duration, program string, args ...string) (string, error) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	out, err := n.cmd(ctx, "python3", append([]string{"-c", program}, args...)...).CombinedOutput()
	return string(out), err
}

// stopAndCounters stops actnet with SIGINT and returns the counters it
// printed.
func stopAndCounters(t *testing.T, stack *process) string {
	t.Helper()
	if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("actnet exited %d; stderr:\n%s", code, stack.stderr.String())
	}
	return stack.stdout.String()
}

// printedStats reads the counters `actnet serve` printed (Stats.String)
// back into a Stats, by the names Values gives each field, so tests of the
// command read fields as in-process tests do; a counter not printed is
// zero, a printed line that names no counter fails the test.
func printedStats(t *testing.T, printed string) actnet.Stats {
	t.Helper()
	var st actnet.Stats
	type key struct{ layer, name string }
	fields := make(map[key]string)
	for _, v := range st.Values() {
		fields[key{v.Layer, v.Name}] = v.Field
	}
	layers := make(map[string]reflect.Value)
	sv := reflect.ValueOf(&st.Snapshot).Elem()
	for i := range sv.NumField() {
		layers[sv.Type().Field(i).Tag.Get("layer")] = sv.Field(i)
	}
	layer := ""
	for _, line := range strings.Split(strings.TrimSpace(printed), "\n") {
		if name, ok := strings.CutSuffix(line, ":"); ok && !strings.HasPrefix(line, " ") {
			layer = name
			continue
		}
		n, name, _ := strings.Cut(strings.TrimSpace(line), " ")
		v, err := strconv.ParseUint(n, 10, 64)
		f, ok := fields[key{layer, name}]
		if err != nil || !ok {
			t.Fatalf("printed counter line %q in layer %q names no counter", line, layer)
		}
		layers[layer].FieldByName(f).SetUint(v)
	}
	return st
}

// TestTapPingLarge: Linux's ping -s 6000 needs reassembly in and
// fragmentation out; 20 of 20 must come back.
func TestTapPingLarge(t *testing.T) {
	requireNetns(t, "ping")
	ns, stack := tapStackNS(t)
	out := ns.mustRun("ping", "-c", "20", "-i", "0.05", "-W", "2", "-s", "6000", tapStack)
	if !strings.Contains(out, "20 received") || !strings.Contains(out, " 0% packet loss") {
		t.Fatalf("ping -s 6000 lost packets:\n%s", out)
	}
	st := printedStats(t, stopAndCounters(t, stack))
	if n := st.IPv4.Reassembled; n < 20 {
		t.Errorf("%d datagrams reassembled, want at least 20", n)
	}
	if n := st.IPv4.Fragmented; n < 20 {
		t.Errorf("%d datagrams fragmented, want at least 20", n)
	}
}

const udpEchoClient = `
import socket, sys
sizes = [int(s) for s in sys.argv[2:]]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.settimeout(3)
s.connect((sys.argv[1], 7))
for i, n in enumerate(sizes):
    data = bytes((j * 7 + i) & 0xff for j in range(n))
    s.send(data)
    got = s.recv(70000)
    if got != data:
        print("MISMATCH", n, len(got))
        sys.exit(1)
    print("ok", n)
`

// TestTapUDPEcho: a Linux socket's datagrams from 1 byte to the IPv4
// maximum come back intact from actnet serve --app udp-echo:7.
func TestTapUDPEcho(t *testing.T) {
	requireNetns(t, "ping", "python3")
	ns, stack := tapStackNS(t, "--app", "udp-echo:7")
	sizes := []string{"1", "1472", "1473", "3000", "8000", "30000", "65507"}
	out, err := ns.python(30*time.Second, udpEchoClient, append([]string{tapStack}, sizes...)...)
	if err != nil {
		t.Fatalf("udp echo client: %v\n%s\nactnet stderr:\n%s", err, out, stack.stderr.String())
	}
	if got := strings.Count(out, "ok "); got != len(sizes) {
		t.Fatalf("%d of %d sizes echoed:\n%s", got, len(sizes), out)
	}
	printed := stopAndCounters(t, stack)
	if n := printedStats(t, printed).UDP.BadChecksum; n != 0 {
		t.Errorf("%d bad checksums", n)
	}
}

const udpRefusedClient = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], 9999))
s.send(b"anyone there?")
try:
    s.recv(100)
    print("GOT A REPLY")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("TIMEOUT")
`

// TestTapUDPClosedPort: the stack answers a datagram to a closed port with
// ICMP port unreachable, which Linux turns into ECONNREFUSED on the
// sender's connected socket.
func TestTapUDPClosedPort(t *testing.T) {
	requireNetns(t, "ping", "python3")
	ns, stack := tapStackNS(t, "--app", "udp-echo:7")
	out, err := ns.python(20*time.Second, udpRefusedClient, tapStack)
	if err != nil || strings.TrimSpace(out) != "refused" {
		t.Fatalf("closed port: %v\n%s", err, out)
	}
	printed := stopAndCounters(t, stack)
	if n := printedStats(t, printed).ICMPv4.UnreachableSent; n != 1 {
		t.Errorf("%d destination unreachable sent, want 1", n)
	}
}

// fragFlood writes hand-built Ethernet frames on tap0 through an AF_PACKET
// socket: the never-completed first fragments of 20,000 datagrams from 200
// sources, then overlapping fragments, then fragments reaching past 65,535
// bytes. Every frame goes to the stack's MAC on the namespace's own tap.
const fragFlood = `
import socket, struct, sys, time
stack_mac = bytes.fromhex(sys.argv[1].replace(":", ""))
dst = socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("tap0", 0))
src_mac = s.getsockname()[4]

def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return (~t) & 0xffff

def frag(src, ident, offset, more, payload, proto=17):
    flags = (0x2000 if more else 0) | (offset // 8)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return stack_mac + src_mac + b"\x08\x00" + h + payload

deadline = time.time() + 60
sent = 0
payload = bytes(1000)
for ident in range(100):
    for host in range(200):
        src = bytes([10, 88, host // 250, 1 + host % 250])
        s.send(frag(src, ident, 0, True, payload))
        sent += 1
    if time.time() > deadline:
        break
    # Pace the burst: on a loaded machine the tap's queue would otherwise
    # overflow before actnet reads it, and the test is about actnet's
    # memory, not the kernel's drops.
    time.sleep(0.002)
overlaps = 0
for ident in range(1000, 1100):
    src = bytes([10, 88, 9, 9])
    s.send(frag(src, ident, 0, True, payload))
    s.send(frag(src, ident, 496, True, payload))
    overlaps += 1
toolong = 0
for ident in range(2000, 2050):
    src = bytes([10, 88, 9, 10])
    s.send(frag(src, ident, 0, True, payload))
    s.send(frag(src, ident, 65000, False, payload))
    toolong += 1
print(sent, overlaps, toolong)
`

func vmRSSKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading actnet's status: %v", err)
	}
	m := regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// TestTapFragmentFlood is issue 4's reassembly acceptance: 20,000 first
// fragments that never complete, from 200 sources, plus overlapping
// fragments and fragments past 65,535 bytes. actnet's memory stays bounded
// (RSS under 256 MiB), every rejection is counted, and a 3000-byte ping
// works right after.
func TestTapFragmentFlood(t *testing.T) {
	requireNetns(t, "ping", "python3")
	ns, stack := tapStackNS(t)
	pid := stack.cmd.Process.Pid
	before := vmRSSKiB(t, pid)
	out, err := ns.python(90*time.Second, fragFlood, tapStackMAC, tapStack)
	if err != nil {
		t.Fatalf("flood: %v\n%s", err, out)
	}
	var sent, overlaps, toolong int
	fmt.Sscan(out, &sent, &overlaps, &toolong)
	if sent != 20000 {
		t.Fatalf("flood sent %d first fragments, want 20000:\n%s", sent, out)
	}
	peak := before
	for range 10 {
		peak = max(peak, vmRSSKiB(t, pid))
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("actnet RSS: %d KiB before the flood, %d KiB after", before, peak)
	if peak > 256*1024 {
		t.Errorf("actnet RSS %d KiB, above 256 MiB", peak)
	}
	ping := ns.mustRun("ping", "-c", "3", "-W", "2", "-s", "3000", tapStack)
	if !strings.Contains(ping, "3 received") {
		t.Fatalf("3000-byte ping after the flood:\n%s", ping)
	}
	st := printedStats(t, stopAndCounters(t, stack))
	frags := st.IPv4.FragmentsReceived
	evicted := st.IPv4.ReassemblyEvicted
	overlap := st.IPv4.FragOverlap
	tooLong := st.IPv4.FragTooLong
	ring := st.Link.RingFull
	t.Logf("fragments received %d, evicted %d, overlap %d, past 65535 %d, ring full %d", frags, evicted, overlap, tooLong, ring)
	// The kernel's tap queue may drop a few frames of the burst before
	// actnet sees them; nearly all must have been read and accounted.
	if total := sent + 2*overlaps + 2*toolong; frags+ring < uint64(total)*95/100 {
		t.Errorf("only %d fragments received and %d dropped at the ring, of %d sent", frags, ring, total)
	}
	if evicted < 10000 {
		t.Errorf("%d incomplete datagrams evicted; the cap should have pushed out most of 20,000", evicted)
	}
	if overlap == 0 || tooLong == 0 {
		t.Errorf("overlaps %d, past 65535 %d: want both counted", overlap, tooLong)
	}
}

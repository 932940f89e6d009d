package tests

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTapOffloadSuperFrames: with offloads on, TCP super-frames cross the
// tap both ways, as tcpdump on Linux's side of it sees: Linux hands the
// stack coalesced segments of many MSS, and the stack sends super-segments
// that Linux takes whole; a 4 MiB echo comes back intact.
func TestTapOffloadSuperFrames(t *testing.T) {
	requireNetns(t, "python3", "tcpdump")
	ns := newNetns(t)
	capture := filepath.Join(t.TempDir(), "wire.pcap")
	stack := serveOnTap(t, ns, "--offload", "auto", "--log-level", "info", "--app", "echo:9000")
	dump := ns.start("tcpdump", "-i", "tap0", "--immediate-mode", "-U", "-nn", "-s", "128", "-w", capture, "tcp port 9000")
	eventually(t, 10*time.Second, "tcpdump to listen", func() bool {
		return strings.Contains(dump.stderr.String(), "listening on")
	})
	peer(t, ns, 2*time.Minute, "echo", tapStack, "9000", "4194304")
	dump.stop(t, syscall.SIGINT, 10*time.Second)
	if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("actnet exited %d; stderr:\n%s", code, stack.stderr.String())
	}
	if !strings.Contains(stack.stderr.String(), "tso4") {
		t.Skipf("the kernel did not give the tap TSO:\n%s", stack.stderr.String())
	}
	fromStack, toStack := superFrames(t, capture, netip.MustParseAddr(tapStack))
	if fromStack == 0 || toStack == 0 {
		t.Errorf("super-frames on the tap: %d from the stack, %d to it; want both\n%s", fromStack, toStack, dump.stderr.String())
	}
}

// superFrames counts the IPv4 frames in the pcap file at path longer than
// a 1500-byte MTU allows, by whether stack sent them or they were sent to
// it.
func superFrames(t *testing.T, path string, stack netip.Addr) (from, to int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
		t.Fatalf("%s is not a little-endian microsecond pcap", path)
	}
	for b = b[24:]; len(b) >= 16; {
		incl, orig := int(binary.LittleEndian.Uint32(b[8:])), int(binary.LittleEndian.Uint32(b[12:]))
		if len(b) < 16+incl {
			break
		}
		f := b[16 : 16+incl]
		b = b[16+incl:]
		if orig <= 1514 || len(f) < 34 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
			continue
		}
		src, _ := netip.AddrFromSlice(f[26:30])
		if src == stack {
			from++
		} else {
			to++
		}
	}
	return from, to
}

//go:build linux

package device

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netnsEnv names the namespace the tap test body runs in. TestTap sets it
// for the child process it starts inside that namespace.
const netnsEnv = "ACTNET_DEVTEST_NETNS"

// TestTap creates a throw-away network namespace and runs TestTapInNetns in
// a child process inside it, so that the tap and everything Linux does with
// it stays away from the host's interfaces.
func TestTap(t *testing.T) {
	if os.Getenv(netnsEnv) != "" {
		t.Skip("already inside the test namespace")
	}
	if os.Geteuid() != 0 {
		t.Skip("tap test skipped: needs root to create a network namespace and a tap device")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("tap test skipped: the ip command (iproute2) is not installed")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("tap test skipped: no /dev/net/tun: %v", err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	ns := "actnet-devtest-" + hex.EncodeToString(rnd[:])
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("tap test skipped: cannot create network namespace %s: %v: %s", ns, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ip, "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	cmd := exec.Command(ip, "netns", "exec", ns, os.Args[0],
		"-test.run=^TestTapInNetns$", "-test.v", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), netnsEnv+"="+ns)
	out, err := cmd.CombinedOutput()
	t.Logf("child in %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("tap test in namespace %s failed: %v", ns, err)
	}
	if !strings.Contains(string(out), "--- PASS: TestTapInNetns") {
		t.Fatal("the child did not run TestTapInNetns")
	}
}

// inNetns reports whether this process is in the named namespace, by
// comparing its network namespace with the one ip netns pinned.
func inNetns(ns string) bool {
	var self, want syscall.Stat_t
	if syscall.Stat("/proc/self/ns/net", &self) != nil || syscall.Stat("/run/netns/"+ns, &want) != nil {
		return false
	}
	return self.Dev == want.Dev && self.Ino == want.Ino
}

func TestTapInNetns(t *testing.T) {
	ns := os.Getenv(netnsEnv)
	if ns == "" {
		t.Skip("runs only inside the namespace TestTap creates")
	}
	if !inNetns(ns) {
		t.Fatalf("refusing to run: not inside network namespace %s", ns)
	}
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}

	t.Run("bad MTU leaves nothing behind", func(t *testing.T) {
		if tap, err := OpenTap(TapConfig{Name: "actnetbad", MTU: 10}); err == nil {
			tap.Close()
			t.Fatal("MTU 10 accepted")
		}
		if _, err := net.InterfaceByName("actnetbad"); err == nil {
			t.Fatal("failed OpenTap left its interface behind")
		}
	})

	t.Run("ARP through Linux", func(t *testing.T) {
		before := runtime.NumGoroutine()
		tap, err := OpenTap(TapConfig{Name: "actnet0", MTU: 1400, BringUp: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tap.Close()
		ifi, err := net.InterfaceByName("actnet0")
		if err != nil {
			t.Fatal(err)
		}
		if tap.Name() != "actnet0" || tap.MTU() != 1400 || ifi.MTU != 1400 || ifi.Flags&net.FlagUp == 0 {
			t.Fatalf("name %q MTU %d, Linux MTU %d flags %v", tap.Name(), tap.MTU(), ifi.MTU, ifi.Flags)
		}
		mac := tap.HardwareAddr()
		if len(mac) != 6 || mac[0]&0x03 != 0x02 || bytes.Equal(mac, ifi.HardwareAddr) {
			t.Fatalf("stack MAC %v, Linux MAC %v", mac, ifi.HardwareAddr)
		}
		linuxIP := net.IPv4(10, 200, 0, 1).To4()
		sh("addr", "add", "10.200.0.1/24", "dev", "actnet0")

		// Five requests from five addresses; Linux answers each.
		const asks = 5
		for i := range asks {
			req := arpRequest(mac, net.IPv4(10, 200, 0, byte(2+i)).To4(), linuxIP)
			if err := tap.Write(req); err != nil {
				t.Fatal(err)
			}
		}
		bufs, sizes := newBufs(64, 2048)
		replies := map[string]bool{}
		deadline := time.Now().Add(30 * time.Second)
		for len(replies) < asks {
			if time.Now().After(deadline) {
				t.Fatalf("got %d ARP replies, want %d", len(replies), asks)
			}
			n := readTimeout(t, tap, bufs, sizes, readWait)
			for i := range n {
				if ip, ok := arpReplyTo(bufs[i][:sizes[i]], mac, ifi.HardwareAddr, linuxIP); ok {
					replies[ip.String()] = true
				}
			}
		}

		// One ReadBatch drains every frame that is ready. Frames sent
		// through a packet socket that bypasses the qdisc are in the
		// tap's queue when their sendto returns: no waiting for Linux.
		const queued = 5
		injectFrames(t, ifi.Index, mac, queued)
		n := readTimeout(t, tap, bufs, sizes, readWait)
		got := 0
		for i := range n {
			if injected(bufs[i][:sizes[i]]) {
				got++
			}
		}
		if got != queued {
			t.Errorf("one ReadBatch returned %d frames, %d of the %d queued, want them all at once", n, got, queued)
		}

		// Reading and writing a tap allocates nothing per frame.
		req := arpRequest(mac, net.IPv4(10, 200, 0, 2).To4(), linuxIP)
		allocs := testing.AllocsPerRun(20, func() {
			if err := tap.Write(req); err != nil {
				t.Fatal(err)
			}
			if _, err := tap.ReadBatch(bufs, sizes); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v allocations per tap write and read, want 0", allocs)
		}

		// A frame longer than its buffer is dropped and counted, the read
		// stays blocked, and Close unblocks it.
		small, smallSizes := newBufs(4, 20)
		errc := make(chan error, 1)
		go func() {
			_, err := tap.ReadBatch(small, smallSizes)
			errc <- err
		}()
		tooLong := tap.Stats().DropsTooLong
		if err := tap.Write(arpRequest(mac, net.IPv4(10, 200, 0, 9).To4(), linuxIP)); err != nil {
			t.Fatal(err)
		}
		for tap.Stats().DropsTooLong == tooLong {
			if time.Now().After(deadline) {
				t.Fatal("short-buffer drop not counted")
			}
			time.Sleep(5 * time.Millisecond) // polling for the count
		}
		// A ReadBatch that returned after the drop would answer nil
		// below, after Close, instead of ErrClosed; this only names the
		// mistake sooner.
		select {
		case err := <-errc:
			t.Fatalf("ReadBatch returned (%v) though every frame was dropped", err)
		default:
		}
		if err := tap.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("ReadBatch after Close: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Close did not unblock ReadBatch")
		}
		if err := tap.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := tap.Write(make([]byte, 60)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Write after Close: %v", err)
		}
		if _, err := tap.ReadBatch(bufs, sizes); !errors.Is(err, ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v", err)
		}
		st := tap.Stats()
		if st.FramesOut != asks+22 || st.FramesIn < asks || st.DropsTooLong == 0 {
			t.Fatalf("stats %+v", st)
		}
		if _, err := net.InterfaceByName("actnet0"); err == nil {
			t.Error("the tap OpenTap created outlived Close")
		}
		waitGoroutines(t, before)
	})

	t.Run("virtio-net header and offloads", func(t *testing.T) {
		tap, err := OpenTap(TapConfig{Name: "actnet2", BringUp: true, Offload: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tap.Close()
		f := tap.Offloads()
		t.Logf("negotiated %+v", f)
		if !f.Csum {
			t.Skip("the kernel refused TUN_F_CSUM")
		}
		ifi, err := net.InterfaceByName("actnet2")
		if err != nil {
			t.Fatal(err)
		}
		mac := tap.HardwareAddr()
		linuxIP := net.IPv4(10, 201, 0, 1).To4()
		sh("addr", "add", "10.201.0.1/24", "dev", "actnet2")
		// A plain frame goes out behind a zero header and the answer
		// comes back behind one, with zero metadata.
		if err := tap.Write(arpRequest(mac, net.IPv4(10, 201, 0, 2).To4(), linuxIP)); err != nil {
			t.Fatal(err)
		}
		bufs, sizes := newBufs(64, MaxOffloadFrame)
		meta := make([]Offload, 64)
		deadline := time.Now().Add(30 * time.Second)
	wait:
		for {
			if time.Now().After(deadline) {
				t.Fatal("no ARP reply through the offload tap")
			}
			n, err := tap.ReadBatchOffload(bufs, sizes, meta)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if _, ok := arpReplyTo(bufs[i][:sizes[i]], mac, ifi.HardwareAddr, linuxIP); ok {
					if !meta[i].IsZero() {
						t.Fatalf("ARP reply with metadata %+v", meta[i])
					}
					break wait
				}
			}
		}
		// A super-segment TSO was not negotiated for is refused; one it
		// was is taken whole, beyond the MTU.
		frame, o := superFrame(false, make([]byte, 4000), 1, 0x18, 1460)
		copy(frame[0:6], ifi.HardwareAddr)
		copy(frame[6:12], mac)
		if f.TSO4 {
			if err := tap.WriteOffload(frame, o); err != nil {
				t.Fatalf("super-segment refused: %v", err)
			}
		}
		if err := tap.WriteOffload(frame, Offload{}); !errors.Is(err, ErrFrameTooLong) {
			t.Fatalf("a 4 KB frame without GSO: %v, want ErrFrameTooLong", err)
		}
		// A bogus header from the kernel is counted and dropped.
		bad := tap.Stats().DropsBadOffload
		EncodeVirtioNetHdr(tap.rhdr[:], Offload{GSO: 9, GSOSize: 1, NeedsCsum: true, CsumStart: 60000})
		tap.rmeta = meta
		if tap.takeMeta(frame) {
			t.Fatal("a bogus virtio-net header was taken")
		}
		tap.rmeta = nil
		if got := tap.Stats().DropsBadOffload; got != bad+1 {
			t.Fatalf("DropsBadOffload %d, want %d", got, bad+1)
		}
		// Reading and writing allocate nothing per frame here either.
		req := arpRequest(mac, net.IPv4(10, 201, 0, 2).To4(), linuxIP)
		allocs := testing.AllocsPerRun(20, func() {
			if err := tap.Write(req); err != nil {
				t.Fatal(err)
			}
			if _, err := tap.ReadBatchOffload(bufs, sizes, meta); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v allocations per offload tap write and read, want 0", allocs)
		}
	})

	t.Run("existing tap stays", func(t *testing.T) {
		sh("tuntap", "add", "dev", "actnet1", "mode", "tap")
		tap, err := OpenTap(TapConfig{Name: "actnet1"})
		if err != nil {
			t.Fatal(err)
		}
		if tap.MTU() != 1500 {
			t.Errorf("MTU %d, want the default 1500", tap.MTU())
		}
		if err := tap.Write(make([]byte, 10)); !errors.Is(err, ErrFrameTooShort) {
			t.Errorf("short frame: %v", err)
		}
		tap.Close()
		if _, err := net.InterfaceByName("actnet1"); err != nil {
			t.Fatalf("closing deleted a tap it did not create: %v", err)
		}
		sh("link", "del", "actnet1")
	})
}

// injectedType is the EtherType of the frames injectFrames sends (IEEE's
// local experimental EtherType 1).
const injectedType = 0x88b5

// injectFrames sends n frames to mac out of Linux's side of the tap with
// index ifindex, through a packet socket that bypasses the qdisc: the
// frame is in the tap's queue when sendto returns.
func injectFrames(t *testing.T, ifindex int, mac net.HardwareAddr, n int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) // 0: sends only
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		t.Fatalf("PACKET_QDISC_BYPASS: %v", err)
	}
	to := &unix.SockaddrLinklayer{Ifindex: ifindex, Protocol: htons(injectedType), Halen: 6}
	copy(to.Addr[:], mac)
	for i := range n {
		f := make([]byte, 60)
		copy(f[0:6], mac)
		copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 0x99})
		binary.BigEndian.PutUint16(f[12:], injectedType)
		f[14] = byte(i)
		if err := unix.Sendto(fd, f, 0, to); err != nil {
			t.Fatalf("inject frame %d: %v", i, err)
		}
	}
}

// injected reports whether f is one of injectFrames' frames.
func injected(f []byte) bool {
	return len(f) >= 14 && binary.BigEndian.Uint16(f[12:]) == injectedType
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// arpRequest builds a broadcast ARP request from mac/spa asking for tpa,
// padded to the Ethernet minimum.
func arpRequest(mac net.HardwareAddr, spa, tpa net.IP) []byte {
	f := make([]byte, 60)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1) // request
	copy(a[8:14], mac)
	copy(a[14:18], spa)
	copy(a[24:28], tpa)
	return f
}

// arpReplyTo reports whether f is an ARP reply from linuxMAC/linuxIP to
// mac, and for which of our addresses.
func arpReplyTo(f []byte, mac, linuxMAC net.HardwareAddr, linuxIP net.IP) (net.IP, bool) {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != 0x0806 || !bytes.Equal(f[0:6], mac) {
		return nil, false
	}
	a := f[14:]
	if binary.BigEndian.Uint16(a[6:]) != 2 || !bytes.Equal(a[8:14], linuxMAC) ||
		!bytes.Equal(a[14:18], linuxIP) || !bytes.Equal(a[18:24], mac) {
		return nil, false
	}
	return net.IP(bytes.Clone(a[24:28])), true
}

package tests

import (
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet/device"
)

// TestTCPOffloadMemory runs echo over a memory link with checksum and
// segmentation offloads, both families: the data arrives intact, and the
// link carried super-frames (more bytes per frame than the MTU allows a
// plain one), so TSO on send and super-frames on receive both ran.
func TestTCPOffloadMemory(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		name := "ipv4"
		if v6 {
			name = "ipv6"
		}
		t.Run(name, func(t *testing.T) {
			cfg := device.MemoryConfig{Offload: true}
			var to netip.AddrPort
			a, b, da, db := pair(t, cfg)
			to = netip.AddrPortFrom(b.Addr(), 9000)
			if v6 {
				a, b, da, db = pair6With(t, true, cfg)
				to = netip.AddrPortFrom(v6B.Addr(), 9000)
			}
			l, err := b.Listen("tcp", ":9000")
			if err != nil {
				t.Fatal(err)
			}
			echoServer(t, l)
			for _, n := range []int{1, 4096, 200 << 10, 4 << 20} {
				echoRoundTrip(t, a, to, randomBytes(n), 30*time.Second)
			}
			for _, d := range []*device.Memory{da, db} {
				st := d.Stats()
				if st.FramesIn == 0 || st.BytesIn/st.FramesIn <= 1514 {
					t.Errorf("%d bytes in %d frames: no super-frames crossed", st.BytesIn, st.FramesIn)
				}
				if st.DropsBadOffload != 0 || st.DropsInvalid != 0 || st.DropsTooLong != 0 {
					t.Errorf("device drops: %+v", st)
				}
			}
			// The receiver trusted the partial checksums: none failed.
			if got := b.Stats().TCP.BadChecksum + a.Stats().TCP.BadChecksum; got != 0 {
				t.Errorf("%d segments failed their checksum", got)
			}
		})
	}
}

// TestTCPOffloadLossyMemory: with offloads on and a lossy link, which cuts
// super-segments into packets and drops, duplicates, reorders and corrupts
// them one by one as a router would, recovery (retransmissions in MSS,
// SACK) still delivers every byte intact.
func TestTCPOffloadLossyMemory(t *testing.T) {
	faults := func(seed int64) device.Faults {
		return device.Faults{Seed: seed, DropPercent: 2, DuplicatePercent: 1, ReorderPercent: 2, CorruptPercent: 1}
	}
	a, b, da, _ := pair(t, device.MemoryConfig{Offload: true, FaultsAToB: faults(21), FaultsBToA: faults(22)})
	l, err := b.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	echoServer(t, l)
	size := 8 << 20
	if testing.Short() {
		size = 2 << 20
	}
	echoRoundTrip(t, a, netip.AddrPortFrom(b.Addr(), 9000), randomBytes(size), 5*time.Minute)
	if fs := da.FaultStats(); fs.Dropped == 0 || fs.Corrupted == 0 {
		t.Errorf("faults %+v: the link dropped or corrupted nothing", fs)
	}
	if a.Stats().TCP.BadChecksum+b.Stats().TCP.BadChecksum == 0 {
		t.Error("no corrupted segment was caught: the checksums were not verified")
	}
}

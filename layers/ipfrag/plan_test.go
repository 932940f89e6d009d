package ipfrag

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func collect(t *testing.T, payloadLen, mtu, headerLen int) []Fragment {
	t.Helper()
	p, err := NewPlan(payloadLen, mtu, headerLen)
	if err != nil {
		t.Fatalf("NewPlan(%d, %d, %d): %v", payloadLen, mtu, headerLen, err)
	}
	var fs []Fragment
	for f := range p.All() {
		fs = append(fs, f)
	}
	if len(fs) != p.Count() {
		t.Fatalf("All yielded %d, Count %d", len(fs), p.Count())
	}
	for i, f := range fs {
		g, ok := p.At(i)
		if !ok || g != f {
			t.Fatalf("At(%d) = %+v %v, All gave %+v", i, g, ok, f)
		}
	}
	checkPlan(t, fs, payloadLen, mtu, headerLen)
	return fs
}

// checkPlan asserts the invariants of RFC 791 §3.2 fragmentation: the
// pieces tile the payload in order, every packet fits the MTU, offsets
// are 8-byte aligned, and MF is set on all but the last.
func checkPlan(t *testing.T, fs []Fragment, payloadLen, mtu, headerLen int) {
	t.Helper()
	next := 0
	for i, f := range fs {
		last := i == len(fs)-1
		if f.Offset != next {
			t.Fatalf("fragment %d at %d, want %d", i, f.Offset, next)
		}
		if f.Offset%8 != 0 || f.Offset/8 > 8191 {
			t.Fatalf("fragment %d offset %d not expressible", i, f.Offset)
		}
		if headerLen+f.Len > mtu {
			t.Fatalf("fragment %d: %d+%d exceeds MTU %d", i, headerLen, f.Len, mtu)
		}
		if f.More == last {
			t.Fatalf("fragment %d of %d: More=%v", i, len(fs), f.More)
		}
		if !last && (f.Len%8 != 0 || f.Len == 0) {
			t.Fatalf("non-final fragment %d has length %d", i, f.Len)
		}
		next += f.Len
	}
	if next != payloadLen {
		t.Fatalf("plan covers %d of %d bytes", next, payloadLen)
	}
}

func TestPlanBoundaries(t *testing.T) {
	// UDP over IPv4 at MTU 1500: 1472 bytes of data plus the 8-byte UDP
	// header is the largest unfragmented datagram.
	if fs := collect(t, 1472+8, 1500, 20); len(fs) != 1 || fs[0] != (Fragment{0, 1480, false}) {
		t.Errorf("1472: %+v", fs)
	}
	if fs := collect(t, 1473+8, 1500, 20); len(fs) != 2 || fs[0] != (Fragment{0, 1480, true}) || fs[1] != (Fragment{1480, 1, false}) {
		t.Errorf("1473: %+v", fs)
	}
	// The largest UDP payload over IPv4, 65507 bytes: 45 fragments.
	fs := collect(t, 65507+8, 1500, 20)
	if len(fs) != 45 || fs[44] != (Fragment{44 * 1480, 65515 - 44*1480, false}) {
		t.Errorf("65507: %d fragments, last %+v", len(fs), fs[len(fs)-1])
	}
	// An MTU that leaves an unaligned room: fragments carry the aligned
	// part, but an unfragmented datagram may use all of it.
	if fs := collect(t, 1479, 1499, 20); len(fs) != 1 {
		t.Errorf("1479 in room 1479: %+v", fs)
	}
	if fs := collect(t, 1480, 1499, 20); len(fs) != 2 || fs[0].Len != 1472 || fs[1] != (Fragment{1472, 8, false}) {
		t.Errorf("1480 in room 1479: %+v", fs)
	}
	// RFC 791's minimum: MTU 68 with a 60-byte header leaves 8 bytes.
	if fs := collect(t, 100, 68, 60); len(fs) != 13 || fs[12] != (Fragment{96, 4, false}) {
		t.Errorf("MTU 68: %d fragments, last %+v", len(fs), fs[len(fs)-1])
	}
	// IPv6 at its minimum MTU: 40 + 8 (Fragment header) of header.
	if fs := collect(t, 65535, 1280, 48); len(fs) != 54 {
		t.Errorf("IPv6 65535: %d fragments", len(fs))
	}
	if fs := collect(t, 0, 1500, 20); len(fs) != 1 || fs[0] != (Fragment{}) {
		t.Errorf("empty: %+v", fs)
	}
}

func TestPlanErrors(t *testing.T) {
	cases := []struct {
		payload, mtu, hdr int
		err               error
	}{
		{-1, 1500, 20, ErrBadLength},
		{10, -1, 20, ErrBadLength},
		{10, 1500, -1, ErrBadLength},
		{65536, 1500, 20, ErrPayloadTooLong},
		{100, 27, 20, ErrMTUTooSmall},
		{100, 20, 20, ErrMTUTooSmall},
		{100, 10, 20, ErrMTUTooSmall},
	}
	for _, c := range cases {
		if _, err := NewPlan(c.payload, c.mtu, c.hdr); !errors.Is(err, c.err) {
			t.Errorf("NewPlan(%d, %d, %d) = %v, want %v", c.payload, c.mtu, c.hdr, err, c.err)
		}
	}
	// Tiny payloads fit even where no fragment could be cut.
	if p, err := NewPlan(7, 27, 20); err != nil || p.Count() != 1 {
		t.Errorf("7 bytes in room 7: %v %v", p, err)
	}
	var p Plan
	if _, ok := p.At(0); ok || p.Count() != 0 {
		t.Error("zero Plan not empty")
	}
	p, _ = NewPlan(3000, 1500, 20)
	for _, i := range []int{-1, 3, 1 << 40} {
		if f, ok := p.At(i); ok || f != (Fragment{}) {
			t.Errorf("At(%d) = %+v, %v", i, f, ok)
		}
	}
	// Stopping early must stop.
	n := 0
	for range p.All() {
		n++
		break
	}
	if n != 1 {
		t.Error("break ignored")
	}
}

func TestPlanRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		payload := rng.IntN(MaxOffsetLen + 1)
		hdr := rng.IntN(61)
		mtu := hdr + 8 + rng.IntN(9000)
		collect(t, payload, mtu, hdr)
	}
}

func TestPlanNoAllocs(t *testing.T) {
	p, _ := NewPlan(65515, 1500, 20)
	sum := 0
	if a := testing.AllocsPerRun(100, func() {
		for i := range p.Count() {
			f, _ := p.At(i)
			sum += f.Len
		}
	}); a != 0 {
		t.Errorf("At loop: %v allocs", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		for f := range p.All() {
			sum += f.Len
		}
	}); a != 0 {
		t.Errorf("range over All: %v allocs", a)
	}
	if sum == 0 {
		t.Fatal("no work")
	}
}

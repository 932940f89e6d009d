package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testFrame builds a frame of n bytes whose payload carries seq, so tests
// can tell frames apart and detect corruption.
func testFrame(dst, src []byte, seq uint32, n int) []byte {
	f := make([]byte, n)
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:14], 0x88b5) // local experimental EtherType
	if n < 18 {
		return f
	}
	binary.BigEndian.PutUint32(f[14:18], seq)
	for i := 18; i < n; i++ {
		f[i] = byte(seq) ^ byte(i)
	}
	return f
}

func newBufs(n, size int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n)
}

// readTimeout reads one batch, failing the test if nothing arrives in d.
func readTimeout(t *testing.T, d Device, bufs [][]byte, sizes []int, timeout time.Duration) int {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		n, err := d.ReadBatch(bufs, sizes)
		ch <- result{n, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("ReadBatch: %v", r.err)
		}
		return r.n
	case <-time.After(timeout):
		t.Fatalf("ReadBatch: nothing within %v", timeout)
		return 0
	}
}

// readWait bounds every wait of these tests for the link: a failure
// timeout, never a timing assertion, generous enough for a loaded machine
// under -race.
const readWait = 30 * time.Second

// waitBlockedReaders returns once read holds and n goroutines wait inside
// Memory.ReadBatch for a frame. It fails the test after 30 s.
func waitBlockedReaders(t *testing.T, n int, read func() bool) {
	t.Helper()
	deadline := time.Now().Add(readWait)
	buf := make([]byte, 1<<20)
	for {
		if read() {
			blocked := 0
			for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
				header, _, _ := strings.Cut(g, "\n")
				if strings.Contains(header, "[select") && strings.Contains(g, "device.(*Memory).ReadBatch") {
					blocked++
				}
			}
			if blocked >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d readers blocked in ReadBatch within 30 s", n)
		}
		time.Sleep(time.Millisecond) // polling for the state
	}
}

// waitGoroutines polls until the goroutine count drops to want or below.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(readWait)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d, want <= %d\n%s", n, want, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMemoryBothWays(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{})
	defer a.Close()
	defer b.Close()
	if a.MTU() != DefaultMTU || b.MTU() != DefaultMTU {
		t.Fatalf("MTU = %d, %d", a.MTU(), b.MTU())
	}
	ma, mb := a.HardwareAddr(), b.HardwareAddr()
	if bytes.Equal(ma, mb) || len(ma) != 6 || ma[0]&0x03 != 0x02 || mb[0]&0x03 != 0x02 {
		t.Fatalf("MACs %v %v: want distinct unicast locally administered", ma, mb)
	}
	bufs, sizes := newBufs(4, 2048)
	for _, dir := range []struct {
		from, to *Memory
	}{{a, b}, {b, a}} {
		f := testFrame(dir.to.HardwareAddr(), dir.from.HardwareAddr(), 7, 100)
		want := bytes.Clone(f)
		if err := dir.from.Write(f); err != nil {
			t.Fatal(err)
		}
		f[20] ^= 0xff // the caller reuses its buffer; the link must have copied
		n := readTimeout(t, dir.to, bufs, sizes, readWait)
		if n != 1 || !bytes.Equal(bufs[0][:sizes[0]], want) {
			t.Fatalf("got %d frames, first %x", n, bufs[0][:sizes[0]])
		}
	}
	if s := a.Stats(); s.FramesOut != 1 || s.FramesIn != 1 || s.BytesOut != 100 || s.BytesIn != 100 {
		t.Fatalf("stats a = %+v", s)
	}
}

func TestMemoryConfigMACs(t *testing.T) {
	ma := []byte{0x02, 0, 0, 0, 0, 1}
	mb := []byte{0x02, 0, 0, 0, 0, 2}
	a, b := NewMemoryPair(MemoryConfig{MACA: ma, MACB: mb, MTU: 9000})
	defer a.Close()
	defer b.Close()
	if !bytes.Equal(a.HardwareAddr(), ma) || !bytes.Equal(b.HardwareAddr(), mb) || a.MTU() != 9000 {
		t.Fatalf("got %v %v %d", a.HardwareAddr(), b.HardwareAddr(), a.MTU())
	}
	if err := a.Write(make([]byte, 9014)); err != nil {
		t.Fatalf("write of a full jumbo frame: %v", err)
	}
}

func TestMemoryBatch(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{})
	defer a.Close()
	defer b.Close()
	for i := range 10 {
		if err := a.Write(testFrame(b.HardwareAddr(), a.HardwareAddr(), uint32(i), 60+i)); err != nil {
			t.Fatal(err)
		}
	}
	bufs, sizes := newBufs(16, 2048)
	n := readTimeout(t, b, bufs, sizes, readWait)
	if n != 10 {
		t.Fatalf("ReadBatch returned %d frames, want all 10", n)
	}
	for i := range n {
		if sizes[i] != 60+i || binary.BigEndian.Uint32(bufs[i][14:]) != uint32(i) {
			t.Fatalf("frame %d: size %d seq %d", i, sizes[i], binary.BigEndian.Uint32(bufs[i][14:]))
		}
	}

	// WriteBatch, and a ReadBatch smaller than what is ready.
	frames := make([][]byte, 5)
	for i := range frames {
		frames[i] = testFrame(b.HardwareAddr(), a.HardwareAddr(), uint32(100+i), 64)
	}
	if err := a.WriteBatch(frames); err != nil {
		t.Fatal(err)
	}
	if n := readTimeout(t, b, bufs[:3], sizes[:3], readWait); n != 3 {
		t.Fatalf("first read %d, want 3", n)
	}
	if n := readTimeout(t, b, bufs, sizes, readWait); n != 2 || binary.BigEndian.Uint32(bufs[1][14:]) != 104 {
		t.Fatalf("second read %d", n)
	}
}

func TestMemoryInvalidAndTooLong(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{MTU: 100})
	defer a.Close()
	defer b.Close()
	if err := a.Write(make([]byte, 13)); !errors.Is(err, ErrFrameTooShort) {
		t.Fatalf("short frame: %v", err)
	}
	if err := a.Write(make([]byte, 115)); !errors.Is(err, ErrFrameTooLong) {
		t.Fatalf("long frame: %v", err)
	}
	if got := a.Stats().DropsInvalid; got != 2 {
		t.Fatalf("DropsInvalid = %d", got)
	}
	// A frame longer than the reader's buffer is dropped, not truncated,
	// and the next one still arrives.
	_ = a.Write(make([]byte, 114))
	_ = a.Write(make([]byte, 50))
	bufs, sizes := newBufs(2, 64)
	if n := readTimeout(t, b, bufs, sizes, readWait); n != 1 || sizes[0] != 50 {
		t.Fatalf("got %d frames, size %d", n, sizes[0])
	}
	if got := b.Stats().DropsTooLong; got != 1 {
		t.Fatalf("DropsTooLong = %d", got)
	}
}

func TestMemoryRingOverflow(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{RingSize: 8})
	defer a.Close()
	defer b.Close()
	for i := range 20 {
		if err := a.Write(testFrame(b.HardwareAddr(), a.HardwareAddr(), uint32(i), 64)); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.Stats().DropsRingFull; got != 12 {
		t.Fatalf("DropsRingFull = %d, want 12", got)
	}
	bufs, sizes := newBufs(32, 2048)
	if n := readTimeout(t, b, bufs, sizes, readWait); n != 8 {
		t.Fatalf("read %d, want the 8 the ring held", n)
	}
	// Tail drop: the first eight survive.
	if seq := binary.BigEndian.Uint32(bufs[7][14:]); seq != 7 {
		t.Fatalf("last kept seq %d", seq)
	}
}

func TestMemoryCloseUnblocks(t *testing.T) {
	before := runtime.NumGoroutine()
	// Delay starts each direction's timer goroutine, which Close must stop.
	a, b := NewMemoryPair(MemoryConfig{
		FaultsAToB: Faults{Delay: time.Millisecond},
		FaultsBToA: Faults{Delay: time.Millisecond, Jitter: time.Millisecond},
	})
	_ = a.Write(make([]byte, 60))
	_ = b.Write(make([]byte, 60))
	errs := make(chan error, 2)
	for _, d := range []*Memory{a, b} {
		go func() {
			bufs, sizes := newBufs(1, 64)
			for {
				if _, err := d.ReadBatch(bufs, sizes); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Both readers have taken their frame and wait for the next: Close
	// must wake a blocked reader, not one that has yet to start.
	waitBlockedReaders(t, 2, func() bool { return a.Stats().FramesIn == 1 && b.Stats().FramesIn == 1 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// b's frames now fall on the floor, counted.
	if err := b.Write(make([]byte, 60)); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("ReadBatch after Close: %v", err)
			}
		case <-time.After(readWait):
			t.Fatal("Close did not unblock ReadBatch")
		}
	}
	if err := a.Write(make([]byte, 60)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	waitGoroutines(t, before)
}

func TestMemoryNoCarrier(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{})
	defer a.Close()
	_ = b.Close()
	if err := a.Write(make([]byte, 60)); err != nil {
		t.Fatal(err)
	}
	if got := a.Stats().DropsNoCarrier; got != 1 {
		t.Fatalf("DropsNoCarrier = %d", got)
	}
}

func TestFaultsValidate(t *testing.T) {
	for _, f := range []Faults{
		{DropPercent: -1}, {CorruptPercent: 101}, {ReorderPercent: math.NaN()},
		{Delay: -1}, {Jitter: -time.Second}, {RateBytesPerSec: -5},
	} {
		if f.Validate() == nil {
			t.Errorf("%+v: want error", f)
		}
	}
	a, b := NewMemoryPair(MemoryConfig{})
	defer a.Close()
	defer b.Close()
	if a.SetFaults(Faults{DuplicatePercent: 200}) == nil {
		t.Fatal("SetFaults accepted 200%")
	}
	f := Faults{Seed: 3, DropPercent: 100}
	if err := a.SetFaults(f); err != nil || a.Faults() != f {
		t.Fatalf("SetFaults: %v, Faults() = %+v", err, a.Faults())
	}
}

// runFaults writes n numbered frames through a link with faults f and no
// delay, and returns what arrived (sequence numbers, -1 for a corrupted
// frame) and the fault counters.
func runFaults(t *testing.T, f Faults, n int) ([]int, FaultStats) {
	t.Helper()
	a, b := NewMemoryPair(MemoryConfig{RingSize: 4 * n, FaultsAToB: f})
	defer a.Close()
	defer b.Close()
	for i := range n {
		if err := a.Write(testFrame(b.HardwareAddr(), a.HardwareAddr(), uint32(i), 200)); err != nil {
			t.Fatal(err)
		}
	}
	// A last frame, sent clean, overtakes a frame still held by a reorder
	// so that everything is in b's ring now, however slow this run was.
	if err := a.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Write(testFrame(b.HardwareAddr(), a.HardwareAddr(), uint32(n), 200)); err != nil {
		t.Fatal(err)
	}
	var got []int
	bufs, sizes := newBufs(4*n, 2048)
	for queued(b) > 0 || len(got) == 0 {
		m := readTimeout(t, b, bufs, sizes, readWait)
		for i := range m {
			fr := bufs[i][:sizes[i]]
			seq := binary.BigEndian.Uint32(fr[14:])
			if int(seq) == n && bytes.Equal(fr, testFrame(b.HardwareAddr(), a.HardwareAddr(), seq, 200)) {
				continue // the closing frame
			}
			if int(seq) >= n || !bytes.Equal(fr, testFrame(b.HardwareAddr(), a.HardwareAddr(), seq, 200)) {
				got = append(got, -1)
				continue
			}
			got = append(got, int(seq))
		}
	}
	return got, a.FaultStats()
}

func TestFaultRatesAndDeterminism(t *testing.T) {
	const n = 4000
	for _, tc := range []struct {
		name  string
		f     Faults
		count func(FaultStats) uint64
		check func(t *testing.T, got []int)
	}{
		{"drop", Faults{Seed: 1, DropPercent: 10}, func(s FaultStats) uint64 { return s.Dropped },
			func(t *testing.T, got []int) {
				if d := n - len(got); math.Abs(float64(d)-0.10*n) > 0.03*n {
					t.Errorf("%d of %d frames lost, want about 10%%", d, n)
				}
			}},
		{"duplicate", Faults{Seed: 2, DuplicatePercent: 5}, func(s FaultStats) uint64 { return s.Duplicated },
			func(t *testing.T, got []int) {
				dups := 0
				for i := 1; i < len(got); i++ {
					if got[i] == got[i-1] {
						dups++
					}
				}
				if math.Abs(float64(dups)-0.05*n) > 0.02*n || len(got) != n+dups {
					t.Errorf("%d duplicates in %d frames, want about 5%%", dups, len(got))
				}
			}},
		{"reorder", Faults{Seed: 3, ReorderPercent: 5, ReorderHold: time.Minute}, func(s FaultStats) uint64 { return s.Reordered },
			func(t *testing.T, got []int) {
				swaps := 0
				for i := 1; i < len(got); i++ {
					if got[i] < got[i-1] {
						swaps++
					}
				}
				if math.Abs(float64(swaps)-0.05*n) > 0.02*n || len(got) != n {
					t.Errorf("%d out-of-order in %d frames, want about 5%%", swaps, len(got))
				}
			}},
		{"corrupt", Faults{Seed: 4, CorruptPercent: 3}, func(s FaultStats) uint64 { return s.Corrupted },
			func(t *testing.T, got []int) {
				bad := 0
				for _, s := range got {
					if s < 0 {
						bad++
					}
				}
				if math.Abs(float64(bad)-0.03*n) > 0.015*n || len(got) != n {
					t.Errorf("%d corrupted in %d frames, want about 3%%", bad, len(got))
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got1, st1 := runFaults(t, tc.f, n)
			got2, st2 := runFaults(t, tc.f, n)
			tc.check(t, got1)
			if st1 != st2 || fmt.Sprint(got1) != fmt.Sprint(got2) {
				t.Errorf("two runs with seed %d differ: %+v vs %+v", tc.f.Seed, st1, st2)
			}
			if c := tc.count(st1); c == 0 {
				t.Errorf("counter is zero: %+v", st1)
			}
			other := tc.f
			other.Seed++
			got3, _ := runFaults(t, other, n)
			if fmt.Sprint(got1) == fmt.Sprint(got3) {
				t.Errorf("seeds %d and %d gave the same result", tc.f.Seed, other.Seed)
			}
		})
	}
}

func TestCorruptionSparesHeader(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{FaultsAToB: Faults{Seed: 9, CorruptPercent: 100}})
	defer a.Close()
	defer b.Close()
	bufs, sizes := newBufs(1, 2048)
	for i := range 200 {
		f := testFrame(b.HardwareAddr(), a.HardwareAddr(), uint32(i), 18+i%50)
		_ = a.Write(f)
		readTimeout(t, b, bufs, sizes, readWait)
		got := bufs[0][:sizes[0]]
		if !bytes.Equal(got[:HeaderLen], f[:HeaderLen]) {
			t.Fatalf("header changed: %x vs %x", got[:HeaderLen], f[:HeaderLen])
		}
		diff := 0
		for j := range got {
			if got[j] != f[j] {
				diff++
			}
		}
		if diff != 1 {
			t.Fatalf("%d bytes differ, want exactly 1", diff)
		}
	}
	// A frame with nothing after the header cannot be corrupted.
	_ = a.Write(testFrame(b.HardwareAddr(), a.HardwareAddr(), 0, 14))
	readTimeout(t, b, bufs, sizes, readWait)
	if got := a.FaultStats().Corrupted; got != 200 {
		t.Fatalf("Corrupted = %d, want 200", got)
	}
}

func TestFaultsSwitchAtRunTime(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{})
	defer a.Close()
	defer b.Close()
	bufs, sizes := newBufs(8, 2048)
	if err := a.SetFaults(Faults{DropPercent: 100}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_ = a.Write(make([]byte, 60))
	}
	if err := a.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	_ = a.Write(make([]byte, 61))
	if n := readTimeout(t, b, bufs, sizes, readWait); n != 1 || sizes[0] != 61 {
		t.Fatalf("got %d frames, size %d", n, sizes[0])
	}
	if got := a.FaultStats().Dropped; got != 5 {
		t.Fatalf("Dropped = %d", got)
	}
}

func TestDelayAndJitter(t *testing.T) {
	// The delay is long enough that writes which waited for it could not
	// go unnoticed even on a loaded machine.
	const delay = 200 * time.Millisecond
	a, b := NewMemoryPair(MemoryConfig{FaultsAToB: Faults{Seed: 5, Delay: delay, Jitter: 10 * time.Millisecond}})
	defer a.Close()
	defer b.Close()
	bufs, sizes := newBufs(64, 2048)
	start := time.Now()
	for i := range 50 {
		_ = a.Write(testFrame(b.HardwareAddr(), a.HardwareAddr(), uint32(i), 100))
	}
	if w := time.Since(start); w > delay/2 {
		t.Fatalf("writes blocked for %v", w)
	}
	got := 0
	first := time.Duration(0)
	for got < 50 {
		n := readTimeout(t, b, bufs, sizes, readWait)
		if got == 0 {
			first = time.Since(start)
		}
		got += n
	}
	if first < delay {
		t.Fatalf("first frame after %v, want >= %v", first, delay)
	}
	if st := a.FaultStats(); st.Delayed != 50 {
		t.Fatalf("Delayed = %d", st.Delayed)
	}
}

func TestRateLimit(t *testing.T) {
	// 20 frames of 1000 bytes at 50 kB/s take 400 ms to cross.
	a, b := NewMemoryPair(MemoryConfig{FaultsAToB: Faults{RateBytesPerSec: 50_000}})
	defer a.Close()
	defer b.Close()
	start := time.Now()
	for i := range 20 {
		_ = a.Write(testFrame(b.HardwareAddr(), a.HardwareAddr(), uint32(i), 1000))
	}
	if w := time.Since(start); w > 200*time.Millisecond {
		t.Fatalf("writes blocked for %v", w)
	}
	bufs, sizes := newBufs(32, 2048)
	got := 0
	for got < 20 {
		got += readTimeout(t, b, bufs, sizes, readWait)
	}
	if el := time.Since(start); el < 380*time.Millisecond || el > 3*time.Second {
		t.Fatalf("20 kB at 50 kB/s took %v, want about 400ms", el)
	}
	// A write that a stall kept apart from the one before finds the link
	// idle; allow for a few.
	if st := a.FaultStats(); st.RateLimited < 10 {
		t.Fatalf("RateLimited = %d, want about 19", st.RateLimited)
	}
}

func TestQueueBound(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{QueueLen: 10, FaultsAToB: Faults{Delay: time.Hour}})
	defer a.Close()
	defer b.Close()
	for range 25 {
		_ = a.Write(make([]byte, 60))
	}
	if st := a.FaultStats(); st.QueueDropped != 15 {
		t.Fatalf("QueueDropped = %d, want 15", st.QueueDropped)
	}
}

func TestReorderHoldTimesOut(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{FaultsAToB: Faults{ReorderPercent: 100}})
	defer a.Close()
	defer b.Close()
	_ = a.Write(make([]byte, 60))
	bufs, sizes := newBufs(1, 64)
	start := time.Now()
	readTimeout(t, b, bufs, sizes, readWait)
	if w := time.Since(start); w < DefaultReorderHold/2 {
		t.Fatalf("held frame came after %v, want about %v", w, DefaultReorderHold)
	}
}

// queued is how many frames wait in m's receive ring.
func queued(m *Memory) int {
	m.rx.mu.Lock()
	defer m.rx.mu.Unlock()
	return m.rx.count
}

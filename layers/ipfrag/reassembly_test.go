package ipfrag

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

var (
	t0   = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	keyA = Key{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), Proto: 17, ID: 1}
	keyB = Key{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), Proto: 17, ID: 2}
	key6 = Key{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: 17, ID: 1}
)

type frag struct {
	off  int
	more bool
	data []byte
}

// split cuts payload with the same plan a sender would use.
func split(t testing.TB, payload []byte, mtu, hdr int) []frag {
	p, err := NewPlan(len(payload), mtu, hdr)
	if err != nil {
		t.Fatal(err)
	}
	var fs []frag
	for f := range p.All() {
		fs = append(fs, frag{f.Offset, f.More, payload[f.Offset : f.Offset+f.Len]})
	}
	return fs
}

func randomPayload(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// checkInvariants verifies the internal consistency that the caps and
// the completion rule rely on.
func checkInvariants(t testing.TB, r *Reassembler) {
	t.Helper()
	if r.table == nil {
		return
	}
	used := 0
	for k, d := range r.table {
		if d.key != k {
			t.Fatalf("entry under %v has key %v", k, d.key)
		}
		have, prevEnd := 0, 0
		for i, s := range d.frags {
			if s.end < s.off || (i > 0 && int(s.off) < prevEnd) {
				t.Fatalf("%v: fragments unsorted or overlapping: %v", k, d.frags)
			}
			if int(s.end) > len(d.buf) {
				t.Fatalf("%v: fragment %v past buffer %d", k, s, len(d.buf))
			}
			prevEnd = int(s.end)
			have += int(s.end - s.off)
		}
		if have != d.have || len(d.frags) == 0 || len(d.frags) > r.cfg.MaxFragments {
			t.Fatalf("%v: have %d, fragments sum %d, count %d", k, d.have, have, len(d.frags))
		}
		if d.total >= 0 && (prevEnd > d.total || d.have >= d.total) {
			t.Fatalf("%v: total %d, end %d, have %d (complete but kept?)", k, d.total, prevEnd, d.have)
		}
		if d.cost < Overhead+len(d.buf) {
			t.Fatalf("%v: cost %d under-counts buffer %d", k, d.cost, len(d.buf))
		}
		used += d.cost
	}
	if used != r.used {
		t.Fatalf("used %d, entries sum %d", r.used, used)
	}
	if r.used > r.cfg.MaxBytes || len(r.table) > r.cfg.MaxDatagrams {
		t.Fatalf("caps exceeded: %d bytes, %d datagrams", r.used, len(r.table))
	}
	for _, l := range []*list{&r.lru, &r.exp} {
		n := 0
		var prev *datagram
		for d := l.head; d != nil; d = l.link(d).next {
			if r.table[d.key] != d || l.link(d).prev != prev {
				t.Fatal("list links broken or entry not in table")
			}
			if l == &r.exp && prev != nil && prev.deadline.After(d.deadline) {
				t.Fatal("expiry list out of order")
			}
			prev = d
			n++
		}
		if n != len(r.table) || l.tail != prev {
			t.Fatalf("list has %d entries, table %d", n, len(r.table))
		}
	}
}

// feed inserts fragments in the given order and returns the completed
// datagram; it fails the test on any error or on completion before the
// last fragment.
func feed(t *testing.T, r *Reassembler, k Key, fs []frag) []byte {
	t.Helper()
	for i, f := range fs {
		got, done, err := r.Insert(k, f.off, f.more, f.data, t0)
		checkInvariants(t, r)
		if err != nil {
			t.Fatalf("fragment %d (off %d): %v", i, f.off, err)
		}
		if done != (i == len(fs)-1) {
			t.Fatalf("fragment %d of %d: done=%v", i, len(fs), done)
		}
		if done {
			return got
		}
	}
	return nil
}

func TestReassembleOrders(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{1, 1480, 1481, 3000, 8008, 30008, 65515} {
		payload := randomPayload(rng, size)
		fs := split(t, payload, 1500, 20)
		orders := map[string][]frag{"in order": fs}
		rev := make([]frag, len(fs))
		for i := range fs {
			rev[len(fs)-1-i] = fs[i]
		}
		orders["reverse"] = rev
		for i := range 5 {
			sh := append([]frag(nil), fs...)
			rng.Shuffle(len(sh), func(i, j int) { sh[i], sh[j] = sh[j], sh[i] })
			orders[fmt.Sprint("random ", i)] = sh
		}
		for name, order := range orders {
			r := NewReassembler(Config{})
			got := feed(t, r, keyA, order)
			if !bytes.Equal(got, payload) {
				t.Fatalf("%d bytes %s: reassembled differs", size, name)
			}
			if cap(got) != len(got) {
				t.Fatalf("%d bytes %s: result exposes %d spare bytes", size, name, cap(got)-len(got))
			}
			s := r.Stats()
			if s.Reassembled != 1 || s.Datagrams != 0 || s.Bytes != 0 || s.Fragments != uint64(len(fs)) {
				t.Fatalf("%d bytes %s: stats %+v", size, name, s)
			}
		}
	}
}

func TestReassembleIPv6AndKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	r := NewReassembler(Config{MaxPayload: MaxPayloadIPv6})
	a, b := randomPayload(rng, 65535), randomPayload(rng, 4000)
	fa, fb := split(t, a, 1280, 48), split(t, b, 1280, 48)
	// Interleave two datagrams that differ only by protocol (IPv4 keys)
	// and one IPv6 datagram with the same ID: three independent entries.
	kp := keyA
	kp.Proto = 6
	for i := range fb {
		for _, k := range []Key{keyA, kp} {
			got, done, err := r.Insert(k, fb[i].off, fb[i].more, fb[i].data, t0)
			if err != nil || done != (i == len(fb)-1) || (done && !bytes.Equal(got, b)) {
				t.Fatalf("key %v fragment %d: %v %v", k, i, done, err)
			}
		}
	}
	var got []byte
	for i, f := range fa {
		var done bool
		var err error
		got, done, err = r.Insert(key6, f.off, f.more, f.data, t0)
		if err != nil || done != (i == len(fa)-1) {
			t.Fatalf("v6 fragment %d: %v %v", i, done, err)
		}
	}
	if !bytes.Equal(got, a) {
		t.Fatal("IPv6 65535-byte payload differs")
	}
	if s := r.Stats(); s.Reassembled != 3 || s.Datagrams != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCopiesCallerBytes(t *testing.T) {
	r := NewReassembler(Config{})
	buf := bytes.Repeat([]byte{0xaa}, 16)
	if _, _, err := r.Insert(keyA, 0, true, buf, t0); err != nil {
		t.Fatal(err)
	}
	// The frame buffer goes back to the pool and is reused.
	for i := range buf {
		buf[i] = 0x55
	}
	got, done, err := r.Insert(keyA, 16, false, buf[:3], t0)
	if err != nil || !done {
		t.Fatal(done, err)
	}
	want := append(bytes.Repeat([]byte{0xaa}, 16), 0x55, 0x55, 0x55)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x", got)
	}
}

func TestDuplicates(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	payload := randomPayload(rng, 5000)
	fs := split(t, payload, 1500, 20)
	r := NewReassembler(Config{})
	// Every fragment but the last twice, then the last.
	for _, f := range fs[:len(fs)-1] {
		for range 2 {
			if _, done, err := r.Insert(keyA, f.off, f.more, f.data, t0); err != nil || done {
				t.Fatal(done, err)
			}
		}
	}
	last := fs[len(fs)-1]
	got, done, err := r.Insert(keyA, last.off, last.more, last.data, t0)
	if err != nil || !done || !bytes.Equal(got, payload) {
		t.Fatal(done, err)
	}
	if s := r.Stats(); s.Duplicates != uint64(len(fs)-1) || s.Overlap != 0 || s.Reassembled != 1 {
		t.Fatalf("stats %+v", s)
	}
	// A duplicate of the last fragment before completion is fine too.
	r = NewReassembler(Config{})
	for _, f := range []frag{last, last} {
		if _, _, err := r.Insert(keyA, f.off, f.more, f.data, t0); err != nil {
			t.Fatal(err)
		}
	}
	if got := feed(t, r, keyA, fs[:len(fs)-1]); !bytes.Equal(got, payload) {
		t.Fatal("differs after duplicate last fragment")
	}
}

func TestOverlapDropsDatagram(t *testing.T) {
	data := bytes.Repeat([]byte{1}, 32)
	cases := []struct {
		name string
		off  int
		more bool
		data []byte
	}{
		{"same range, other bytes", 16, true, bytes.Repeat([]byte{2}, 16)},
		{"overlaps start", 8, true, data[:16]},
		{"overlaps end", 24, true, data[:16]},
		{"inside", 16, true, data[:8]},
		{"covers", 8, true, data[:32]},
		{"covers exactly plus more", 16, true, data[:24]},
	}
	for _, c := range cases {
		r := NewReassembler(Config{})
		if _, _, err := r.Insert(keyA, 0, true, data[:8], t0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Insert(keyA, 16, true, data[:16], t0); err != nil {
			t.Fatal(err)
		}
		_, done, err := r.Insert(keyA, c.off, c.more, c.data, t0)
		if !errors.Is(err, ErrOverlap) || done {
			t.Fatalf("%s: %v %v", c.name, done, err)
		}
		checkInvariants(t, r)
		s := r.Stats()
		if s.Overlap != 1 || s.Discarded != 1 || s.Datagrams != 0 || s.Bytes != 0 {
			t.Fatalf("%s: stats %+v", c.name, s)
		}
		// The datagram is gone: a later fragment starts a new one and
		// the earlier fragments do not come back.
		if _, done, err := r.Insert(keyA, 8, false, data[:8], t0); err != nil || done {
			t.Fatalf("%s: after drop: %v %v", c.name, done, err)
		}
		if d := r.table[keyA]; d == nil || len(d.frags) != 1 {
			t.Fatalf("%s: stale fragments survived the drop", c.name)
		}
	}
	// Adjacent fragments are not overlaps.
	r := NewReassembler(Config{})
	if _, _, err := r.Insert(keyA, 8, true, data[:8], t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Insert(keyA, 16, false, data[:8], t0); err != nil {
		t.Fatal(err)
	}
	if got, done, err := r.Insert(keyA, 0, true, data[:8], t0); err != nil || !done || len(got) != 24 {
		t.Fatal(done, err)
	}
}

func TestTooLong(t *testing.T) {
	r := NewReassembler(Config{})
	p := make([]byte, 8)
	// IPv4: 65535 - 20 = 65515 is the last payload byte position + 1.
	if _, _, err := r.Insert(keyA, 0, true, p, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Insert(keyA, 65512, false, p[:3], t0); err != nil {
		t.Fatalf("end at 65515: %v", err)
	}
	if _, _, err := r.Insert(keyB, 65512, false, p[:4], t0); !errors.Is(err, ErrTooLong) {
		t.Fatalf("end at 65516: %v", err)
	}
	// The maximum offset with a full fragment: the ping of death. It
	// also drops the datagram it claims to belong to.
	if _, _, err := r.Insert(keyA, 65528, false, make([]byte, 1480), t0); !errors.Is(err, ErrTooLong) {
		t.Fatalf("ping of death: %v", err)
	}
	if _, _, err := r.Insert(keyA, 1<<62, false, p, t0); !errors.Is(err, ErrTooLong) {
		t.Fatalf("huge offset: %v", err)
	}
	s := r.Stats()
	if s.TooLong != 3 || s.Discarded != 1 || s.Datagrams != 0 {
		t.Fatalf("stats %+v", s)
	}
	// IPv6 allows payloads up to 65535.
	r6 := NewReassembler(Config{MaxPayload: MaxPayloadIPv6})
	if _, _, err := r6.Insert(key6, 65528, false, p[:7], t0); err != nil {
		t.Fatalf("v6 end at 65535: %v", err)
	}
	if _, _, err := r6.Insert(keyB, 65528, false, p, t0); !errors.Is(err, ErrTooLong) {
		t.Fatalf("v6 end at 65536: %v", err)
	}
}

func TestFragmentOnlyRejections(t *testing.T) {
	r := NewReassembler(Config{})
	p := make([]byte, 16)
	if _, _, err := r.Insert(keyA, 0, true, p, t0); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		off  int
		more bool
		n    int
		err  error
	}{
		{-8, true, 8, ErrBadOffset},
		{12, true, 8, ErrBadOffset},
		{16, true, 0, ErrEmpty},
		{16, true, 9, ErrUnalignedLength},
	}
	for _, c := range cases {
		if _, _, err := r.Insert(keyA, c.off, c.more, p[:c.n], t0); !errors.Is(err, c.err) {
			t.Errorf("off %d more %v len %d: %v, want %v", c.off, c.more, c.n, err, c.err)
		}
	}
	// None of those dropped the datagram.
	got, done, err := r.Insert(keyA, 16, false, p[:5], t0)
	if err != nil || !done || len(got) != 21 {
		t.Fatal(done, err)
	}
	s := r.Stats()
	if s.BadOffset != 2 || s.Empty != 1 || s.UnalignedLength != 1 || s.Discarded != 0 {
		t.Fatalf("stats %+v", s)
	}
	// An empty last fragment may close a datagram; an empty datagram
	// "fragment" at offset 0 completes at once.
	if got, done, err := r.Insert(keyB, 0, false, nil, t0); err != nil || !done || len(got) != 0 {
		t.Fatalf("empty datagram: %v %v %v", got, done, err)
	}
	if _, _, err := r.Insert(keyB, 8, false, nil, t0); err != nil {
		t.Fatal(err)
	}
	if got, done, err := r.Insert(keyB, 0, true, p[:8], t0); err != nil || !done || len(got) != 8 {
		t.Fatal(done, err)
	}
}

func TestInconsistentEnd(t *testing.T) {
	p := make([]byte, 8)
	type step struct {
		off  int
		more bool
	}
	cases := map[string][]step{
		"two different ends":     {{16, false}, {24, false}},
		"data past the end":      {{16, false}, {24, true}},
		"end before held data":   {{24, true}, {8, false}},
		"end inside held data":   {{0, true}, {24, true}, {16, false}},
		"empty end before data":  {{8, true}, {8, false}},
		"second end, shorter":    {{24, false}, {0, false}},
		"data past an empty end": {{16, false}, {16, true}},
	}
	for name, steps := range cases {
		r := NewReassembler(Config{})
		var err error
		for i, s := range steps {
			n := 8
			if s.off == 8 && !s.more && name == "empty end before data" {
				n = 0
			}
			if name == "data past an empty end" && i == 0 {
				n = 0
			}
			_, _, err = r.Insert(keyA, s.off, s.more, p[:n], t0)
			if i < len(steps)-1 && err != nil {
				t.Fatalf("%s: step %d: %v", name, i, err)
			}
		}
		if !errors.Is(err, ErrInconsistent) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if s := r.Stats(); s.Inconsistent != 1 || s.Discarded != 1 || s.Datagrams != 0 {
			t.Errorf("%s: stats %+v", name, s)
		}
	}
}

func TestTooManyFragments(t *testing.T) {
	r := NewReassembler(Config{MaxFragments: 4})
	p := make([]byte, 8)
	for i := range 4 {
		if _, _, err := r.Insert(keyA, 8*i, true, p, t0); err != nil {
			t.Fatal(err)
		}
	}
	// A duplicate does not count as a new fragment.
	if _, _, err := r.Insert(keyA, 8, true, p, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Insert(keyA, 32, false, p, t0); !errors.Is(err, ErrTooManyFragments) {
		t.Fatalf("fifth: %v", err)
	}
	if s := r.Stats(); s.TooManyFragments != 1 || s.Discarded != 1 || s.Datagrams != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Exactly the limit completes.
	r = NewReassembler(Config{MaxFragments: 4})
	for i := range 3 {
		r.Insert(keyA, 8*i, true, p, t0)
	}
	if _, done, err := r.Insert(keyA, 24, false, p, t0); err != nil || !done {
		t.Fatal(done, err)
	}
	// The default handles the worst legitimate case, a 65535-byte IPv6
	// payload at the minimum MTU, with room to spare.
	r6 := NewReassembler(Config{MaxPayload: MaxPayloadIPv6})
	payload := make([]byte, 65535)
	if got := feed(t, r6, key6, split(t, payload, 1280, 48)); len(got) != 65535 {
		t.Fatal("64 KiB at MTU 1280 did not complete")
	}
}

func TestMemoryCapAndLRU(t *testing.T) {
	p := make([]byte, 1000)
	// Room for three datagrams of 1000 bytes, not four.
	cfg := Config{MaxBytes: 3*(Overhead+1000) + 500}
	r := NewReassembler(cfg)
	keys := make([]Key, 5)
	for i := range keys {
		keys[i] = keyA
		keys[i].ID = uint32(i)
	}
	for _, k := range keys[:3] {
		if _, _, err := r.Insert(k, 0, true, p[:1000], t0); err != nil {
			t.Fatal(err)
		}
	}
	// Touch keys[0]: keys[1] becomes the least recently used.
	if _, _, err := r.Insert(keys[0], 0, true, p[:1000], t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Insert(keys[3], 0, true, p[:1000], t0); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, r)
	if r.table[keys[1]] != nil || r.table[keys[0]] == nil || r.table[keys[2]] == nil {
		t.Fatal("LRU evicted the wrong datagram")
	}
	if s := r.Stats(); s.Evicted != 1 || s.MemoryCap != 0 || s.Bytes > cfg.MaxBytes {
		t.Fatalf("stats %+v", s)
	}
	// Growing an existing datagram evicts others, never itself.
	if _, _, err := r.Insert(keys[0], 1000, true, p[:1000], t0); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, r)
	if r.table[keys[0]] == nil || r.Stats().Evicted < 2 {
		t.Fatalf("growth: stats %+v", r.Stats())
	}
	// A datagram that cannot fit by itself is refused and dropped.
	_, _, err := r.Insert(keys[0], 8000, true, p[:1000], t0)
	if !errors.Is(err, ErrMemoryCap) || r.table[keys[0]] != nil {
		t.Fatalf("too big: %v", err)
	}
	if s := r.Stats(); s.MemoryCap != 1 || s.Discarded != 1 {
		t.Fatalf("stats %+v", s)
	}
	_, _, err = r.Insert(keys[4], 8000, true, p[:1000], t0)
	if !errors.Is(err, ErrMemoryCap) || r.table[keys[4]] != nil {
		t.Fatalf("too big, new: %v", err)
	}
	checkInvariants(t, r)

	// The count cap evicts the least recently used too.
	r = NewReassembler(Config{MaxDatagrams: 2})
	for _, k := range keys[:3] {
		if _, _, err := r.Insert(k, 0, true, p[:8], t0); err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, r)
	}
	if r.table[keys[0]] != nil || r.Stats().Evicted != 1 || r.Stats().Datagrams != 2 {
		t.Fatalf("count cap: %+v", r.Stats())
	}
}

func TestFloodStaysWithinCaps(t *testing.T) {
	// With the defaults the count cap binds first; with a huge count cap
	// the byte cap must hold on its own.
	t.Run("defaults", func(t *testing.T) { testFlood(t, Config{}) })
	t.Run("byte cap only", func(t *testing.T) { testFlood(t, Config{MaxDatagrams: 1 << 30}) })
}

func testFlood(t *testing.T, cfg Config) {
	// 20,000 first fragments that never complete, from 200 sources of
	// both families: the caps hold after every fragment, the heap does
	// not grow beyond them, and a legitimate datagram still reassembles.
	r := NewReassembler(cfg)
	cfg = r.Config()
	frag := make([]byte, 1480)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 20000 {
		src := i % 200
		var k Key
		if src%2 == 0 {
			k.Src = netip.AddrFrom4([4]byte{10, 0, byte(src >> 8), byte(src)})
			k.Dst = netip.MustParseAddr("192.0.2.2")
		} else {
			k.Src = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(src >> 8), 15: byte(src)})
			k.Dst = netip.MustParseAddr("2001:db8::2")
		}
		k.Proto, k.ID = 17, uint32(i/200)
		if _, _, err := r.Insert(k, 0, true, frag, t0.Add(time.Duration(i)*time.Microsecond)); err != nil {
			t.Fatal(err)
		}
		if s := r.Stats(); s.Bytes > cfg.MaxBytes || s.Datagrams > cfg.MaxDatagrams {
			t.Fatalf("after %d: %+v", i, s)
		}
		if i%1000 == 0 {
			checkInvariants(t, r)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// Accounting is an estimate; allow for map slack but not for a leak.
	if growth > 2*int64(cfg.MaxBytes) {
		t.Errorf("heap grew %d bytes for a %d-byte cap", growth, cfg.MaxBytes)
	}
	s := r.Stats()
	if s.Evicted != uint64(20000-s.Datagrams) {
		t.Errorf("evictions not counted: %+v", s)
	}
	t.Logf("after flood: %d datagrams, %d bytes, %d evicted, heap +%d", s.Datagrams, s.Bytes, s.Evicted, growth)

	payload := randomPayload(rand.New(rand.NewPCG(9, 9)), 3000)
	if got := feed(t, r, keyA, split(t, payload, 1500, 20)); !bytes.Equal(got, payload) {
		t.Fatal("3000-byte datagram after the flood differs")
	}
}

func TestExpiry(t *testing.T) {
	r := NewReassembler(Config{})
	if _, ok := r.NextDeadline(); ok {
		t.Fatal("deadline on empty reassembler")
	}
	if e := r.Expire(t0.Add(time.Hour)); e != nil {
		t.Fatal(e)
	}
	hdr := []byte{0x45, 0, 0, 28, 0, 1, 0x20, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
	first := []byte("0123456789abcdef")
	if _, _, err := r.InsertWithHeader(keyA, hdr, 0, true, first, t0); err != nil {
		t.Fatal(err)
	}
	hdr[0] = 0 // the caller's buffer is reused
	if _, _, err := r.Insert(keyB, 8, true, first[:8], t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// A later fragment does not extend the deadline.
	if _, _, err := r.Insert(keyA, 24, true, first[:8], t0.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	dl, ok := r.NextDeadline()
	if !ok || !dl.Equal(t0.Add(DefaultTimeout)) {
		t.Fatalf("deadline %v %v", dl, ok)
	}
	if e := r.Expire(t0.Add(DefaultTimeout - time.Nanosecond)); e != nil {
		t.Fatalf("expired early: %+v", e)
	}
	e := r.Expire(t0.Add(DefaultTimeout))
	if len(e) != 1 || e[0].Key != keyA || !e[0].First || string(e[0].Data) != "0123456789abcdef" || e[0].Header[0] != 0x45 || len(e[0].Header) != 20 {
		t.Fatalf("expired %+v", e)
	}
	dl, ok = r.NextDeadline()
	if !ok || !dl.Equal(t0.Add(time.Second+DefaultTimeout)) {
		t.Fatalf("next deadline %v %v", dl, ok)
	}
	// keyB never got fragment zero: no ICMP, so First is false.
	e = r.Expire(t0.Add(time.Hour))
	if len(e) != 1 || e[0].Key != keyB || e[0].First || e[0].Data != nil || e[0].Header != nil {
		t.Fatalf("expired %+v", e)
	}
	if s := r.Stats(); s.Expired != 2 || s.Datagrams != 0 || s.Bytes != 0 {
		t.Fatalf("stats %+v", s)
	}
	if _, ok := r.NextDeadline(); ok {
		t.Fatal("deadline after everything expired")
	}
	// Fragment zero via plain Insert: First but no header.
	r.Insert(keyA, 0, true, first, t0)
	if e := r.Expire(t0.Add(time.Hour)); len(e) != 1 || !e[0].First || e[0].Header != nil || len(e[0].Data) != 16 {
		t.Fatalf("plain insert expiry %+v", e)
	}
}

func TestTimeoutConfig(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, 30 * time.Second},
		{-time.Second, 30 * time.Second},
		{15 * time.Second, 15 * time.Second},
		{time.Hour, 30 * time.Second},
	} {
		r := NewReassembler(Config{Timeout: c.in})
		if got := r.Config().Timeout; got != c.want {
			t.Errorf("Timeout %v: got %v, want %v", c.in, got, c.want)
		}
		r.Insert(keyA, 0, true, make([]byte, 8), t0)
		if dl, _ := r.NextDeadline(); !dl.Equal(t0.Add(c.want)) {
			t.Errorf("Timeout %v: deadline %v", c.in, dl.Sub(t0))
		}
	}
	c := NewReassembler(Config{MaxPayload: 1 << 20, MaxFragments: 1 << 20}).Config()
	if c.MaxPayload != 0xffff || c.MaxFragments != 8192 {
		t.Errorf("clamps: %+v", c)
	}
}

func TestClockSteppingBack(t *testing.T) {
	r := NewReassembler(Config{})
	p := make([]byte, 8)
	times := []time.Duration{10, 5, 20, 1, 15}
	for i, d := range times {
		k := keyA
		k.ID = uint32(i)
		r.Insert(k, 0, true, p, t0.Add(d*time.Second))
		checkInvariants(t, r)
	}
	dl, _ := r.NextDeadline()
	if !dl.Equal(t0.Add(time.Second + DefaultTimeout)) {
		t.Fatalf("earliest deadline %v", dl.Sub(t0))
	}
	e := r.Expire(t0.Add(DefaultTimeout + 12*time.Second))
	if len(e) != 3 || e[0].Key.ID != 3 || e[1].Key.ID != 1 || e[2].Key.ID != 0 {
		t.Fatalf("expired %+v", e)
	}
}

func TestZeroReassembler(t *testing.T) {
	var r Reassembler
	if s := r.Stats(); s != (Stats{}) {
		t.Fatal(s)
	}
	if _, ok := r.NextDeadline(); ok || r.Expire(t0) != nil {
		t.Fatal("zero reassembler not empty")
	}
	r.Insert(keyA, 0, true, make([]byte, 8), t0)
	if got, done, err := r.Insert(keyA, 8, false, []byte{1}, t0); err != nil || !done || len(got) != 9 {
		t.Fatal(done, err)
	}
	if r.Config() != (Config{}).normalized() {
		t.Fatal(r.Config())
	}
}

func TestErrorsDistinct(t *testing.T) {
	errs := []error{ErrBadOffset, ErrEmpty, ErrUnalignedLength, ErrTooLong, ErrOverlap,
		ErrInconsistent, ErrTooManyFragments, ErrMemoryCap, ErrBadLength, ErrMTUTooSmall, ErrPayloadTooLong}
	for i := range errs {
		for j := range errs {
			if i != j && (errs[i] == errs[j] || errs[i].Error() == errs[j].Error()) {
				t.Errorf("%v and %v are not distinct", errs[i], errs[j])
			}
		}
	}
}

func TestOverheadCoversBookkeeping(t *testing.T) {
	// The entry, its key again in the map slot, the map's value pointer
	// and a slot's worth of slack: what each datagram costs beyond its
	// buffer must be charged.
	real := unsafe.Sizeof(datagram{}) + unsafe.Sizeof(Key{}) + unsafe.Sizeof(uintptr(0)) + 16
	if uintptr(Overhead) < real {
		t.Fatalf("Overhead %d < bookkeeping %d", Overhead, real)
	}
}

func benchmarkReassemble(b *testing.B, reverse bool) {
	payload := randomPayload(rand.New(rand.NewPCG(1, 1)), 65515)
	fs := split(b, payload, 1500, 20)
	if len(fs) != 45 {
		b.Fatalf("%d fragments", len(fs))
	}
	if reverse {
		for i, j := 0, len(fs)-1; i < j; i, j = i+1, j-1 {
			fs[i], fs[j] = fs[j], fs[i]
		}
	}
	r := NewReassembler(Config{})
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	id := uint32(0)
	for b.Loop() {
		id++
		k := keyA
		k.ID = id
		var done bool
		for _, f := range fs {
			_, done, _ = r.Insert(k, f.off, f.more, f.data, t0)
		}
		if !done {
			b.Fatal("not reassembled")
		}
	}
}

// BenchmarkReassemble64KiB reports allocs/op, which is allocations per
// reassembled 65,515-byte datagram of 45 fragments.
func BenchmarkReassemble64KiB(b *testing.B) {
	b.Run("in-order", func(b *testing.B) { benchmarkReassemble(b, false) })
	b.Run("reverse", func(b *testing.B) { benchmarkReassemble(b, true) })
}

func TestTimeoutIPv6(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, DefaultTimeout},
		{TimeoutIPv6, TimeoutIPv6},
		{time.Hour, TimeoutIPv6},
	} {
		r := NewReassembler(Config{MaxPayload: MaxPayloadIPv6, Timeout: c.in})
		if got := r.Config().Timeout; got != c.want {
			t.Errorf("IPv6 Timeout %v: got %v, want %v", c.in, got, c.want)
		}
	}
}

func TestInsertKeepHeader(t *testing.T) {
	r := NewReassembler(Config{MaxPayload: MaxPayloadIPv6})
	hdr := bytes.Repeat([]byte{0x60}, 48)
	long := bytes.Repeat([]byte{0x61}, MaxHeaderCopy+100)
	// The second fragment's header is not kept: only fragment zero's.
	if h, _, done, err := r.InsertKeepHeader(keyA, long, 8, false, make([]byte, 8), t0); h != nil || done || err != nil {
		t.Fatalf("second fragment: %v %v %v", h, done, err)
	}
	h, d, done, err := r.InsertKeepHeader(keyA, hdr, 0, true, bytes.Repeat([]byte{1}, 8), t0)
	if err != nil || !done || !bytes.Equal(h, hdr) || len(d) != 16 {
		t.Fatalf("completion: header %x datagram %x done %v err %v", h, d, done, err)
	}
	// A header longer than MaxHeaderCopy is cut.
	r.InsertKeepHeader(keyB, long, 0, true, make([]byte, 8), t0)
	h, _, done, _ = r.InsertKeepHeader(keyB, nil, 8, false, make([]byte, 8), t0)
	if !done || len(h) != MaxHeaderCopy {
		t.Fatalf("long header: %d bytes, done %v", len(h), done)
	}
	checkInvariants(t, r)
}

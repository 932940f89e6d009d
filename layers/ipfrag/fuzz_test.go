package ipfrag

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

type keyed struct {
	k Key
	frag
}

// cutRandomly splits payload into fragments of random multiples of 8
// bytes (at most maxUnits units), as differently configured routers on a
// path might.
func cutRandomly(rng *rand.Rand, payload []byte, maxUnits int) []frag {
	if len(payload) == 0 {
		return []frag{{0, false, payload}}
	}
	var fs []frag
	for off := 0; off < len(payload); {
		n := min(8*(1+rng.IntN(maxUnits)), len(payload)-off)
		fs = append(fs, frag{off, off+n < len(payload), payload[off : off+n]})
		off += n
	}
	return fs
}

// FuzzReassembly splits a payload into random fragments, duplicates some,
// shuffles them together with the fragments of a second datagram, and
// checks that every datagram that completes equals what was sent and that
// both complete.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte("hello, fragments"), uint64(1), uint16(1))
	f.Add(bytes.Repeat([]byte{0xab, 0xcd, 0xef}, 1000), uint64(42), uint16(185))
	f.Add([]byte{}, uint64(7), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, units uint16) {
		if len(data) > MaxPayloadIPv6 {
			data = data[:MaxPayloadIPv6]
		}
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		maxUnits := 1 + int(units)%256
		other := slices.Clone(data)
		slices.Reverse(other)
		other = append(other, 0x5a) // differs from data even when it is a palindrome
		k1 := Key{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: 17, ID: uint32(seed)}
		k2 := k1
		k2.ID++
		want := map[Key][]byte{k1: data, k2: other}

		var all []keyed
		for k, p := range want {
			for _, fr := range cutRandomly(rng, p, maxUnits) {
				for range 1 + rng.IntN(4)/3 { // a quarter are duplicated
					all = append(all, keyed{k, fr})
				}
			}
		}
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

		r := NewReassembler(Config{MaxPayload: MaxPayloadIPv6, MaxFragments: 8192, MaxBytes: 64 << 20})
		completed := map[Key]int{}
		for _, x := range all {
			got, done, err := r.Insert(x.k, x.off, x.more, x.data, t0)
			if err != nil {
				t.Fatalf("%v off %d len %d more %v: %v", x.k, x.off, len(x.data), x.more, err)
			}
			if done {
				if !bytes.Equal(got, want[x.k]) {
					t.Fatalf("%v: reassembled %d bytes differ from the %d sent", x.k, len(got), len(want[x.k]))
				}
				completed[x.k]++
			}
		}
		checkInvariants(t, r)
		if completed[k1] == 0 || completed[k2] == 0 {
			t.Fatalf("not completed: %v", completed)
		}
	})
}

// FuzzReassemblerOps drives a small Reassembler with arbitrary fragment
// sequences, clock steps and expiries. It asserts that nothing panics,
// that the internal invariants and the caps hold after every operation,
// and that a completed datagram made only of honest fragments (whose
// bytes are a function of key and position) has exactly those bytes.
func FuzzReassemblerOps(f *testing.F) {
	// Each operation is 6 bytes: key and kind, offset (2), length,
	// flags (1 more, 2 corrupt, 4 with header, 8 align), clock step.
	f.Add([]byte{0, 0, 0, 16, 9, 0, 0, 0, 16, 5, 8, 0})      // two fragments complete
	f.Add([]byte{2, 0, 0, 16, 13, 0, 0x18, 0, 0, 0, 0, 200}) // fragment zero expires
	f.Fuzz(func(t *testing.T, ops []byte) {
		cfg := Config{MaxBytes: 8192, MaxDatagrams: 4, MaxFragments: 6, MaxPayload: 4096, Timeout: time.Second}
		r := NewReassembler(cfg)
		keys := make([]Key, 8)
		for i := range keys {
			keys[i] = Key{Src: netip.AddrFrom4([4]byte{10, 0, 0, byte(i % 3)}), Dst: netip.MustParseAddr("10.0.0.9"), Proto: 17, ID: uint32(i)}
			if i%2 == 1 {
				keys[i].Src = netip.MustParseAddr("2001:db8::1")
			}
		}
		honest := func(k Key, p int) byte { return byte(p*31 + int(k.ID)*7 + p>>8) }
		tainted := map[Key]bool{}
		now := t0
		buf := make([]byte, 4200)
		for len(ops) >= 6 {
			op := ops[:6]
			ops = ops[6:]
			now = now.Add(time.Duration(op[5]) * 10 * time.Millisecond)
			k := keys[op[0]&7]
			if (op[0]>>3)&3 == 3 {
				for _, e := range r.Expire(now) {
					if e.First && len(e.Data) == 0 {
						t.Fatal("First without data")
					}
				}
				if dl, ok := r.NextDeadline(); ok && !dl.After(now) {
					t.Fatal("a due datagram survived Expire")
				}
				checkInvariants(t, r)
				continue
			}
			off := int(op[1])<<8 | int(op[2])
			n := int(op[3])
			more, corrupt, withHeader := op[4]&1 != 0, op[4]&2 != 0, op[4]&4 != 0
			if op[4]&8 != 0 {
				off &^= 7
				if more {
					n &^= 7
				}
			}
			off %= 4200
			p := buf[:n]
			for i := range p {
				p[i] = honest(k, off+i)
				if corrupt {
					p[i] ^= 0xff
				}
			}
			if r.table[k] == nil {
				tainted[k] = false
			}
			var got []byte
			var done bool
			var err error
			if withHeader {
				got, done, err = r.InsertWithHeader(k, op, off, more, p, now)
			} else {
				got, done, err = r.Insert(k, off, more, p, now)
			}
			checkInvariants(t, r)
			if err != nil && done {
				t.Fatal("done with an error")
			}
			if done {
				if !tainted[k] && !corrupt {
					for i, b := range got {
						if b != honest(k, i) {
							t.Fatalf("%v: byte %d is %#x, want %#x", k, i, b, honest(k, i))
						}
					}
				}
				if r.table[k] != nil {
					t.Fatal("completed datagram still in progress")
				}
			} else if err == nil && corrupt && n > 0 {
				tainted[k] = true
			}
		}
	})
}

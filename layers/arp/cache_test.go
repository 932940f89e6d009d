package arp

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
)

// t0 is an arbitrary virtual start time; the cache never reads the clock.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const sec = time.Second

var (
	macA = ethernet.Addr{2, 0, 0, 0, 0, 0xa}
	macB = ethernet.Addr{2, 0, 0, 0, 0, 0xb}
	ipA  = netip.MustParseAddr("10.0.0.10")
	ipB  = netip.MustParseAddr("10.0.0.11")
	ipC  = netip.MustParseAddr("10.0.0.12")
	ipD  = netip.MustParseAddr("10.0.0.13")
)

// newTestCache returns a cache of ints with default timers and a record of
// released packets.
func newTestCache(cfg Config[int]) (*Cache[int], *[]int) {
	var released []int
	cfg.Release = func(p int) { released = append(released, p) }
	return NewCache(cfg), &released
}

func wantDeadline(t *testing.T, c *Cache[int], want time.Time) {
	t.Helper()
	got, ok := c.NextDeadline()
	if !ok || !got.Equal(want) {
		t.Fatalf("NextDeadline = %v, %v; want %v", got, ok, want)
	}
}

func TestDefaults(t *testing.T) {
	cfg := NewCache(Config[int]{MaxRetries: -1}).Config()
	if cfg.MaxEntries != 1024 || cfg.MaxQueuePerAddr != 16 || cfg.RetryInterval != sec ||
		cfg.MaxRetries != 3 || cfg.ReachableTime != 60*sec {
		t.Fatalf("defaults %+v", cfg)
	}
	c := NewCache(Config[int]{})
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("empty cache has a deadline")
	}
	if req, failed := c.Advance(t0); req != nil || failed != nil {
		t.Fatal("empty cache has work")
	}
	if c.State(ipA, t0) != Absent || Absent.String() != "absent" || Stale.String() != "stale" || State(9).String() != "state(9)" {
		t.Fatal("state names")
	}
}

func TestResolveAndFlush(t *testing.T) {
	c, released := newTestCache(Config[int]{})
	if _, ok := c.Lookup(ipA, t0); ok {
		t.Fatal("unknown address resolved")
	}
	if !c.Enqueue(ipA, 1, t0) {
		t.Fatal("first Enqueue should ask for a request")
	}
	if c.Enqueue(ipA, 2, at(sec/2)) {
		t.Fatal("second Enqueue should not ask for another request")
	}
	if _, ok := c.Lookup(ipA, at(sec/2)); ok || c.State(ipA, at(sec/2)) != Incomplete {
		t.Fatal("incomplete entry resolved")
	}
	if _, ok := c.Peek(ipA); ok {
		t.Fatal("Peek resolved an incomplete entry")
	}
	if len(c.Snapshot()) != 0 {
		t.Fatal("incomplete entry in snapshot")
	}
	wantDeadline(t, c, at(sec))

	waiting := c.Insert(ipA, macA, at(sec/2))
	if !slices.Equal(waiting, []int{1, 2}) {
		t.Fatalf("waiting %v", waiting)
	}
	if mac, ok := c.Lookup(ipA, at(sec)); !ok || mac != macA || c.State(ipA, at(sec)) != Reachable {
		t.Fatal("not resolved after Insert")
	}
	if snap := c.Snapshot(); len(snap) != 1 || snap[ipA] != macA {
		t.Fatalf("snapshot %v", snap)
	}
	// The only remaining timer is the eviction of the entry if unused.
	wantDeadline(t, c, at(sec/2+120*sec))
	if req, failed := c.Advance(at(2 * sec)); req != nil || failed != nil {
		t.Fatalf("resolved entry produced work: %v %v", req, failed)
	}
	if len(*released) != 0 {
		t.Fatalf("released %v", *released)
	}
}

func TestRetriesThenFailure(t *testing.T) {
	c, released := newTestCache(Config[int]{})
	c.Enqueue(ipA, 1, t0)
	c.Enqueue(ipA, 2, t0)
	if req, _ := c.Advance(at(sec - 1)); req != nil {
		t.Fatal("retry before RetryInterval")
	}
	// Three retransmissions, one per second, as time advances exactly to
	// each deadline.
	for i := 1; i <= 3; i++ {
		now := at(time.Duration(i) * sec)
		wantDeadline(t, c, now)
		req, failed := c.Advance(now)
		if !slices.Equal(req, []netip.Addr{ipA}) || failed != nil {
			t.Fatalf("retry %d: %v %v", i, req, failed)
		}
	}
	wantDeadline(t, c, at(4*sec))
	req, failed := c.Advance(at(4 * sec))
	if req != nil || !slices.Equal(failed, []int{1, 2}) {
		t.Fatalf("give up: %v %v", req, failed)
	}
	if c.Len() != 0 || c.State(ipA, at(4*sec)) != Absent {
		t.Fatal("entry survives failure")
	}
	if len(*released) != 0 {
		t.Fatal("failed packets must be returned, not released")
	}
	// A new packet starts a new resolution.
	if !c.Enqueue(ipA, 3, at(5*sec)) {
		t.Fatal("no request after failure")
	}
}

func TestLateAdvanceDoesNotBurst(t *testing.T) {
	c, _ := newTestCache(Config[int]{})
	c.Enqueue(ipA, 1, t0)
	// Advance runs late: one request, next one a full interval later.
	if req, _ := c.Advance(at(2500 * time.Millisecond)); len(req) != 1 {
		t.Fatalf("requests %v", req)
	}
	wantDeadline(t, c, at(3500*time.Millisecond))
}

func TestQueueBoundDropsOldest(t *testing.T) {
	c, released := newTestCache(Config[int]{MaxQueuePerAddr: 2})
	c.Enqueue(ipA, 1, t0)
	c.Enqueue(ipA, 2, t0)
	c.Enqueue(ipA, 3, t0)
	c.Enqueue(ipA, 4, t0)
	if !slices.Equal(*released, []int{1, 2}) {
		t.Fatalf("released %v", *released)
	}
	if got := c.Insert(ipA, macA, t0); !slices.Equal(got, []int{3, 4}) {
		t.Fatalf("waiting %v", got)
	}
}

func TestStaleRefreshAnswered(t *testing.T) {
	c, _ := newTestCache(Config[int]{})
	c.Insert(ipA, macA, t0)
	if c.State(ipA, at(60*sec-1)) != Reachable || c.State(ipA, at(60*sec)) != Stale {
		t.Fatal("ageing")
	}
	// Using a stale entry answers from it and schedules a refresh now.
	now := at(90 * sec)
	if mac, ok := c.Lookup(ipA, now); !ok || mac != macA {
		t.Fatal("stale entry not used")
	}
	wantDeadline(t, c, now)
	req, _ := c.Advance(now)
	if !slices.Equal(req, []netip.Addr{ipA}) {
		t.Fatalf("refresh requests %v", req)
	}
	if mac, ok := c.Peek(ipA); !ok || mac != macA {
		t.Fatal("Peek for unicast refresh")
	}
	// Still usable while the refresh is out, without extra requests.
	if _, ok := c.Lookup(ipA, at(90*sec+sec/2)); !ok {
		t.Fatal("stale entry unusable during refresh")
	}
	if req, _ := c.Advance(at(90*sec + sec/2)); req != nil {
		t.Fatal("duplicate refresh request")
	}
	// The answer (a new MAC: the host moved) makes it reachable again.
	if got := c.Insert(ipA, macB, at(91*sec)); got != nil {
		t.Fatalf("waiting %v", got)
	}
	if mac, ok := c.Lookup(ipA, at(91*sec)); !ok || mac != macB || c.State(ipA, at(91*sec)) != Reachable {
		t.Fatal("refresh not applied")
	}
	wantDeadline(t, c, at(211*sec))
}

func TestStaleRefreshUnanswered(t *testing.T) {
	c, _ := newTestCache(Config[int]{})
	c.Insert(ipA, macA, t0)
	c.Lookup(ipA, at(100*sec))
	for i := 0; i < 4; i++ {
		// Even past the unused-eviction age, a refreshing entry lives
		// until its requests are exhausted.
		req, failed := c.Advance(at(time.Duration(100+i) * sec))
		if len(req) != 1 || failed != nil {
			t.Fatalf("round %d: %v %v", i, req, failed)
		}
		if _, ok := c.Lookup(ipA, at(time.Duration(100+i)*sec)); !ok {
			t.Fatalf("round %d: entry gone early", i)
		}
	}
	if req, failed := c.Advance(at(104 * sec)); req != nil || failed != nil {
		t.Fatalf("give up: %v %v", req, failed)
	}
	if _, ok := c.Lookup(ipA, at(104*sec)); ok || c.Len() != 0 {
		t.Fatal("unanswered refresh kept the entry")
	}
}

func TestUnusedStaleEvicted(t *testing.T) {
	c, _ := newTestCache(Config[int]{})
	c.Insert(ipA, macA, t0)
	c.Insert(ipB, macB, t0)
	wantDeadline(t, c, at(120*sec))
	if req, failed := c.Advance(at(120*sec - 1)); req != nil || failed != nil || c.Len() != 2 {
		t.Fatal("evicted early")
	}
	// Lookup past the age removes lazily, even before Advance runs.
	if _, ok := c.Lookup(ipB, at(120*sec)); ok {
		t.Fatal("expired entry used")
	}
	if c.State(ipA, at(120*sec)) != Absent {
		t.Fatal("expired entry reported")
	}
	if req, failed := c.Advance(at(120 * sec)); req != nil || failed != nil {
		t.Fatalf("eviction produced work: %v %v", req, failed)
	}
	if c.Len() != 0 {
		t.Fatal("not evicted")
	}
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("deadline with no entries")
	}
}

func TestCapacityEvictsOldestResolved(t *testing.T) {
	c, released := newTestCache(Config[int]{MaxEntries: 3})
	c.Insert(ipA, macA, at(2*sec))
	c.Insert(ipB, macB, at(1*sec)) // learnt longest ago
	c.Enqueue(ipC, 7, at(0))       // incomplete: never evicted for room
	c.Insert(ipD, macA, at(3*sec))
	if c.Len() != 3 || c.State(ipB, at(3*sec)) != Absent || c.State(ipC, at(3*sec)) != Incomplete {
		t.Fatalf("wrong victim: %v", c.Snapshot())
	}
	// Refreshing an existing entry never evicts.
	c.Insert(ipA, macB, at(4*sec))
	if c.Len() != 3 {
		t.Fatal("update changed size")
	}
	if len(*released) != 0 {
		t.Fatalf("released %v", *released)
	}
}

func TestCapacityFullOfIncomplete(t *testing.T) {
	c, released := newTestCache(Config[int]{MaxEntries: 2})
	c.Enqueue(ipA, 1, t0)
	c.Enqueue(ipB, 2, t0)
	if c.Enqueue(ipC, 3, t0) {
		t.Fatal("request asked for with no room")
	}
	if !slices.Equal(*released, []int{3}) {
		t.Fatalf("released %v", *released)
	}
	if c.Insert(ipC, macA, t0) != nil || c.State(ipC, t0) != Absent || c.Len() != 2 {
		t.Fatal("Insert exceeded the cap")
	}
	// Answers for the incomplete ones still land.
	if got := c.Insert(ipA, macA, t0); !slices.Equal(got, []int{1}) {
		t.Fatalf("waiting %v", got)
	}
}

func TestCapacityEvictionReleasesQueue(t *testing.T) {
	c, released := newTestCache(Config[int]{MaxEntries: 1})
	c.Insert(ipA, macA, t0)
	c.Enqueue(ipA, 5, t0) // waits on a resolved entry (refresh)
	c.Insert(ipB, macB, at(sec))
	if !slices.Equal(*released, []int{5}) || c.State(ipA, at(sec)) != Absent {
		t.Fatalf("released %v", *released)
	}
}

func TestUpdateOnlyExisting(t *testing.T) {
	c, _ := newTestCache(Config[int]{})
	if got, ok := c.Update(ipA, macA, t0); ok || got != nil || c.Len() != 0 {
		t.Fatal("Update created an entry")
	}
	c.Enqueue(ipA, 1, t0)
	if got, ok := c.Update(ipA, macA, t0); !ok || !slices.Equal(got, []int{1}) {
		t.Fatalf("Update: %v %v", got, ok)
	}
	if _, ok := c.Update(ipA, macB, at(sec)); !ok {
		t.Fatal("Update of resolved entry")
	}
	if mac, _ := c.Lookup(ipA, at(sec)); mac != macB {
		t.Fatal("Update did not change the address")
	}
}

func TestEnqueueOnResolvedEntry(t *testing.T) {
	c, _ := newTestCache(Config[int]{})
	c.Insert(ipA, macA, t0)
	if !c.Enqueue(ipA, 1, at(sec)) {
		t.Fatal("refresh request not asked for")
	}
	if c.Enqueue(ipA, 2, at(sec)) {
		t.Fatal("second request asked for")
	}
	if got := c.Insert(ipA, macA, at(2*sec)); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("waiting %v", got)
	}
	// Unanswered, the packets come back as failed.
	c.Enqueue(ipA, 3, at(3*sec))
	var failed []int
	for s := 4; s <= 7; s++ {
		_, f := c.Advance(at(time.Duration(s) * sec))
		failed = append(failed, f...)
	}
	if !slices.Equal(failed, []int{3}) {
		t.Fatalf("failed %v", failed)
	}
}

func TestEnqueueAfterLookupScheduledRefresh(t *testing.T) {
	c, _ := newTestCache(Config[int]{})
	c.Insert(ipA, macA, t0)
	c.Lookup(ipA, at(70*sec)) // refresh due, not yet sent
	if !c.Enqueue(ipA, 1, at(70*sec)) {
		t.Fatal("Enqueue should send the pending refresh request")
	}
	if req, _ := c.Advance(at(70 * sec)); req != nil {
		t.Fatal("request sent twice")
	}
}

func TestRemoveReleases(t *testing.T) {
	c, released := newTestCache(Config[int]{})
	c.Enqueue(ipA, 1, t0)
	c.Enqueue(ipA, 2, t0)
	c.Remove(ipA)
	c.Remove(ipB) // absent: no-op
	if !slices.Equal(*released, []int{1, 2}) || c.Len() != 0 {
		t.Fatalf("released %v", *released)
	}
}

func TestClearReleasesEverything(t *testing.T) {
	c, released := newTestCache(Config[int]{})
	c.Enqueue(ipA, 1, t0)
	c.Enqueue(ipB, 2, t0)
	c.Enqueue(ipB, 3, t0)
	c.Insert(ipC, macA, t0)
	c.Clear()
	slices.Sort(*released)
	if !slices.Equal(*released, []int{1, 2, 3}) || c.Len() != 0 {
		t.Fatalf("released %v, %d entries left", *released, c.Len())
	}
	if _, ok := c.NextDeadline(); ok {
		t.Fatal("a cleared cache still has a deadline")
	}
}

func TestAdvanceIsOrdered(t *testing.T) {
	c, _ := newTestCache(Config[int]{})
	ips := []netip.Addr{ipD, ipB, ipA, ipC}
	for i, ip := range ips {
		c.Enqueue(ip, i, t0)
	}
	req, _ := c.Advance(at(sec))
	if !slices.Equal(req, []netip.Addr{ipA, ipB, ipC, ipD}) {
		t.Fatalf("requests %v", req)
	}
	var failed []int
	for s := 2; s <= 4; s++ {
		_, f := c.Advance(at(time.Duration(s) * sec))
		failed = append(failed, f...)
	}
	if !slices.Equal(failed, []int{2, 1, 3, 0}) {
		t.Fatalf("failed %v", failed)
	}
}

func TestNilReleaseIsFine(t *testing.T) {
	c := NewCache(Config[int]{MaxQueuePerAddr: 1, MaxEntries: 1})
	c.Enqueue(ipA, 1, t0)
	c.Enqueue(ipA, 2, t0)
	c.Enqueue(ipB, 3, t0)
	c.Remove(ipA)
}

// TestConservation drives the cache with random operations and checks that
// every packet is accounted for exactly once (still queued, handed back, or
// released) and that the entry cap holds.
func TestConservation(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		runConservation(t, rand.New(rand.NewPCG(seed, seed)), 2000)
	}
}

func runConservation(t *testing.T, rng *rand.Rand, steps int) {
	t.Helper()
	const maxEntries = 4
	seen := map[int]int{}
	account := func(ps ...int) {
		for _, p := range ps {
			seen[p]++
			if seen[p] != 1 {
				t.Fatalf("packet %d accounted %d times", p, seen[p])
			}
		}
	}
	c := NewCache(Config[int]{MaxEntries: maxEntries, MaxQueuePerAddr: 3, Release: func(p int) { account(p) }})
	now := t0
	next := 0
	addr := func() netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(8))}) }
	for i := 0; i < steps; i++ {
		now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		switch rng.IntN(7) {
		case 0, 1:
			ip := addr()
			if _, ok := c.Lookup(ip, now); !ok {
				c.Enqueue(ip, next, now)
				next++
			}
		case 2:
			account(c.Insert(addr(), macA, now)...)
		case 3:
			got, _ := c.Update(addr(), macB, now)
			account(got...)
		case 4:
			c.Remove(addr())
		case 5:
			c.Enqueue(addr(), next, now)
			next++
		case 6:
			if d, ok := c.NextDeadline(); ok && d.After(now) {
				now = d
			}
			_, failed := c.Advance(now)
			account(failed...)
		}
		if c.Len() > maxEntries {
			t.Fatalf("%d entries", c.Len())
		}
		if d, ok := c.NextDeadline(); ok != (c.Len() > 0) || (ok && d.IsZero()) {
			t.Fatalf("deadline %v %v with %d entries", d, ok, c.Len())
		}
	}
	// Drain: remove everything, then every packet must be accounted for.
	for _, ip := range allAddrs() {
		c.Remove(ip)
	}
	if len(seen) != next {
		t.Fatalf("%d of %d packets accounted for", len(seen), next)
	}
}

func allAddrs() []netip.Addr {
	var out []netip.Addr
	for i := 0; i < 8; i++ {
		out = append(out, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
	}
	return out
}

// FuzzCache runs the conservation check with fuzzer-chosen seeds.
func FuzzCache(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(42), uint64(0))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		runConservation(t, rand.New(rand.NewPCG(a, b)), 300)
	})
}

func BenchmarkLookup(b *testing.B) {
	c := NewCache(Config[int]{})
	for i := 0; i < 1000; i++ {
		c.Insert(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), macA, t0)
	}
	now := at(sec)
	miss := netip.MustParseAddr("192.0.2.1")
	for b.Loop() {
		if _, ok := c.Lookup(miss, now); ok {
			b.Fatal("unexpected hit")
		}
		if _, ok := c.Lookup(netip.AddrFrom4([4]byte{10, 0, 1, 2}), now); !ok {
			b.Fatal("miss")
		}
	}
}

func TestLookupZeroAllocs(t *testing.T) {
	c := NewCache(Config[int]{})
	c.Insert(ipA, macA, t0)
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := c.Lookup(ipA, at(sec)); !ok {
			t.Fatal("miss")
		}
		c.Lookup(ipB, at(sec))
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

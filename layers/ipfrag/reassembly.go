package ipfrag

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"time"
)

// Limits and defaults of a Reassembler.
const (
	// DefaultMaxBytes is the default cap on the bytes held by all
	// datagrams in progress, the same order as Linux's ipfrag_high_thresh.
	DefaultMaxBytes = 4 << 20
	// DefaultMaxDatagrams is the default cap on datagrams in progress.
	DefaultMaxDatagrams = 1024
	// DefaultMaxFragments is the default number of distinct fragments one
	// datagram may consist of. A 65,535-byte datagram needs 45 fragments
	// at MTU 1500 and 54 at IPv6's minimum MTU of 1280.
	DefaultMaxFragments = 64
	// MaxTimeout is the longest a datagram may wait for its fragments.
	// RFC 791 §3.2 suggests 15 s for the initial timer; RFC 1122 §3.3.2
	// recommends a fixed 60–120 s and RFC 8200 §4.5 uses 60 s; actnet,
	// like Linux's default, never waits longer than 30 s, because every
	// second a never-completed datagram is kept is memory a flood can
	// claim, and a datagram still incomplete after 30 s on today's links
	// has lost a fragment.
	MaxTimeout = 30 * time.Second
	// DefaultTimeout is the reassembly timeout when none is configured.
	DefaultTimeout = MaxTimeout
	// TimeoutIPv6 is RFC 8200 §4.5's reassembly timeout ("within 60
	// seconds of the reception of the first-arriving fragment"), and the
	// clamp of an IPv6 reassembler's Timeout (one whose MaxPayload is
	// above MaxPayloadIPv4). IPv6 specifies the value, so an IPv6
	// reassembler follows it; the flood argument above is met by the
	// memory caps, which hold whatever the timeout.
	TimeoutIPv6 = 60 * time.Second
	// MaxPayloadIPv4 bounds the reassembled payload of an IPv4 datagram:
	// the 16-bit total length counts the header, at least 20 bytes
	// (RFC 791 §3.1). A fragment reaching past it is the "ping of death".
	MaxPayloadIPv4 = 0xffff - 20
	// MaxPayloadIPv6 bounds the reassembled payload of an IPv6 packet:
	// the 16-bit payload length excludes the fixed header (RFC 8200 §3,
	// §4.5).
	MaxPayloadIPv6 = 0xffff
	// Overhead is the bytes charged to each datagram in progress for its
	// bookkeeping (the entry, its table slot, its fragment list) on top
	// of its payload storage, so that a flood of tiny fragments is
	// accounted for what it really costs.
	Overhead = 384
	// MaxHeaderCopy bounds the header bytes InsertWithHeader keeps from
	// fragment zero. IPv4 headers are at most 60 bytes. An IPv6 fragment's
	// headers (fixed header, unfragmentable part, Fragment header) are
	// needed whole to rebuild the packet (RFC 8200 §4.5), and layers/ipv6
	// bounds them well below IPv6's minimum MTU of 1280 bytes, which is
	// also the most an ICMPv6 error may quote (RFC 4443 §2.4 (c)); a
	// longer header is cut. The copy is charged against Config.MaxBytes.
	MaxHeaderCopy = 1280
)

// spanCost is the bytes charged per fragment-list slot once the list
// outgrows the slots kept inline in the entry.
const spanCost = 8

// Reasons a fragment is rejected by Insert. Each is a distinct value so
// that the IP layer counts drops by reason, and each has its own counter
// in Stats. The doc of each says whether only the fragment is dropped or
// the whole datagram it belongs to.
var (
	// ErrBadOffset: a negative offset or one that is not a multiple of 8
	// (offsets travel in 8-byte units, RFC 791 §3.1). Fragment dropped.
	ErrBadOffset = errors.New("ipfrag: fragment offset not a multiple of 8")
	// ErrEmpty: a zero-length fragment that is not the last; it carries
	// nothing and would only consume a slot. Fragment dropped.
	ErrEmpty = errors.New("ipfrag: empty non-final fragment")
	// ErrUnalignedLength: a fragment that is not the last whose length is
	// not a multiple of 8 (RFC 791 §3.2; RFC 8200 §4.5 requires the
	// discard). Fragment dropped.
	ErrUnalignedLength = errors.New("ipfrag: non-final fragment length not a multiple of 8")
	// ErrTooLong: offset plus length runs past Config.MaxPayload, so the
	// reassembled datagram would exceed 65,535 bytes. Datagram dropped.
	ErrTooLong = errors.New("ipfrag: fragment runs past the maximum datagram size")
	// ErrOverlap: the fragment overlaps one already held without being
	// an exact duplicate of it (same offset, length and bytes). Datagram
	// dropped, see Reassembler.
	ErrOverlap = errors.New("ipfrag: overlapping fragment")
	// ErrInconsistent: the fragment contradicts the datagram's end: a
	// second last fragment with a different end, or data beyond the end
	// a last fragment set. Datagram dropped.
	ErrInconsistent = errors.New("ipfrag: fragment contradicts the datagram's length")
	// ErrTooManyFragments: the datagram would consist of more than
	// Config.MaxFragments distinct fragments. Datagram dropped.
	ErrTooManyFragments = errors.New("ipfrag: too many fragments")
	// ErrMemoryCap: the datagram alone would need more than
	// Config.MaxBytes. Datagram dropped. (Other datagrams are evicted to
	// make room, which is not an error for this fragment.)
	ErrMemoryCap = errors.New("ipfrag: datagram exceeds the reassembly memory cap")
)

// Key identifies the datagram a fragment belongs to. RFC 791 §3.2 keys
// IPv4 reassembly on source, destination, protocol and the 16-bit
// identification; RFC 8200 §4.5 keys IPv6 on source, destination and the
// 32-bit identification (pass the Fragment header's Next Header as Proto,
// or zero). It is comparable and is used as a map key.
type Key struct {
	Src, Dst netip.Addr
	Proto    uint8
	ID       uint32
}

// Config bounds a Reassembler. Zero fields take the defaults; fields out
// of range are clamped, as each field says. Reassembler.Config reports the
// effective configuration.
type Config struct {
	// MaxBytes caps the bytes held by all datagrams in progress, payload
	// storage plus Overhead each. Default DefaultMaxBytes.
	MaxBytes int
	// MaxDatagrams caps the datagrams in progress. Default
	// DefaultMaxDatagrams.
	MaxDatagrams int
	// MaxFragments caps the distinct fragments of one datagram. Default
	// DefaultMaxFragments; at most 8192 (one per offset unit).
	MaxFragments int
	// MaxPayload is the largest offset plus length accepted. Default
	// MaxPayloadIPv4; an IPv6 reassembler sets MaxPayloadIPv6. At most
	// 65,535.
	MaxPayload int
	// Timeout is how long a datagram may wait for its fragments, counted
	// from its first fragment. Default DefaultTimeout; clamped to
	// MaxTimeout, or to TimeoutIPv6 when MaxPayload is above
	// MaxPayloadIPv4 (an IPv6 reassembler).
	Timeout time.Duration
}

func (c Config) normalized() Config {
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxDatagrams <= 0 {
		c.MaxDatagrams = DefaultMaxDatagrams
	}
	if c.MaxFragments <= 0 {
		c.MaxFragments = DefaultMaxFragments
	}
	c.MaxFragments = min(c.MaxFragments, 8192)
	if c.MaxPayload <= 0 {
		c.MaxPayload = MaxPayloadIPv4
	}
	c.MaxPayload = min(c.MaxPayload, 0xffff)
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	limit := MaxTimeout
	if c.MaxPayload > MaxPayloadIPv4 {
		limit = TimeoutIPv6
	}
	c.Timeout = min(c.Timeout, limit)
	return c
}

// Stats counts what a Reassembler did, in the manner of netstat -s.
type Stats struct {
	Fragments   uint64 // fragments offered to Insert
	Duplicates  uint64 // exact duplicates, tolerated and ignored
	Reassembled uint64 // datagrams completed

	// Fragments rejected, by reason (one per error value).
	BadOffset        uint64
	Empty            uint64
	UnalignedLength  uint64
	TooLong          uint64
	Overlap          uint64
	Inconsistent     uint64
	TooManyFragments uint64
	MemoryCap        uint64

	Discarded uint64 // datagrams dropped because of a rejected fragment
	Evicted   uint64 // datagrams dropped, least recently used first, to respect a cap
	Expired   uint64 // datagrams dropped by Expire

	Datagrams int // datagrams in progress now
	Bytes     int // bytes accounted now, at most Config.MaxBytes
}

// Expired describes a datagram that timed out, so that the caller can send
// ICMP Time Exceeded, code 1 "fragment reassembly time exceeded" (RFC 792;
// ICMPv6 type 3 code 1, RFC 4443 §3.3). That error is sent only if
// fragment zero arrived (RFC 1122 §3.3.2, RFC 8200 §4.5), which First
// reports; its quote needs fragment zero's header, which RFC 1122 §3.3.2
// notes must be saved for the purpose (see InsertWithHeader).
type Expired struct {
	Key Key
	// First reports whether fragment zero had arrived.
	First bool
	// Header is the copy of the header passed with fragment zero to
	// InsertWithHeader (at most MaxHeaderCopy bytes), or nil.
	Header []byte
	// Data holds the payload of fragment zero when First, so that the
	// caller can quote its first bytes (8 for ICMPv4, RFC 792). The
	// caller owns it.
	Data []byte
}

// Reassembler collects fragments into datagrams (RFC 791 §3.2, RFC 815,
// RFC 8200 §4.5). It is a plain data structure: one actor owns it, passes
// the time in, calls Expire when NextDeadline passes, and gets datagrams,
// errors and expiries back.
//
// Each datagram in progress keeps one contiguous buffer and a list of the
// fragments held, sorted by offset: the complement of RFC 815's hole
// list, which also tells an exact duplicate from an overlap. The buffer is allocated lazily: it
// grows (doubling, to amortise in-order arrival) to cover the furthest
// fragment while the end is unknown, and to exactly the datagram's length
// once the last fragment has told it. Inserting is a binary search plus a
// shift of a list bounded by MaxFragments; completion is known when the
// bytes held equal the length, since held fragments never overlap.
//
// Overlap policy: any overlap that is not an exact duplicate drops the
// whole datagram and all its fragments (ErrOverlap). RFC 5722 mandates
// this for IPv6 because differing overlapping data lets an attacker make
// a host and a firewall reassemble different datagrams. For IPv4,
// RFC 1122 §3.3.2 notes that overlaps can arise when a retransmission is
// fragmented differently under the same identification; that is rare
// enough today (and the retransmission's own fragments then start a fresh
// datagram) that actnet applies the RFC 5722 policy to both families. Exact duplicates (same offset, length and
// bytes) are a normal consequence of duplication in the network and are
// ignored (RFC 8200 §4.5); same range with different bytes is an
// overlap.
//
// Caps: MaxBytes (storage plus Overhead per datagram) and MaxDatagrams are
// enforced on every Insert by evicting the least recently used datagrams
// other than the one being extended, so a flood of first fragments that
// never complete cannot grow memory beyond the caps; it can only push out
// other incomplete datagrams, as in any bounded reassembly cache.
//
// The timeout runs from a datagram's first fragment and is not extended by
// later ones (a fixed value, as RFC 1122 §3.3.2 advises over RFC 791's
// per-fragment TTL rule; RFC 8200 §4.5 likewise), so a sender cannot
// keep a datagram alive by trickling fragments, and expiry order is
// arrival order. Insert does not expire anything itself; the owner calls
// Expire.
//
// The zero Reassembler is ready to use with the default Config.
type Reassembler struct {
	cfg   Config
	table map[Key]*datagram
	lru   list // least recently used at the head
	exp   list // earliest deadline at the head
	used  int
	stats Stats
}

// NewReassembler returns an empty Reassembler bounded by cfg.
func NewReassembler(cfg Config) *Reassembler {
	r := &Reassembler{cfg: cfg.normalized()}
	r.init()
	return r
}

func (r *Reassembler) init() {
	if r.table != nil {
		return
	}
	r.cfg = r.cfg.normalized()
	r.table = make(map[Key]*datagram)
	r.lru.link = func(d *datagram) *links { return &d.lru }
	r.exp.link = func(d *datagram) *links { return &d.exp }
}

// Config returns the effective configuration, defaults and clamps applied.
func (r *Reassembler) Config() Config {
	r.init()
	return r.cfg
}

// Stats returns the counters and the current occupancy.
func (r *Reassembler) Stats() Stats {
	s := r.stats
	s.Datagrams = len(r.table)
	s.Bytes = r.used
	return s
}

// NextDeadline returns when the oldest datagram in progress expires, and
// false when none is in progress: the owner needs only one timer.
func (r *Reassembler) NextDeadline() (time.Time, bool) {
	if r.exp.head == nil {
		return time.Time{}, false
	}
	return r.exp.head.deadline, true
}

// Expire drops every datagram whose deadline is not after now and
// describes each, oldest first; nil if none expired.
func (r *Reassembler) Expire(now time.Time) []Expired {
	var out []Expired
	for d := r.exp.head; d != nil && !now.Before(d.deadline); d = r.exp.head {
		r.remove(d)
		r.stats.Expired++
		e := Expired{Key: d.key}
		if len(d.frags) > 0 && d.frags[0].off == 0 {
			end := int(d.frags[0].end)
			e.First, e.Header, e.Data = true, d.header, d.buf[:end:end]
		}
		out = append(out, e)
	}
	return out
}

// Insert adds a fragment: payload is the fragment's data, offset its byte
// offset in the datagram's payload (the header's offset field times 8),
// more its MF (IPv4) or M (IPv6) flag. The bytes are copied, so the caller
// may reuse payload as soon as Insert returns.
//
// When the fragment completes its datagram, Insert returns the reassembled
// payload and done = true; the caller owns that slice. A tolerated exact
// duplicate returns nil, false, nil. A rejected fragment returns one of
// the Err values above, each counted in Stats.
//
// Insert never panics and never lets the bytes accounted exceed
// Config.MaxBytes or the datagrams in progress exceed Config.MaxDatagrams.
func (r *Reassembler) Insert(k Key, offset int, more bool, payload []byte, now time.Time) (datagram []byte, done bool, err error) {
	datagram, _, done, err = r.insert(k, nil, offset, more, payload, now)
	return datagram, done, err
}

// InsertWithHeader is Insert for callers that want Expire to return the
// header of fragment zero for an ICMP Time Exceeded quote: header is the
// IP header of this fragment (IPv4 header with options; IPv6 fixed header
// and the unfragmentable part), copied only when offset is 0, up to
// MaxHeaderCopy bytes, and charged against Config.MaxBytes.
func (r *Reassembler) InsertWithHeader(k Key, header []byte, offset int, more bool, payload []byte, now time.Time) (datagram []byte, done bool, err error) {
	if header == nil {
		header = []byte{}
	}
	datagram, _, done, err = r.insert(k, header, offset, more, payload, now)
	return datagram, done, err
}

// InsertKeepHeader is InsertWithHeader that also returns, with a completed
// datagram, the header saved from fragment zero (at most MaxHeaderCopy
// bytes; the caller owns it). IPv6 needs it to rebuild the packet: the
// unfragmentable part and the Next Header of the reassembled packet come
// from the fragment with offset zero (RFC 8200 §4.5).
func (r *Reassembler) InsertKeepHeader(k Key, header []byte, offset int, more bool, payload []byte, now time.Time) (header0, datagram []byte, done bool, err error) {
	if header == nil {
		header = []byte{}
	}
	datagram, header0, done, err = r.insert(k, header, offset, more, payload, now)
	return header0, datagram, done, err
}

func (r *Reassembler) insert(k Key, header []byte, offset int, more bool, payload []byte, now time.Time) ([]byte, []byte, bool, error) {
	r.init()
	r.stats.Fragments++
	n := len(payload)

	// Checks that concern the fragment alone: drop it, keep the datagram.
	switch {
	case offset < 0 || offset%8 != 0:
		r.stats.BadOffset++
		return nil, nil, false, ErrBadOffset
	case more && n == 0:
		r.stats.Empty++
		return nil, nil, false, ErrEmpty
	case more && n%8 != 0:
		r.stats.UnalignedLength++
		return nil, nil, false, ErrUnalignedLength
	}

	d := r.table[k]
	// Written so that a huge offset cannot overflow the sum.
	if offset > r.cfg.MaxPayload-n {
		r.stats.TooLong++
		r.discard(d)
		return nil, nil, false, ErrTooLong
	}
	end := offset + n

	if d == nil {
		d = &datagram{key: k, total: -1}
		d.frags = d.inline[:0]
	}

	// The end is known once a last fragment arrived; nothing may
	// contradict it (RFC 815 treats the last fragment as closing the
	// hole list; a second, different end is corruption or an attack).
	if !more {
		if (d.total >= 0 && d.total != end) || d.maxEnd > end {
			r.stats.Inconsistent++
			r.discard(d)
			return nil, nil, false, ErrInconsistent
		}
	} else if d.total >= 0 && end > d.total {
		r.stats.Inconsistent++
		r.discard(d)
		return nil, nil, false, ErrInconsistent
	}

	// i is where the fragment goes: the first held fragment starting at
	// or after offset. Held fragments do not overlap, so only the
	// neighbours on either side can overlap the new one.
	i, _ := slices.BinarySearchFunc(d.frags, offset, func(s span, off int) int { return int(s.off) - off })
	if i < len(d.frags) && int(d.frags[i].off) == offset && int(d.frags[i].end) == end {
		if bytes.Equal(d.buf[offset:end], payload) {
			r.stats.Duplicates++
			r.lru.moveToBack(d)
			return nil, nil, false, nil
		}
		r.stats.Overlap++
		r.discard(d)
		return nil, nil, false, ErrOverlap
	}
	if (i > 0 && int(d.frags[i-1].end) > offset) || (i < len(d.frags) && int(d.frags[i].off) < end) {
		r.stats.Overlap++
		r.discard(d)
		return nil, nil, false, ErrOverlap
	}
	if len(d.frags) >= r.cfg.MaxFragments {
		r.stats.TooManyFragments++
		r.discard(d)
		return nil, nil, false, ErrTooManyFragments
	}

	// Work out the storage after this fragment and reserve it before
	// allocating anything, so the cap holds at every moment.
	bufLen := len(d.buf)
	if end > bufLen {
		switch {
		case !more:
			bufLen = end // the length is now known: exactly that
		case d.total >= 0:
			bufLen = d.total
		default:
			bufLen = min(max(end, 2*bufLen), r.cfg.MaxPayload)
		}
	}
	fragCap := cap(d.frags)
	if len(d.frags) == fragCap {
		// Quadruple (4, 16, 64 with the defaults): few reallocations, and
		// never more slots than the limit allows.
		fragCap = min(4*fragCap, r.cfg.MaxFragments)
	}
	hdrLen := len(d.header)
	if header != nil && offset == 0 {
		hdrLen = min(len(header), MaxHeaderCopy)
	}
	cost := Overhead + bufLen + hdrLen
	if fragCap > len(d.inline) {
		cost += fragCap * spanCost
	}
	if cost > r.cfg.MaxBytes {
		r.stats.MemoryCap++
		r.discard(d)
		return nil, nil, false, ErrMemoryCap
	}
	fresh := d.cost == 0
	if fresh {
		// A new datagram: respect the count cap first.
		for len(r.table) >= r.cfg.MaxDatagrams && r.lru.head != nil {
			r.evict(r.lru.head)
		}
	}
	// Evicting every other datagram always makes room, since cost fits
	// MaxBytes by itself.
	for r.used-d.cost+cost > r.cfg.MaxBytes {
		v := r.lru.head
		if v == d {
			v = d.lru.next
		}
		if v == nil {
			break // unreachable; keeps the loop finite whatever happens
		}
		r.evict(v)
	}

	if bufLen > len(d.buf) {
		nb := make([]byte, bufLen)
		copy(nb, d.buf)
		d.buf = nb
	}
	if fragCap > cap(d.frags) {
		nf := make([]span, len(d.frags), fragCap)
		copy(nf, d.frags)
		d.frags = nf
	}
	if hdrLen != len(d.header) {
		d.header = append([]byte(nil), header[:hdrLen]...)
	}
	copy(d.buf[offset:end], payload)
	d.frags = slices.Insert(d.frags, i, span{off: uint32(offset), end: uint32(end)})
	d.have += n
	d.maxEnd = max(d.maxEnd, end)
	if !more {
		d.total = end
	}
	r.used += cost - d.cost
	d.cost = cost

	if fresh {
		r.table[k] = d
		r.lru.pushBack(d)
		d.deadline = now.Add(r.cfg.Timeout)
		r.exp.insertByDeadline(d)
	} else {
		r.lru.moveToBack(d)
	}

	if d.total >= 0 && d.have == d.total {
		r.remove(d)
		r.stats.Reassembled++
		return d.buf[:d.total:d.total], d.header, true, nil
	}
	return nil, nil, false, nil
}

// discard drops d after a rejected fragment; nil or not-yet-stored d is a
// no-op.
func (r *Reassembler) discard(d *datagram) {
	if d == nil || d.cost == 0 {
		return
	}
	r.remove(d)
	r.stats.Discarded++
}

func (r *Reassembler) evict(d *datagram) {
	r.remove(d)
	r.stats.Evicted++
}

func (r *Reassembler) remove(d *datagram) {
	delete(r.table, d.key)
	r.lru.remove(d)
	r.exp.remove(d)
	r.used -= d.cost
	d.cost = 0
}

// span is the byte range [off, end) of one held fragment.
type span struct{ off, end uint32 }

// datagram is one datagram in progress.
type datagram struct {
	key    Key
	buf    []byte  // payload storage; bytes outside frags are meaningless
	frags  []span  // held fragments, sorted by off, never overlapping
	inline [4]span // frags' first home, saving an allocation for small datagrams
	have   int     // payload bytes held: the sum of the frags' lengths
	total  int     // payload length once the last fragment arrived, else -1
	maxEnd int     // furthest end held
	header []byte  // fragment zero's header, for InsertWithHeader
	cost   int     // bytes charged to Reassembler.used; 0 while not stored

	deadline time.Time
	lru, exp links
}

type links struct{ prev, next *datagram }

// list is an intrusive doubly linked list of datagrams threaded through
// the links that link selects, so that moving an entry allocates nothing.
type list struct {
	head, tail *datagram
	link       func(*datagram) *links
}

func (l *list) pushBack(d *datagram) {
	ln := l.link(d)
	ln.prev, ln.next = l.tail, nil
	if l.tail != nil {
		l.link(l.tail).next = d
	} else {
		l.head = d
	}
	l.tail = d
}

func (l *list) remove(d *datagram) {
	ln := l.link(d)
	if ln.prev != nil {
		l.link(ln.prev).next = ln.next
	} else if l.head == d {
		l.head = ln.next
	}
	if ln.next != nil {
		l.link(ln.next).prev = ln.prev
	} else if l.tail == d {
		l.tail = ln.prev
	}
	ln.prev, ln.next = nil, nil
}

func (l *list) moveToBack(d *datagram) {
	if l.tail == d {
		return
	}
	l.remove(d)
	l.pushBack(d)
}

// insertByDeadline keeps the list sorted by deadline. With a fixed timeout
// and a clock that does not go backwards that is always the tail; the walk
// only matters if the caller's clock steps back.
func (l *list) insertByDeadline(d *datagram) {
	at := l.tail
	for at != nil && at.deadline.After(d.deadline) {
		at = l.link(at).prev
	}
	if at == nil {
		// New head.
		ln := l.link(d)
		ln.prev, ln.next = nil, l.head
		if l.head != nil {
			l.link(l.head).prev = d
		} else {
			l.tail = d
		}
		l.head = d
		return
	}
	ln := l.link(d)
	next := l.link(at).next
	ln.prev, ln.next = at, next
	l.link(at).next = d
	if next != nil {
		l.link(next).prev = d
	} else {
		l.tail = d
	}
}

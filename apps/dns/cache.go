package dns

import (
	"container/list"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// cacheKey names one RRset: a lower-case fully qualified name and a type.
// A CNAME is kept under TypeCNAME (it stands for every type of its
// owner), a name that does not exist (NXDOMAIN) under typeAny.
type cacheKey struct {
	name  string
	qtype dnsmessage.Type
}

// typeAny keys the NXDOMAIN entries: the name has no records of any type
// (RFC 2308 §5).
const typeAny = dnsmessage.TypeALL

// cacheEntry is one cached RRset or negative answer.
type cacheEntry struct {
	key     cacheKey
	expires time.Time
	// exactly one of: a CNAME target, addresses, or neither (a negative
	// answer: NXDOMAIN under typeAny, NODATA under the type).
	cname string
	addrs []netip.Addr
}

// cache is a bounded cache of answers that honours their TTLs. When full,
// it drops the least recently used entry. Times come in as arguments.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]*list.Element
	lru     list.List // front: most recently used; values are *cacheEntry
	evicted uint64
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[cacheKey]*list.Element)}
}

// get returns the entry for k if it has not expired at now.
func (c *cache) get(k cacheKey, now time.Time) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return cacheEntry{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, k)
		return cacheEntry{}, false
	}
	c.lru.MoveToFront(el)
	return *e, true
}

// put stores e for ttl from now; a zero TTL means "use once, do not
// cache" (RFC 1035 §3.2.1).
func (c *cache) put(e cacheEntry, ttl time.Duration, now time.Time) {
	if ttl <= 0 || c.max <= 0 {
		return
	}
	e.expires = now.Add(ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[e.key]; ok {
		*el.Value.(*cacheEntry) = e
		c.lru.MoveToFront(el)
		return
	}
	for c.lru.Len() >= c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).key)
		c.evicted++
	}
	c.entries[e.key] = c.lru.PushFront(&e)
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

package actors

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// tcpRoutes is the tcp actor's connection table as the ipv4 actor reads it.
// The tcp actor alone adds and removes routes (it owns the table: listen,
// accept, dial, close); the ipv4 actor looks each segment's 4-tuple up and
// hands segments of known connections straight to their connection actors,
// so the data path is one mailbox hop from IP to connection. Segments for
// unknown tuples (connection requests, closed ports) still go to the tcp
// actor.
type tcpRoutes struct {
	mu sync.RWMutex
	m  map[tcp.Tuple]connRoute
	// peak is the most routes held since m was last made anew.
	peak int
	// live counts the connection actors spawned and not yet stopped.
	// They are no actor's children (DESIGN.md, "What the code taught
	// us" 19), so the stack's stop does not wait for them by itself:
	// Running.Close waits for this.
	live sync.WaitGroup
}

// waitConns waits until every connection actor has stopped, or d passed;
// it reports whether they all did.
func (r *tcpRoutes) waitConns(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		r.live.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// connRoute is where a connection's segments go.
type connRoute struct {
	pid *actor.PID
	// inbox counts the segments sent to the connection actor and not yet
	// handled, to bound its mailbox.
	inbox *atomic.Int64
}

func (r *tcpRoutes) get(t tcp.Tuple) (connRoute, bool) {
	r.mu.RLock()
	route, ok := r.m[t]
	r.mu.RUnlock()
	return route, ok
}

func (r *tcpRoutes) set(t tcp.Tuple, route connRoute) {
	r.mu.Lock()
	if r.m == nil {
		r.m = make(map[tcp.Tuple]connRoute)
	}
	r.m[t] = route
	r.peak = max(r.peak, len(r.m))
	r.mu.Unlock()
}

// remove deletes t's route if it still leads to pid.
func (r *tcpRoutes) remove(t tcp.Tuple, pid *actor.PID) {
	r.mu.Lock()
	if route, ok := r.m[t]; ok && route.pid.Equal(pid) {
		delete(r.m, t)
		if len(r.m) == 0 && r.peak >= shrinkAfter {
			// Emptied after a peak: a new map gives the buckets back.
			r.m, r.peak = nil, 0
		}
	}
	r.mu.Unlock()
}

// validateTCP checks one received segment (RFC 9293 §3.10.7: header,
// options, checksum, ports) and fills in p.TCP. It counts what it drops
// and returns the segment's 4-tuple from this host's side.
func validateTCP(c *tcpCounters, p *mailbox.Packet) (tcp.Tuple, bool) {
	c.SegmentsReceived.Inc()
	seg, err := tcp.NewSegment(p.Transport)
	if err != nil {
		var pe tcp.ParseError
		if errors.As(err, &pe) {
			parseDrop(c, pe).Inc()
		} else {
			c.Malformed.Inc()
		}
		return tcp.Tuple{}, false
	}
	if !p.ChecksumOK && !seg.VerifyChecksumAddrs(p.Src, p.Dst) {
		c.BadChecksum.Inc()
		return tcp.Tuple{}, false
	}
	if seg.SrcPort() == 0 || seg.DstPort() == 0 || !p.Src.IsGlobalUnicast() && !p.Src.IsPrivate() && !p.Src.IsLoopback() && !p.Src.IsLinkLocalUnicast() {
		c.BadAddress.Inc()
		return tcp.Tuple{}, false
	}
	p.TCP = seg
	return tcp.Tuple{Local: netip.AddrPortFrom(p.Dst, seg.DstPort()), Remote: netip.AddrPortFrom(p.Src, seg.SrcPort())}, true
}

// connBatcher gathers consecutive segments for the same connection into
// one message, and bounds each connection's inbox: beyond maxInbox, data
// segments are dropped, while segments without data (ACK, FIN, RST) are
// always admitted — losing one of those costs far more than a data segment
// the peer retransmits.
type connBatcher struct {
	c       *tcpCounters
	to      connRoute
	pending *mailbox.PacketsArrived
	// handed marks the tcp actor's batcher: what it forwards goes ahead of
	// the segments a new connection holds (routeOpen).
	handed bool
}

// add moves p into the batch for route.
func (b *connBatcher) add(ctx actor.Context, route connRoute, p *mailbox.Packet) {
	if b.pending != nil && !b.to.pid.Equal(route.pid) {
		b.flush(ctx)
	}
	b.to = route
	if route.inbox.Load() >= maxInbox && len(p.TCP.Payload()) > 0 {
		b.c.InboxFull.Inc()
		return
	}
	b.pending = addTo(b.pending, p)
}

// flush sends what was gathered.
func (b *connBatcher) flush(ctx actor.Context) {
	if b.pending != nil {
		b.to.inbox.Add(int64(b.pending.Len()))
		if b.handed {
			ctx.Send(b.to.pid, &handedSegments{b.pending})
		} else {
			ctx.Send(b.to.pid, b.pending)
		}
		b.pending = nil
	}
}

// Len is the number of connections in the table: every connection actor
// alive, from SYN-RECEIVED or SYN-SENT to TIME-WAIT.
func (r *tcpRoutes) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}

// transportBatches sorts what a network actor (any family) received into
// the batches for the transports: a TCP segment of a known connection goes
// straight to its connection actor (DESIGN.md, "What the code taught us"
// 7), other TCP segments to the tcp actor, UDP datagrams to the udp actor.
// p.Protocol, p.Src, p.Dst and p.Transport are set by the network layer.
type transportBatches struct {
	env          *Env
	tcp          *tcpCounters
	conns        connBatcher
	toTCP, toUDP *mailbox.PacketsArrived
}

func newTransportBatches(env *Env, c *tcpCounters) transportBatches {
	return transportBatches{env: env, tcp: c, conns: connBatcher{c: c}}
}

// add takes p for the transport up, the actor named by the network layer's
// demultiplexing (env.PIDs.TCP or env.PIDs.UDP).
func (b *transportBatches) add(ctx actor.Context, up *actor.PID, p *mailbox.Packet) {
	switch {
	case up == nil:
	case up == b.env.PIDs.TCP:
		t, ok := validateTCP(b.tcp, p)
		if !ok {
			return
		}
		if route, ok := b.env.TCPRoutes.get(t); ok {
			b.conns.add(ctx, route, p)
			return
		}
		b.toTCP = addTo(b.toTCP, p)
	case up == b.env.PIDs.UDP:
		b.toUDP = addTo(b.toUDP, p)
	}
}

// flush sends the batches gathered.
func (b *transportBatches) flush(ctx actor.Context) {
	b.conns.flush(ctx)
	if b.toTCP != nil {
		ctx.Send(b.env.PIDs.TCP, b.toTCP)
		b.toTCP = nil
	}
	if b.toUDP != nil {
		ctx.Send(b.env.PIDs.UDP, b.toUDP)
		b.toUDP = nil
	}
}

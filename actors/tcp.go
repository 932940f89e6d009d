package actors

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/layers/tokenbucket"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

// Errors of the TCP commands.
var (
	ErrPortInUse       = errors.New("actnet: address already in use")
	ErrNoPorts         = errors.New("actnet: no ephemeral port free for this destination")
	ErrTooManyConns    = errors.New("actnet: connection table full")
	ErrListenerClosed  = errors.New("actnet: listener closed")
	ErrUnsupportedAddr = errors.New("actnet: address family not configured on this stack")
)

// TCP limits. Every table has a cap (DESIGN.md, principle 5).
const (
	// DefaultMaxConns is the connection cap when no memory budget is
	// known: MaxConnsForMemory(4 GiB).
	DefaultMaxConns = 4 << 30 / ConnMemory
	DefaultBacklog  = 1024
	// maxInbox bounds the segments waiting in one connection's mailbox;
	// beyond it data segments are dropped, while segments that carry no
	// data (ACK, FIN, RST) are always admitted.
	maxInbox = 1024
	// Ephemeral ports, RFC 6335 §6 / RFC 6056 §2.1.
	ephemeralFirst = 49152
	ephemeralLast  = 65535
)

// ListenTCP asks the tcp actor to accept connections on Port; Port 0 asks
// for a free ephemeral port, which the tcp actor writes into Port before it
// answers. Exactly one of
// Queue (net.Listener users) and App (Serve: an app actor per connection)
// is set. Reply gets nil or
// the reason it failed.
type ListenTCP struct {
	Port    uint16
	Backlog int
	Config  tcp.Config
	Queue   *AcceptQueue
	App     *actor.Props
	// AppName names App's actors in logs; set by the first one spawned.
	AppName *atomic.Value
	Reply   chan error
}

// UnlistenTCP closes a listening port. Established connections live on,
// unless Abort asks to reset every connection the port accepted. Done, when
// set, gets nil once the port is closed.
type UnlistenTCP struct {
	Port  uint16
	Abort bool
	Done  chan error
}

// DialTCP asks the tcp actor to open a connection for Socket, whose Remote
// is set. Local's port 0 means an ephemeral port. Reply gets nil once the
// SYN is on its way, or the reason it could not be sent.
type DialTCP struct {
	Socket *Socket
	Local  netip.AddrPort
	Config tcp.Config
	Reply  chan error
}

// reopenFromTimeWait hands the tcp actor a SYN that ended a connection's
// TIME-WAIT; the new connection's ISN must be at least minISS so old
// duplicates cannot be taken for new data.
type reopenFromTimeWait struct {
	syn    *mailbox.PacketsArrived
	minISS tcp.Seq
	old    *actor.PID
}

// connFinished tells the tcp actor a connection actor reached CLOSED, or
// TIME-WAIT with timeWait set, and is removing its route from the network
// actors' table: the tcp actor forgets the tuple too (a new SYN for it
// goes to the listener, or to the TIME-WAIT entry it keeps from
// timeWait) and sends drainRoute through each network actor, which
// answers the connection with routeDrained.
type connFinished struct {
	who      *actor.PID
	tuple    tcp.Tuple
	timeWait *tcp.TimeWait
}

// drainRoute is a barrier through each network actor's mailbox (ipv4,
// ipv6): every batch it
// handled before has been sent on, so the segments it routed to conn (by a
// route now removed) are queued at conn ahead of the routeDrained it sends.
// When answer is set, the network actor sends it to conn instead (the
// tcp actor's routeOpen barrier).
type drainRoute struct {
	conn   *actor.PID
	answer any
}

// reply is what the network actor sends back at the barrier.
func (m *drainRoute) reply() any {
	if m.answer != nil {
		return m.answer
	}
	return &routeDrained{}
}

// routeOpen is the barrier of a new connection's route (DESIGN.md, "What
// the code taught us" 18). The tcp actor publishes the route and sends
// routeOpen through every network actor back to itself; a network actor
// that passes it on has sent every segment it routed before seeing the
// route to the tcp actor, which has forwarded them to the connection by
// the time it handles the routeOpen and forwards that too. The connection
// holds the segments that came straight from a network actor until every
// routeOpen arrived, so it handles its segments in arrival order even
// when the handshake's last ACK went by the tcp actor and the first data
// segment straight to it.
type routeOpen struct{ conn *actor.PID }

// handedSegments are segments of a connection that reached the tcp actor
// and were forwarded to the connection actor: during the route hand-over
// they go ahead of the segments the connection holds.
type handedSegments struct{ *mailbox.PacketsArrived }

// Release drops the SYN unhandled: the tcp actor stopped before it came.
func (m *reopenFromTimeWait) Release() { m.syn.Release() }

// passiveEstablished tells the tcp actor a connection it accepted left
// SYN-RECEIVED, so it no longer counts against the listener's backlog.
type passiveEstablished struct{ who *actor.PID }

// halfOpenUnreachable tells the tcp actor that a SYN-ACK to tuple was
// dropped for want of a next hop (NetSend.Unreachable): a half-open
// connection for it is given up at once instead of living through its
// SYN-ACK retries.
type halfOpenUnreachable struct{ tuple tcp.Tuple }

// dropUnreachable asks a half-open connection actor to give up.
type dropUnreachable struct{}

// tcpCounters are the tcp layer's counters. The tcp actor, the ipv4 actor
// (which validates segments) and every connection actor count in the same
// struct.
type tcpCounters = mailbox.TCPCounters

func newTCPCounters(c *mailbox.Counters) *tcpCounters { return &c.TCP }

// parseDrop returns the drop counter for a reason NewSegment rejected a
// segment.
func parseDrop(c *tcpCounters, e tcp.ParseError) *mailbox.Counter {
	switch e {
	case tcp.ErrTruncated:
		return &c.Truncated
	case tcp.ErrDataOffset:
		return &c.BadDataOffset
	case tcp.ErrOptionTruncated:
		return &c.OptionTruncated
	case tcp.ErrOptionLength:
		return &c.BadOptionLength
	case tcp.ErrMSSOption:
		return &c.BadMSSOption
	case tcp.ErrWindowScaleOption:
		return &c.BadWScaleOption
	case tcp.ErrSACKPermittedOption:
		return &c.BadSACKPermOption
	case tcp.ErrSACKOption:
		return &c.BadSACKOption
	case tcp.ErrTimestampsOption:
		return &c.BadTimestampOption
	}
	return &c.Malformed
}

// connStatsFold maps each field of tcp.Stats to the tcp layer counter of
// the same name; SegmentsIn and SegmentsOut are left out because the layer
// counts every segment as it passes (SegmentsReceived, SegmentsSent).
// TestFoldConnStatsCoversTCPStats keeps the map complete as tcp.Stats grows.
var connStatsFold = sync.OnceValue(func() [][2]int {
	st, ct := reflect.TypeFor[tcp.Stats](), reflect.TypeFor[tcpCounters]()
	var m [][2]int
	for i := range st.NumField() {
		name := st.Field(i).Name
		if name == "SegmentsIn" || name == "SegmentsOut" {
			continue
		}
		if f, ok := ct.FieldByName(name); ok {
			m = append(m, [2]int{i, f.Index[0]})
		}
	}
	return m
})

// foldConnStats adds a finished connection's own counters (retransmissions,
// recoveries, drops by reason) to the tcp layer's, so Stats shows them for
// the whole stack, like netstat -s. It runs once per connection, off the
// data path.
func foldConnStats(c *tcpCounters, st tcp.Stats) {
	sv, cv := reflect.ValueOf(st), reflect.ValueOf(c).Elem()
	for _, f := range connStatsFold() {
		if n := sv.Field(f[0]).Uint(); n != 0 {
			cv.Field(f[1]).Addr().Interface().(*mailbox.Counter).Add(n)
		}
	}
}

// listener is one listening port.
type listener struct {
	port     uint16
	cfg      tcp.Config
	backlog  int
	queue    *AcceptQueue
	app      *actor.Props
	appName  *atomic.Value
	halfOpen int
	// overflowed is when the half-open backlog was last found full (and a
	// SYN cookie sent); ACKs for unknown connections are checked for a
	// cookie only within tcp.CookieValidity of it, as Linux's
	// tcp_synq_no_recent_overflow.
	overflowed time.Time
}

// connRecord is what the tcp actor knows of one connection actor.
type connRecord struct {
	pid      *actor.PID
	tuple    tcp.Tuple
	inbox    *atomic.Int64
	listener *listener // set while the connection is half-open
	port     uint16    // the listening port it was accepted on, or 0
}

// tcpActor demultiplexes segments to connection actors by 4-tuple, runs the
// listen table, opens connections for Dial, picks ephemeral ports and
// answers segments for closed ports with a reset (RFC 9293 §3.10.7.1).
type tcpActor struct {
	env   *Env
	out   *Outputs
	c     *tcpCounters
	guard supervisor.PacketGuard

	// connProps spawns every connection actor: the one it makes is
	// spawning, set just before the spawn (protoactor calls the producer
	// within Spawn, in this actor's goroutine, and connection actors are
	// never restarted). One Props per connection held 240 bytes for the
	// connection's life (issue 14, memory per idle connection).
	connProps *actor.Props
	spawning  *connActor

	conns     map[tcp.Tuple]*actor.PID
	records   map[string]*connRecord // by connection actor PID id
	listeners map[uint16]*listener
	secret    [16]byte
	cfg       tcp.Config
	maxConns  int
	// spawns rate-limits the connection actors of passive opens.
	spawns *tokenbucket.Bucket
	emit   tcp.Emitter
	// appStrategy supervises app actors, which are their connection
	// actor's children.
	appStrategy actor.SupervisorStrategy
	// connStrategy is the guardian of the connection actors (DESIGN.md,
	// "What the code taught us" 19): they are spawned at the root, not
	// as this actor's children, and this actor watches them.
	connStrategy actor.SupervisorStrategy
	// fullLogged is when the full table was last logged; fullSince
	// counts the connections refused since.
	fullLogged time.Time
	fullSince  uint64
	// peak is the most connection records held since the tables were
	// last made anew (shrinkTables).
	peak int
	// closing is set once the stack stops: no connection is spawned any
	// more, so the stack can wait for the last one's end.
	closing bool
	// tw holds the connections in TIME-WAIT (actors/timewait.go); they
	// do not count against maxConns.
	tw timeWaits
}

// connCrashed tells the tcp actor that the guardian stopped a connection
// actor that panicked; the tcp actor, which knows its tuple, logs it.
type connCrashed struct {
	who    *actor.PID
	reason any
}

func newTCPActor(env *Env, out *Outputs) *tcpActor {
	a := &tcpActor{
		env:       env,
		out:       out,
		c:         newTCPCounters(env.Counters),
		conns:     make(map[tcp.Tuple]*actor.PID),
		records:   make(map[string]*connRecord),
		listeners: make(map[uint16]*listener),
		maxConns:  env.Limits.MaxConns,
		tw:        newTimeWaits(env.Limits.MaxTimeWait),
		spawns:    tokenbucket.New(float64(env.Limits.ConnSpawnRate), max(env.Limits.ConnSpawnRate/10, 1)),
	}
	a.guard = newGuard(env, "tcp", &a.c.HandlerCrashes)
	crand.Read(a.secret[:])
	a.cfg = tcp.Config{MTU: env.MTU}
	a.emit = a.newEmitter()
	c, log := a.c, env.Log
	a.connStrategy = newConnStrategy(env, a.c)
	a.appStrategy = supervisor.OneShotStrategy(func(sup actor.Supervisor, child *actor.PID, reason any) {
		// The supervisor is the app's connection actor: it resets the
		// connection when the app's Terminated follows.
		if ctx, ok := sup.(actor.Context); ok {
			if ca, ok := ctx.Actor().(*connActor); ok {
				ca.appCrash = reason
			}
		}
		c.AppCrashes.Inc()
		log.Warn().Str("app", child.Id).Str("panic", fmt.Sprint(reason)).
			Msg("app actor crashed; its connection is reset, the service goes on")
	})
	return a
}

// tableFullLogEvery spaces the log lines of a full connection table.
const tableFullLogEvery = time.Minute

// tableFull counts a connection refused by the cap and logs it, at most
// once a minute with the count since the last line.
func (a *tcpActor) tableFull(now time.Time) {
	a.c.TableFull.Inc()
	a.fullSince++
	if !a.fullLogged.IsZero() && now.Sub(a.fullLogged) < tableFullLogEvery && !now.Before(a.fullLogged) {
		return
	}
	a.env.Log.Warn().Int("max_connections", a.maxConns).Uint64("refused", a.fullSince).
		Msg("tcp: connection table full; new connections refused (raise Limits.MaxConns, --max-connections)")
	a.fullLogged, a.fullSince = now, 0
}

// shrinkTables gives the memory of the connection tables back once they
// are empty after a peak: Go maps keep their buckets after deletes, so a
// burst of connections would otherwise hold its table's size for good.
func (a *tcpActor) shrinkTables() {
	if len(a.records) == 0 && len(a.conns) == 0 && a.peak >= shrinkAfter {
		a.records = make(map[string]*connRecord)
		a.conns = make(map[tcp.Tuple]*actor.PID)
		a.peak = 0
	}
}

// shrinkAfter is the table size from which an emptied table is made anew.
const shrinkAfter = 1024

// newConnStrategy returns the guardian strategy of connection actors: a
// crashed one is stopped (its stopping handler resets the peer and fails
// the user) and counted. A guardian runs it in the crashed actor's own
// goroutine, so the log line is the tcp actor's to write.
func newConnStrategy(env *Env, c *tcpCounters) actor.SupervisorStrategy {
	return supervisor.OneShotStrategy(func(_ actor.Supervisor, child *actor.PID, reason any) {
		c.ConnCrashes.Inc()
		env.System.Root.Send(env.PIDs.TCP, &connCrashed{who: child, reason: reason})
	})
}

// newEmitter returns the function every control block sends segments
// through: it serializes the segment into a pooled buffer and hands it to
// its family's send path, in the calling actor's goroutine.
func (a *tcpActor) newEmitter() tcp.Emitter {
	env, outs, c := a.env, a.out, a.c
	csum, _ := deviceOffloads(env.Device)
	return func(o *tcp.Outgoing) {
		out, ok := outs.For(o.Tuple.Remote.Addr())
		if !ok {
			c.EmitFailed.Inc() // no connection is made to a family that is off
			return
		}
		buf, n, err := emitTCP(env, out, csum, o)
		if err != nil {
			buf.Release()
			c.EmitFailed.Inc()
			return
		}
		c.SegmentsSent.Inc()
		if o.Header.Flags.Has(tcp.FlagRST) {
			c.ResetsSent.Inc()
		}
		// DF on every segment: TCP learns the path MTU from
		// fragmentation-needed errors instead (RFC 1191, RFC 8201).
		p := NetSend{Dst: o.Tuple.Remote.Addr(), Src: o.Tuple.Local.Addr(),
			Protocol: tcp.ProtocolNumber, DontFragment: true}
		if o.Header.Flags.Has(tcp.FlagSYN | tcp.FlagACK) {
			// A SYN-ACK that finds no next hop ends its half-open
			// connection early.
			t := o.Tuple
			p.Unreachable = func() { env.send(env.PIDs.TCP, &halfOpenUnreachable{tuple: t}) }
		}
		out.Send(buf, n, p)
	}
}

func (a *tcpActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *mailbox.PacketsArrived:
		a.demux(ctx, m)
	case *ListenTCP:
		m.Reply <- a.listen(m)
	case *UnlistenTCP:
		delete(a.listeners, m.Port)
		if m.Abort {
			for _, r := range a.records {
				if pid, ok := a.conns[r.tuple]; ok && r.port == m.Port {
					ctx.Send(pid, &mailbox.Abort{})
				}
			}
		}
		if m.Done != nil {
			m.Done <- nil
		}
	case *DialTCP:
		m.Reply <- a.dial(ctx, m)
	case *resetConns:
		a.resetAll(ctx, m)
	case *passiveEstablished:
		if r, ok := a.records[m.who.Id]; ok && r.listener != nil {
			r.listener.halfOpen--
			a.env.TCPHalfOpen.Add(-1)
			r.listener = nil
		}
	case *reopenFromTimeWait:
		a.reopen(ctx, m)
	case *halfOpenUnreachable:
		if pid, ok := a.conns[m.tuple]; ok {
			if r := a.records[pid.Id]; r != nil && r.listener != nil {
				ctx.Send(pid, &dropUnreachable{})
			}
		}
	case *localAddrRemoved:
		for t, pid := range a.conns {
			if t.Local.Addr() == m.addr {
				ctx.Send(pid, m)
			}
		}
		for t, e := range a.tw.m {
			if t.Local.Addr() == m.addr {
				a.dropTimeWait(e) // nothing can be sent from it any more
			}
		}
	case *routeOpen:
		if _, ok := a.records[m.conn.Id]; ok {
			ctx.Send(m.conn, m)
		}
	case *connFinished:
		if pid, ok := a.conns[m.tuple]; ok && pid.Equal(m.who) {
			delete(a.conns, m.tuple)
			if m.timeWait != nil && !a.closing {
				a.enterTimeWait(ctx, m.tuple, *m.timeWait)
			}
		}
		a.env.TCPRoutes.remove(m.tuple, m.who)
		for _, pid := range a.env.networkPIDs() {
			ctx.Send(pid, &drainRoute{conn: m.who})
		}
	case *mailbox.ControlErrorArrived:
		if pid, ok := a.conns[tcp.Tuple{Local: m.Local, Remote: m.Remote}]; ok {
			ctx.Send(pid, m)
		} else {
			a.c.ControlErrorsNoConn.Inc()
		}
	case *connCrashed:
		conn := "unknown"
		if r, ok := a.records[m.who.Id]; ok {
			conn = tupleString(r.tuple)
		}
		a.env.Log.Error().Str("conn", conn).Interface("panic", m.reason).Msg("tcp: connection actor crashed; resetting it")
	case *timeWaitDue:
		a.expireTimeWait(ctx)
	case *actor.Stopping:
		// The connection actors are not this actor's children: they
		// are stopped here, and the stack waits for them (Running.Close).
		a.closing = true
		a.env.Cancel(a.tw.timer)
		for _, r := range a.records {
			ctx.Stop(r.pid)
		}
	case *actor.Terminated:
		if r, ok := a.records[m.Who.Id]; ok {
			if r.listener != nil {
				r.listener.halfOpen--
				a.env.TCPHalfOpen.Add(-1)
			}
			if pid, ok := a.conns[r.tuple]; ok && pid.Equal(m.Who) {
				delete(a.conns, r.tuple)
			}
			a.env.TCPRoutes.remove(r.tuple, m.Who)
			delete(a.records, m.Who.Id)
			a.shrinkTables()
		}
	}
}

// demux passes each segment to its connection or its listener, or answers
// it with a reset. Each segment runs under the layer's packet guard, so a
// panic drops that segment, is counted, and the rest of the batch goes on
// (DESIGN.md, "What the code taught us" 3); the batch is released even if
// the guard escalates, or the device reader would lose one of its ingress
// slots for good.
func (a *tcpActor) demux(ctx actor.Context, batch *mailbox.PacketsArrived) {
	defer batch.Release()
	now := a.env.Clock.Now()
	out := connBatcher{c: a.c, handed: true}
	for i := range batch.Packets {
		p := &batch.Packets[i]
		a.guard.Handle(p.Network, func() { a.demuxOne(ctx, &out, p, now) })
	}
	out.flush(ctx)
}

// demuxOne routes one segment. The ipv4 actor validated it (validateTCP)
// and found no route for it when it looked; the table may have changed
// since.
func (a *tcpActor) demuxOne(ctx actor.Context, out *connBatcher, p *mailbox.Packet, now time.Time) {
	t := tcp.Tuple{Local: netip.AddrPortFrom(p.Dst, p.TCP.DstPort()), Remote: netip.AddrPortFrom(p.Src, p.TCP.SrcPort())}
	if pid, ok := a.conns[t]; ok {
		// A connection that closed took its route down itself (finish);
		// until its Terminated comes, its segments are answered here as
		// a closed connection's, not lost in a stopping actor's mailbox.
		if route, ok := a.env.TCPRoutes.get(t); ok && route.pid.Equal(pid) {
			out.add(ctx, route, p)
			return
		}
	}
	if e, ok := a.tw.m[t]; ok {
		a.timeWaitInput(ctx, e, p, now)
		return
	}
	if l, ok := a.listeners[t.Local.Port()]; ok {
		switch tcp.ClassifyListen(&p.TCP) {
		case tcp.ListenAccept:
			a.accept(ctx, l, t, p, now, 0)
			return
		case tcp.ListenDrop:
			a.c.ListenDrops.Inc()
			return
		}
		if a.acceptCookie(ctx, l, t, p, now) {
			return
		}
	} else {
		a.c.ClosedPort.Inc()
	}
	a.reject(t, &p.TCP)
}

// reopen accepts a SYN that ended a TIME-WAIT connection, if its port is
// still listening.
func (a *tcpActor) reopen(ctx actor.Context, m *reopenFromTimeWait) {
	defer m.syn.Release()
	p := &m.syn.Packets[0]
	t := tcp.Tuple{Local: netip.AddrPortFrom(p.Dst, p.TCP.DstPort()), Remote: netip.AddrPortFrom(p.Src, p.TCP.SrcPort())}
	if pid, ok := a.conns[t]; ok && pid.Equal(m.old) {
		delete(a.conns, t) // the old actor is on its way out
		a.env.TCPRoutes.remove(t, m.old)
	}
	if _, busy := a.conns[t]; busy {
		return
	}
	l, ok := a.listeners[t.Local.Port()]
	if !ok {
		a.c.ClosedPort.Inc()
		a.reject(t, &p.TCP)
		return
	}
	a.c.TimeWaitReopened.Inc()
	a.accept(ctx, l, t, p, a.env.Clock.Now(), m.minISS)
}

// reject answers a segment that found no connection with a reset.
func (a *tcpActor) reject(t tcp.Tuple, seg *tcp.Segment) {
	rst, ok := tcp.RejectSegment(seg)
	if !ok {
		return
	}
	buf := a.env.Pool.Get()
	n, err := rst.Emit(buf.B[mailbox.Headroom:], nil, t.Local.Addr(), t.Remote.Addr())
	if err != nil {
		buf.Release()
		return
	}
	out, ok := a.out.For(t.Remote.Addr())
	if !ok {
		buf.Release()
		return
	}
	a.c.SegmentsSent.Inc()
	a.c.ResetsSent.Inc()
	out.Send(buf, n, NetSend{Dst: t.Remote.Addr(), Src: t.Local.Addr(), Protocol: tcp.ProtocolNumber})
}

// accept opens a passive connection for a SYN that reached a listener. A
// non-zero minISS is the floor for the ISN after TIME-WAIT reuse.
func (a *tcpActor) accept(ctx actor.Context, l *listener, t tcp.Tuple, p *mailbox.Packet, now time.Time, minISS tcp.Seq) {
	if !a.out.Routable(t.Remote.Addr()) {
		// No SYN-ACK could be sent back: neither a connection nor a
		// cookie is worth making (Linux drops such a request too).
		a.c.SYNNoRoute.Inc()
		return
	}
	switch {
	case len(a.conns) >= a.maxConns:
		// Before the backlog: a SYN cookie would only come back as an
		// ACK the full table drops too.
		a.tableFull(now)
		return
	case l.halfOpen >= l.backlog:
		// RFC 4987 §3.6: answer with a SYN cookie and keep nothing; the
		// connection is made when the cookie comes back.
		a.c.BacklogFull.Inc()
		a.sendCookie(l, t, p, now)
		return
	case a.closing:
		return
	case !a.spawns.Allow(now):
		// More new connections a second than actors may be spawned:
		// a cookie costs no actor, and the peer still gets in.
		a.c.SpawnRateLimited.Inc()
		a.sendCookie(l, t, p, now)
		return
	}
	iss := tcp.ISN(a.secret, t, now)
	if minISS != 0 && iss.LessThan(minISS) {
		iss = minISS
	}
	cfg := l.cfg
	cfg.MTU = min(cfg.MTU, a.pathMTU(t.Remote.Addr()))
	if cfg.SynRetries == 0 {
		// Fewer SYN-ACK retries the fuller the backlog, so that under a
		// flood half-open entries give their place up sooner.
		cfg.SynRetries = tcp.SynAckRetries(l.halfOpen, l.backlog)
	}
	conn, err := tcp.Accept(&cfg, t, &p.TCP, iss, now, a.emit)
	if err != nil {
		a.c.ListenDrops.Inc()
		return
	}
	a.c.PassiveOpens.Inc()
	rec := a.spawnPassive(ctx, l, conn, t)
	rec.listener = l
	l.halfOpen++
	a.env.TCPHalfOpen.Add(1)
}

// sendCookie answers a SYN that found the backlog full with a SYN cookie
// SYN-ACK (RFC 4987 §3.6), keeping no state.
func (a *tcpActor) sendCookie(l *listener, t tcp.Tuple, p *mailbox.Packet, now time.Time) {
	cfg := l.cfg
	cfg.MTU = min(cfg.MTU, a.pathMTU(t.Remote.Addr()))
	h, err := tcp.CookieSYNACK(&cfg, a.secret, t, &p.TCP, now)
	if err != nil {
		a.c.ListenDrops.Inc()
		return
	}
	buf := a.env.Pool.Get()
	n, err := h.Emit(buf.B[mailbox.Headroom:], nil, t.Local.Addr(), t.Remote.Addr())
	if err != nil {
		buf.Release()
		a.c.EmitFailed.Inc()
		return
	}
	l.overflowed = now
	a.c.CookiesSent.Inc()
	a.c.SegmentsSent.Inc()
	a.send(buf, n, t)
}

// acceptCookie tries an ACK for an unknown connection at a listening port
// as the end of a SYN-cookie handshake. It reports whether the ACK was
// taken (a connection now exists); if not, the caller resets it as usual.
// Cookies are tried only while the listener has recently overflowed.
func (a *tcpActor) acceptCookie(ctx actor.Context, l *listener, t tcp.Tuple, p *mailbox.Packet, now time.Time) bool {
	if l.overflowed.IsZero() || now.Sub(l.overflowed) >= tcp.CookieValidity || !tcp.IsCookieACK(&p.TCP) {
		return false
	}
	if len(a.conns) >= a.maxConns {
		a.tableFull(now)
		return true // dropped: the peer's retransmission may find room
	}
	if a.closing {
		return true
	}
	if !a.spawns.Allow(now) {
		a.c.SpawnRateLimited.Inc()
		return true // dropped, as above
	}
	cfg := l.cfg
	cfg.MTU = min(cfg.MTU, a.pathMTU(t.Remote.Addr()))
	conn, err := tcp.AcceptCookie(&cfg, a.secret, t, &p.TCP, now, a.emit)
	if err != nil {
		a.c.CookiesFailed.Inc()
		return false
	}
	a.c.CookiesReceived.Inc()
	a.c.PassiveOpens.Inc()
	a.spawnPassive(ctx, l, conn, t)
	return true
}

// spawnPassive starts the actor of a connection accepted on l, which hands
// itself to the listener's queue or app once established.
func (a *tcpActor) spawnPassive(ctx actor.Context, l *listener, conn *tcp.Conn, t tcp.Tuple) *connRecord {
	var sock *Socket
	if l.queue != nil {
		sock = newSocket(a.env, t.Local, t.Remote)
	}
	ca := newConnActor(a.env, a.c, conn, sock)
	queue, app, appName, self := l.queue, l.app, l.appName, ctx.Self()
	ca.offer = func(ctx actor.Context, c *connActor) bool {
		switch {
		case queue != nil:
			if !queue.offer(c.sock) {
				return false
			}
		case app != nil:
			c.startApp(ctx, app, appName)
		}
		// Only now does it stop counting against the backlog: a full
		// accept queue holds new SYNs back, as Linux's does.
		ctx.Send(self, &passiveEstablished{who: ctx.Self()})
		return true
	}
	rec := a.spawnConn(ctx, ca)
	rec.port = l.port
	return rec
}

// spawnConn starts the actor of a new connection and records it.
func (a *tcpActor) spawnConn(ctx actor.Context, ca *connActor) *connRecord {
	inbox := new(atomic.Int64)
	ca.inbox, ca.out = inbox, a.out
	ca.opening = len(a.env.networkPIDs())
	// Spawned at the root under a guardian, not as this actor's child:
	// protoactor's child set keeps removed children reachable in its
	// spare capacity, which held every finished connection's actor,
	// mailbox and control block for as long as the tcp actor lived. The
	// guardian keeps no list; this actor watches the connection instead.
	a.env.TCPRoutes.live.Add(1)
	ca.live = &a.env.TCPRoutes.live
	if a.connProps == nil {
		a.connProps = actor.PropsFromProducer(func() actor.Actor { return a.spawning },
			actor.WithDispatcher(a.env.Dispatcher), actor.WithMailbox(newActorMailbox), actor.WithSupervisor(a.appStrategy),
			actor.WithGuardian(a.connStrategy))
	}
	a.spawning = ca
	pid := a.env.System.Root.SpawnPrefix(a.connProps, "conn")
	a.spawning = nil // nothing here keeps a finished connection reachable
	ctx.Watch(pid)
	rec := &connRecord{pid: pid, tuple: ca.tuple, inbox: inbox}
	a.conns[ca.tuple] = pid
	a.records[pid.Id] = rec
	a.peak = max(a.peak, len(a.records))
	a.env.TCPRoutes.set(ca.tuple, connRoute{pid: pid, inbox: inbox})
	// The hand-over barrier: segments a network actor routed here before
	// it saw the route reach the connection before those it sends after.
	open := &routeOpen{conn: pid}
	for _, n := range a.env.networkPIDs() {
		ctx.Send(n, &drainRoute{conn: ctx.Self(), answer: open})
	}
	return rec
}

// listen opens a listening port. Port 0 picks a free ephemeral port, as
// bind(2) does on Linux, and writes it back into m.Port before the caller
// is answered.
func (a *tcpActor) listen(m *ListenTCP) error {
	if m.Port == 0 {
		port, ok := a.ephemeralListenPort()
		if !ok {
			return ErrNoPorts
		}
		m.Port = port
	}
	if _, busy := a.listeners[m.Port]; busy {
		return ErrPortInUse
	}
	backlog := m.Backlog
	if backlog <= 0 {
		backlog = a.env.Limits.Backlog
	}
	cfg := m.Config
	if cfg.MTU == 0 {
		cfg.MTU = a.env.MTU
	}
	cfg.GSOMax = gsoMax(a.env) // TSO where the device has it (actors/offloadtx.go)
	a.listeners[m.Port] = &listener{port: m.Port, cfg: cfg, backlog: backlog, queue: m.Queue, app: m.App, appName: m.AppName}
	return nil
}

// ephemeralListenPort picks a port for listening on port 0: from a random
// starting point in the ephemeral range (RFC 6335 §6, RFC 6056 §3.3.1), the
// first port with no listener and no connection using it locally, so no
// established connection's tuple can ever collide with the listener's.
func (a *tcpActor) ephemeralListenPort() (uint16, bool) {
	used := make(map[uint16]bool, len(a.conns))
	for t := range a.conns {
		used[t.Local.Port()] = true
	}
	for t := range a.tw.m {
		used[t.Local.Port()] = true
	}
	const n = ephemeralLast - ephemeralFirst + 1
	start := rand.IntN(n)
	for i := 0; i < n; i++ {
		port := uint16(ephemeralFirst + (start+i)%n)
		if _, listening := a.listeners[port]; !listening && !used[port] {
			return port, true
		}
	}
	return 0, false
}

func (a *tcpActor) dial(ctx actor.Context, m *DialTCP) error {
	sock := m.Socket
	remote := sock.Remote
	out, ok := a.out.For(remote.Addr())
	if !ok {
		return ErrUnsupportedAddr
	}
	if len(a.conns) >= a.maxConns {
		a.tableFull(a.env.Clock.Now())
		return ErrTooManyConns
	}
	if a.closing {
		return net.ErrClosed
	}
	src, ok := out.LocalAddr(remote.Addr())
	if !ok {
		return ErrUnsupportedAddr
	}
	local := netip.AddrPortFrom(src, m.Local.Port())
	if local.Port() == 0 {
		port, ok := a.ephemeralPort(src, remote)
		if !ok {
			return ErrNoPorts
		}
		local = netip.AddrPortFrom(local.Addr(), port)
	}
	t := tcp.Tuple{Local: local, Remote: remote}
	if a.tupleBusy(t) {
		return ErrPortInUse
	}
	cfg := m.Config
	if cfg.MTU == 0 {
		cfg.MTU = a.env.MTU
	}
	cfg.GSOMax = gsoMax(a.env) // TSO where the device has it (actors/offloadtx.go)
	cfg.MTU = min(cfg.MTU, out.PathMTU(remote.Addr()))
	now := a.env.Clock.Now()
	conn, err := tcp.Connect(&cfg, t, tcp.ISN(a.secret, t, now), now, a.emit)
	if err != nil {
		return err
	}
	a.c.ActiveOpens.Inc() // as Linux counts it: on entering SYN-SENT
	sock.Local = local
	a.spawnConn(ctx, newConnActor(a.env, a.c, conn, sock))
	return nil
}

// tupleBusy reports whether a connection, or a TIME-WAIT entry, holds t:
// a new connection of ours may not take a tuple in TIME-WAIT, whose old
// duplicates could still arrive (RFC 9293 §3.10.8).
func (a *tcpActor) tupleBusy(t tcp.Tuple) bool {
	_, conn := a.conns[t]
	_, tw := a.tw.m[t]
	return conn || tw
}

// ephemeralPort picks a local port for a connection to remote: a random
// starting point, then the first port whose tuple is free (RFC 6056 §3.3.1,
// Algorithm 1).
func (a *tcpActor) ephemeralPort(src netip.Addr, remote netip.AddrPort) (uint16, bool) {
	const n = ephemeralLast - ephemeralFirst + 1
	start := rand.IntN(n)
	for i := 0; i < n; i++ {
		port := uint16(ephemeralFirst + (start+i)%n)
		if _, listening := a.listeners[port]; listening {
			continue
		}
		t := tcp.Tuple{Local: netip.AddrPortFrom(src, port), Remote: remote}
		if !a.tupleBusy(t) {
			return port, true
		}
	}
	return 0, false
}

// AcceptQueue holds established connections until a net.Listener user
// accepts them. A full or closed queue refuses more (the connection is
// then reset).
type AcceptQueue struct {
	mu     sync.Mutex
	items  []*Socket
	max    int
	closed bool
	notify chan struct{}
}

// NewAcceptQueue returns a queue holding at most max connections.
func NewAcceptQueue(max int) *AcceptQueue {
	if max <= 0 {
		max = DefaultBacklog
	}
	return &AcceptQueue{max: max, notify: make(chan struct{}, 1)}
}

func (q *AcceptQueue) offer(s *Socket) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.items) >= q.max {
		return false
	}
	q.items = append(q.items, s)
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return true
}

// Take returns the oldest established connection, or nil and false when
// none is waiting; Ready is signalled when one may be.
func (q *AcceptQueue) Take() (*Socket, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return nil, false
	}
	s := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	if len(q.items) > 0 {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
	return s, true
}

// Ready is signalled when a connection may be waiting.
func (q *AcceptQueue) Ready() <-chan struct{} { return q.notify }

// Close refuses further connections and resets those not yet accepted.
func (q *AcceptQueue) Close() {
	q.mu.Lock()
	q.closed = true
	items := q.items
	q.items = nil
	q.mu.Unlock()
	for _, s := range items {
		s.Close(true)
	}
}

// pathMTU is the path MTU towards dst in its family; the link MTU for a
// family that is off (no connection to it is ever made).
func (a *tcpActor) pathMTU(dst netip.Addr) int {
	if out, ok := a.out.For(dst); ok {
		return out.PathMTU(dst)
	}
	return a.env.MTU
}

// send hands a segment the tcp actor built itself (a SYN cookie's SYN-ACK)
// to its family's send path, with DF like every segment.
func (a *tcpActor) send(buf *mailbox.Buffer, n int, t tcp.Tuple) {
	out, ok := a.out.For(t.Remote.Addr())
	if !ok {
		buf.Release()
		return
	}
	out.Send(buf, n, NetSend{Dst: t.Remote.Addr(), Src: t.Local.Addr(), Protocol: tcp.ProtocolNumber, DontFragment: true})
}

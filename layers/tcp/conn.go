package tcp

import (
	"io"
	"net/netip"
	"time"
)

// State is a connection state of RFC 9293 §3.3.2.
type State uint8

// The eleven states of RFC 9293 §3.3.2.
const (
	StateClosed State = iota
	StateListen
	StateSynSent
	StateSynReceived
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateClosing
	StateLastAck
	StateTimeWait
)

var stateNames = [...]string{
	"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
	"FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// synchronized reports whether the state is one of those RFC 9293 calls
// synchronized, where both sequence spaces are known.
func (s State) synchronized() bool { return s >= StateSynReceived }

// canSendData reports whether data or a FIN of ours may still be sent.
func (s State) canSendData() bool {
	switch s {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
		return true
	}
	return false
}

// Events is a set of things that happened to a connection since the owner
// last called TakeEvents.
type Events uint8

// Events reported by a Conn.
const (
	// EventEstablished: the three-way handshake completed.
	EventEstablished Events = 1 << iota
	// EventReadable: new in-order data (or the peer's FIN) can be read.
	EventReadable
	// EventWritable: acknowledged data freed room in the send buffer.
	EventWritable
	// EventPeerClosed: the peer's FIN arrived; reads return io.EOF once
	// the buffered data is consumed.
	EventPeerClosed
	// EventClosed: the connection reached CLOSED; Err says why (nil for
	// an orderly close).
	EventClosed
	// EventStalled: the retransmission count reached R1 (RFC 9293
	// §3.8.3); the owner may, for example, ask the IP layer to
	// re-resolve the next hop.
	EventStalled
)

// Has reports whether all events of m are in e.
func (e Events) Has(m Events) bool { return e&m == m }

// Emitter receives each segment the control block sends. The Outgoing and
// the bytes it refers to are valid only during the call: the callee
// serializes it (Outgoing.Emit) into a buffer of its own before returning.
type Emitter func(o *Outgoing)

// Config holds the tunables of a connection. A listener shares one Config
// among the connections it accepts; each connection copies it at creation,
// with zero fields replaced by the defaults documented on each field.
type Config struct {
	// MTU is the path MTU towards the peer when the connection starts
	// (default 1500). The MSS we announce and the largest segment we send
	// derive from it; SetPathMTU lowers it later.
	MTU int
	// SendBufferSize and RecvBufferSize bound the bytes a connection holds
	// in each direction (default 256 KiB each, at most 1 GiB). Memory is
	// taken only while bytes are held.
	SendBufferSize, RecvBufferSize int
	// NoWindowScale disables the RFC 7323 window scale option.
	NoWindowScale bool
	// NoTimestamps disables the RFC 7323 timestamps option (RTTM and
	// PAWS), which is otherwise offered and used when the peer agrees.
	NoTimestamps bool
	// NoDelay disables Nagle's algorithm (RFC 9293 §3.7.4) from the start.
	NoDelay bool
	// AckDelay is how long an ACK may be delayed (default 200 ms, at most
	// 200 ms; negative disables delayed ACKs).
	AckDelay time.Duration
	// InitialRTO, MinRTO and MaxRTO bound the retransmission timeout
	// (defaults 1 s, 200 ms, 60 s). RFC 6298 (2.4) asks for a 1 s minimum;
	// like Linux we default to 200 ms, which RFC 6298 §2 permits as a
	// local choice and which recovers far faster on low-latency paths.
	InitialRTO, MinRTO, MaxRTO time.Duration
	// R1 is the retransmission count after which EventStalled is reported
	// (default 3). R2 is how long retransmissions of one segment may go
	// unanswered before the connection is aborted with ErrTimedOut
	// (default 100 s); R2Syn is the same for SYN and SYN-ACK (default
	// 3 min). These are the RFC 9293 §3.8.3 minimums.
	R1        int
	R2, R2Syn time.Duration
	// UserTimeout, when positive, aborts the connection if sent data stays
	// unacknowledged (or the peer's window stays closed) that long (RFC
	// 9293 §3.8.3, RFC 5482).
	UserTimeout time.Duration
	// KeepAlive enables keep-alive probes (RFC 9293 §3.8.4, RFC 1122
	// §4.2.3.6) after KeepAliveIdle without any segment from the peer
	// (default 2 h), every KeepAliveInterval (default 75 s), aborting
	// after KeepAliveCount unanswered probes (default 9).
	KeepAlive         bool
	KeepAliveIdle     time.Duration
	KeepAliveInterval time.Duration
	KeepAliveCount    int
	// MSL is the maximum segment lifetime; TIME-WAIT lasts 2*MSL (default
	// 30 s, so TIME-WAIT lasts a minute as on Linux; RFC 9293 suggests
	// 2 min for MSL).
	MSL time.Duration
	// FinWait2Timeout bounds FIN-WAIT-2 for connections the user has fully
	// closed, so a vanished peer cannot hold one forever (default 60 s).
	FinWait2Timeout time.Duration
	// ChallengeACKLimit is the most challenge ACKs (RFC 5961 §7) sent per
	// second per connection (default 10).
	ChallengeACKLimit int
	// Congestion builds the congestion control for a new connection
	// (default NewNewReno).
	Congestion func(mss int) CongestionControl
	// ISNSecret keys ISN for connections opened by a LISTEN-state Conn
	// (see Listen).
	ISNSecret [16]byte
}

const maxBufferSize = 1 << 30

// withDefaults returns a copy of cfg with every zero field defaulted and
// every field clamped to a sane range.
func (cfg *Config) withDefaults() Config {
	c := *cfg
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.MTU <= 0 {
		c.MTU = 1500
	}
	c.MTU = min(max(c.MTU, 68), 65535)
	if c.SendBufferSize <= 0 {
		c.SendBufferSize = 256 << 10
	}
	if c.RecvBufferSize <= 0 {
		c.RecvBufferSize = 256 << 10
	}
	c.SendBufferSize = min(c.SendBufferSize, maxBufferSize)
	c.RecvBufferSize = min(c.RecvBufferSize, maxBufferSize)
	if c.AckDelay == 0 || c.AckDelay > 200*time.Millisecond {
		c.AckDelay = 200 * time.Millisecond
	}
	def(&c.InitialRTO, time.Second)
	def(&c.MinRTO, 200*time.Millisecond)
	def(&c.MaxRTO, 60*time.Second)
	if c.MaxRTO < c.MinRTO {
		c.MaxRTO = c.MinRTO
	}
	if c.R1 <= 0 {
		c.R1 = 3
	}
	def(&c.R2, 100*time.Second)
	def(&c.R2Syn, 3*time.Minute)
	def(&c.KeepAliveIdle, 2*time.Hour)
	def(&c.KeepAliveInterval, 75*time.Second)
	if c.KeepAliveCount <= 0 {
		c.KeepAliveCount = 9
	}
	def(&c.MSL, 30*time.Second)
	def(&c.FinWait2Timeout, 60*time.Second)
	if c.ChallengeACKLimit <= 0 {
		c.ChallengeACKLimit = 10
	}
	if c.Congestion == nil {
		c.Congestion = NewNewReno
	}
	return c
}

// connError is an error with net.Error's Timeout method, so the socket
// layer can pass it on unchanged.
type connError struct {
	msg     string
	timeout bool
}

func (e *connError) Error() string   { return e.msg }
func (e *connError) Timeout() bool   { return e.timeout }
func (e *connError) Temporary() bool { return e.timeout }

// Errors a Conn reports, from Err, Read and Write.
var (
	ErrRefused      error = &connError{msg: "tcp: connection refused"}
	ErrReset        error = &connError{msg: "tcp: connection reset by peer"}
	ErrTimedOut     error = &connError{msg: "tcp: connection timed out", timeout: true}
	ErrAborted      error = &connError{msg: "tcp: connection aborted"}
	ErrClosed       error = &connError{msg: "tcp: use of closed connection"}
	ErrWriteClosed  error = &connError{msg: "tcp: write after close"}
	ErrNotConnected error = &connError{msg: "tcp: not connected"}
	ErrInvalidTuple error = &connError{msg: "tcp: invalid address or port"}
	ErrNotSYN       error = &connError{msg: "tcp: segment is not a connection request"}
)

// Timer slots; a zero time means disarmed.
const (
	timerRetransmit = iota // RTO, SYN retransmission or persist
	timerDelayedAck
	timerKeepAlive
	timerLinger // TIME-WAIT 2*MSL or FIN-WAIT-2 timeout
	timerUser   // user timeout
	numTimers
)

// maxOOORanges bounds the out-of-order data kept: at most this many
// disjoint byte ranges beyond a hole (and never beyond the advertised
// window). A segment that would need another range is dropped.
const maxOOORanges = 8

type seqRange struct{ start, end Seq }

// Conn is the control block of one TCP connection (RFC 9293 §3.3.1, the
// TCB). It is a plain state machine: every method takes the current time
// and returns promptly; segments to send go to the Emitter given at
// creation; Events and NextDeadline tell the owner what happened and when
// to call HandleTimer. A Conn is not safe for concurrent use.
type Conn struct {
	cfg   Config
	emit  Emitter
	cc    CongestionControl
	tuple Tuple

	listenAddr netip.AddrPort // for a Conn made by Listen
	err        error
	state      State
	events     Events

	passive      bool // opened from a SYN (Accept or Listen)
	fromListen   bool // opened by a LISTEN-state Conn, returns to LISTEN on RST
	wsOK         bool // both sides sent window scale (RFC 7323 §2.2)
	sndShift     uint8
	rcvShift     uint8
	noDelay      bool
	finQueued    bool // CloseWrite called: FIN follows the queued data
	readClosed   bool // Close called: received data is no longer wanted
	ackNow       bool
	rttTiming    bool
	inRecovery   bool
	persisting   bool
	peerFin      bool // peer's FIN processed
	oooFin       bool // peer's FIN seen beyond a hole, at oooFinSeq
	reuse        bool // closed by a SYN that may reopen TIME-WAIT
	synRetx      bool // our SYN or SYN-ACK was retransmitted
	tsOK         bool // both sides sent timestamps (RFC 7323 §3.2)
	keepProbes   uint8
	persistShift uint8
	retries      int
	dupAcks      int

	// Send sequence space (RFC 9293 §3.3.1). sndMax is the highest
	// sequence number sent, which sndNxt may fall behind after a timeout.
	iss, sndUna, sndNxt, sndMax Seq
	sndWl1, sndWl2              Seq
	sndWnd, maxSndWnd           int
	sndMSS, peerMSS             int
	mtu                         int
	sndqSeq                     Seq // sequence number of sndq's first byte
	sndq                        byteQueue

	// Receive sequence space. rcvAdv is the right edge of the window last
	// advertised, which never moves left.
	irs, rcvNxt, rcvAdv Seq
	oooFinSeq           Seq
	rcvq                byteQueue
	rcvAvail            int // in-order bytes waiting in rcvq
	rcvMSS              int // largest segment seen, for delayed ACK
	ackPending          int // bytes received since the last ACK sent
	ooo                 [maxOOORanges]seqRange
	nOOO                int

	// Congestion and loss recovery (RFC 5681, RFC 6582).
	recover Seq
	recWnd  int

	// RTT estimation (RFC 6298).
	srtt, rttvar, rto time.Duration
	rttSeq            Seq
	rttStart          time.Time
	firstRetransmit   time.Time
	lastSend          time.Time // last data sent, for the idle restart
	lastAckRecv       time.Time

	chalStart time.Time
	chalCount int

	// Timestamps (RFC 7323). Our TSval is milliseconds since tsBase plus
	// a per-connection offset (§5.4); tsRecent is the peer's TSval to
	// echo, last set at tsRecentAt; lastAckSent is Last.ACK.sent (§4.3).
	tsBase      time.Time
	tsRecentAt  time.Time
	tsOffset    uint32
	tsRecent    uint32
	tsRtxMark   uint32 // our TSval when the retransmission timer last fired
	lastAckSent Seq

	timers [numTimers]time.Time

	stats Stats
	out   Outgoing
}

// Stats counts per-connection anomalies, for the owner to aggregate.
type Stats struct {
	SegmentsIn, SegmentsOut uint64
	Retransmits             uint64
	DroppedForeign          uint64 // tuple did not match
	DroppedUnacceptable     uint64 // failed the sequence check
	DroppedOutOfWindowRST   uint64
	ChallengeACKs           uint64
	ChallengeACKsLimited    uint64
	DroppedOOOFull          uint64 // out-of-order data beyond the range cap
	DroppedPAWS             uint64 // old timestamp (RFC 7323 §5)
	FastRetransmits         uint64
	RTOExpirations          uint64 // retransmission timer expiries
	Timeouts                uint64 // connections given up (R2, user timeout, keep-alive)
}

// newConn builds a control block in CLOSED with cfg defaulted.
func newConn(cfg *Config, emit Emitter) *Conn {
	c := &Conn{cfg: cfg.withDefaults(), emit: emit}
	c.noDelay = c.cfg.NoDelay
	c.mtu = c.cfg.MTU
	c.rto = c.cfg.InitialRTO
	if c.emit == nil {
		c.emit = func(*Outgoing) {}
	}
	return c
}

// Connect performs an active open (RFC 9293 §3.10.1): it sends a SYN with
// initial sequence number iss (see ISN) and returns the Conn in SYN-SENT.
func Connect(cfg *Config, t Tuple, iss Seq, now time.Time, emit Emitter) (*Conn, error) {
	if !t.valid() {
		return nil, ErrInvalidTuple
	}
	c := newConn(cfg, emit)
	c.tuple = t
	c.initSend(now, iss)
	c.state = StateSynSent
	c.sendSYN(now)
	return c, nil
}

// Accept performs a passive open for a connection request that reached a
// listener (ClassifyListen returned ListenAccept): it records the peer's
// options, sends SYN-ACK with initial sequence number iss and returns the
// Conn in SYN-RECEIVED. Data carried by the SYN is not kept; the peer
// sends it again once the handshake completes.
func Accept(cfg *Config, t Tuple, syn *Segment, iss Seq, now time.Time, emit Emitter) (*Conn, error) {
	if !t.valid() {
		return nil, ErrInvalidTuple
	}
	if ClassifyListen(syn) != ListenAccept {
		return nil, ErrNotSYN
	}
	c := newConn(cfg, emit)
	c.tuple = t
	c.acceptSYN(now, syn, iss)
	return c, nil
}

// Listen returns a Conn in LISTEN on local, the RFC's passive OPEN: the
// first acceptable SYN from anyone binds it to that peer, with an ISN keyed
// by cfg.ISNSecret. An unspecified address in local matches any address
// on the port. A stack serving many peers on a port keeps listeners in
// its demultiplexer instead and calls Accept per SYN; Listen serves single
// connection use and tests.
func Listen(cfg *Config, local netip.AddrPort, emit Emitter) *Conn {
	c := newConn(cfg, emit)
	c.tuple.Local = local
	c.listenAddr = local
	c.state = StateListen
	c.fromListen = true
	return c
}

// initSend sets up the send sequence space for initial sequence iss.
func (c *Conn) initSend(now time.Time, iss Seq) {
	c.iss = iss
	c.tsBase = now
	c.tsOffset = uint32(iss) * 0x9e3779b9 // a fixed mix of the (random) ISS
	c.tsRtxMark = c.tsOffset
	c.sndUna, c.sndNxt, c.sndMax = iss, iss, iss
	c.sndqSeq = iss + 1
	c.recover = iss
	c.peerMSS = defaultMSS(c.tuple)
	c.updateMSS()
	if !c.cfg.NoWindowScale {
		for c.rcvShift < MaxWindowScale && c.cfg.RecvBufferSize>>c.rcvShift > 0xffff {
			c.rcvShift++
		}
	}
}

// isV6 reports whether the connection runs over IPv6.
func (t Tuple) isV6() bool { return !t.Remote.Addr().Unmap().Is4() }

// defaultMSS is the send MSS assumed when the peer sends no MSS option:
// 536 over IPv4, 1220 over IPv6 (RFC 9293 §3.7.1).
func defaultMSS(t Tuple) int {
	if t.isV6() {
		return 1220
	}
	return 536
}

// headerOverhead is the IP plus TCP header size without options.
func (c *Conn) headerOverhead() int {
	if c.tuple.isV6() {
		return 40 + HeaderLen
	}
	return 20 + HeaderLen
}

// advertisedMSS is the MSS option we send: what fits our MTU.
func (c *Conn) advertisedMSS() int {
	return min(max(c.cfg.MTU-c.headerOverhead(), 48), 0xffff)
}

// updateMSS recomputes Eff.snd.MSS (RFC 9293 §3.7.1): the smaller of the
// peer's MSS and what the path MTU allows, never below 48 bytes so a
// hostile MSS cannot make us send byte-sized segments (as Linux's
// tcp_min_snd_mss).
func (c *Conn) updateMSS() {
	m := min(c.peerMSS, c.mtu-c.headerOverhead())
	if c.tsOK {
		m -= 12 // every segment carries the 12-byte timestamps option
	}
	c.sndMSS = max(m, 48)
	if c.cc != nil {
		c.cc.SetMSS(c.sndMSS)
	}
}

// peerMaySend reports whether the peer can still send us data, so that
// window updates mean something.
func (c *Conn) peerMaySend() bool {
	switch c.state {
	case StateSynReceived, StateEstablished, StateFinWait1, StateFinWait2:
		return true
	}
	return false
}

// State returns the current state.
func (c *Conn) State() State { return c.state }

// Tuple returns the connection's addresses (Remote is unset in LISTEN).
func (c *Conn) Tuple() Tuple { return c.tuple }

// Err returns why the connection closed: nil while open or after an
// orderly close, else ErrRefused, ErrReset, ErrTimedOut or ErrAborted.
func (c *Conn) Err() error { return c.err }

// TakeEvents returns the events since the previous call and clears them.
func (c *Conn) TakeEvents() Events {
	e := c.events
	c.events = 0
	return e
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats { return c.stats }

// MSS returns the effective send MSS.
func (c *Conn) MSS() int { return c.sndMSS }

// RTO returns the current retransmission timeout.
func (c *Conn) RTO() time.Duration { return c.rto }

// CongestionWindow returns the window the sender currently respects.
func (c *Conn) CongestionWindow() int { return c.cwnd() }

// Buffered returns the number of bytes waiting to be read.
func (c *Conn) Buffered() int { return c.rcvAvail }

// Unsent returns the number of bytes in the send buffer, unacknowledged
// or not yet sent.
func (c *Conn) Unsent() int { return c.sndq.ext }

// Available returns the free room in the send buffer.
func (c *Conn) Available() int {
	if c.finQueued || c.state == StateClosed || c.state == StateListen {
		return 0
	}
	return c.cfg.SendBufferSize - c.sndq.ext
}

// SetNoDelay turns Nagle's algorithm off (true) or on (false). Data held
// back by Nagle goes out on the next call that sends.
func (c *Conn) SetNoDelay(on bool) { c.noDelay = on }

// SetPathMTU changes the path MTU towards the peer (from ICMP "packet too
// big" or "fragmentation needed", RFC 8201/RFC 1191). The send MSS follows
// it but never exceeds what the peer announced.
func (c *Conn) SetPathMTU(mtu int) {
	c.mtu = min(max(mtu, 68), 65535)
	c.updateMSS()
}

// SetKeepAlive switches keep-alive probing on or off, with the idle time,
// interval and count from the Config unless the arguments are positive.
func (c *Conn) SetKeepAlive(now time.Time, on bool, idle, interval time.Duration, count int) {
	c.cfg.KeepAlive = on
	if idle > 0 {
		c.cfg.KeepAliveIdle = idle
	}
	if interval > 0 {
		c.cfg.KeepAliveInterval = interval
	}
	if count > 0 {
		c.cfg.KeepAliveCount = count
	}
	c.keepProbes = 0
	c.armKeepAlive(now)
}

// SetUserTimeout sets the user timeout (RFC 9293 §3.8.3); zero disables.
func (c *Conn) SetUserTimeout(now time.Time, d time.Duration) {
	c.cfg.UserTimeout = d
	c.timers[timerUser] = time.Time{}
	c.armUserTimeout(now)
}

// Write queues as much of p as the send buffer has room for and returns
// how many bytes it took; the rest must be offered again after
// EventWritable. Data written before the handshake completes is sent once
// it does.
func (c *Conn) Write(now time.Time, p []byte) (int, error) {
	switch c.state {
	case StateClosed:
		if c.err != nil {
			return 0, c.err
		}
		return 0, ErrClosed
	case StateListen:
		return 0, ErrNotConnected
	}
	if c.finQueued {
		return 0, ErrWriteClosed
	}
	n := min(len(p), c.cfg.SendBufferSize-c.sndq.ext)
	if n <= 0 {
		return 0, nil
	}
	c.sndq.writeAt(c.sndq.ext, p[:n])
	c.output(now)
	return n, nil
}

// Read moves buffered in-order data into p. It returns io.EOF once the
// peer's FIN has been reached, the close error after an abnormal close,
// and (0, nil) when nothing is buffered yet. Reading opens the receive
// window and may send a window update (RFC 9293 §3.8.6.2.2).
func (c *Conn) Read(now time.Time, p []byte) (int, error) {
	if c.rcvAvail == 0 {
		switch {
		case c.err != nil:
			return 0, c.err
		case c.peerFin:
			return 0, io.EOF
		case c.state == StateClosed:
			return 0, ErrClosed
		case c.state == StateListen:
			return 0, ErrNotConnected
		}
		return 0, nil
	}
	n := c.rcvq.readAt(0, p[:min(len(p), c.rcvAvail)])
	c.rcvq.discard(n)
	c.rcvAvail -= n
	if c.peerMaySend() && c.windowUpdateDue() {
		c.ackNow = true
		c.output(now)
	}
	return n, nil
}

// CloseWrite shuts the sending direction down: a FIN follows the data
// already queued (the RFC's CLOSE, a half-close: the peer may go on
// sending). In SYN-SENT and SYN-RECEIVED the FIN waits for the handshake.
func (c *Conn) CloseWrite(now time.Time) error {
	switch c.state {
	case StateClosed:
		if c.err != nil {
			return c.err
		}
		return ErrClosed
	case StateListen:
		c.enterClosed(nil)
		return nil
	}
	if c.finQueued {
		return nil
	}
	c.finQueued = true
	switch c.state {
	case StateEstablished:
		c.state = StateFinWait1
	case StateCloseWait:
		c.state = StateLastAck
	}
	c.output(now)
	return nil
}

// Close closes both directions. If received data is still unread, or
// arrives later, it resets the connection instead, so the peer learns its
// data was not consumed (RFC 1122 §4.2.2.13, RFC 2525 §2.17). Otherwise it
// is CloseWrite, and the connection lingers through FIN-WAIT and TIME-WAIT
// on its own. In LISTEN, and in SYN-SENT with nothing written, it closes
// at once (RFC 9293 §3.10.4); data written in SYN-SENT is still delivered,
// followed by the FIN, once the handshake completes.
func (c *Conn) Close(now time.Time) error {
	switch c.state {
	case StateClosed:
		return nil
	case StateListen:
		c.enterClosed(nil)
		return nil
	case StateSynSent:
		if c.sndq.ext == 0 {
			c.enterClosed(nil)
			return nil
		}
	}
	if c.rcvAvail > 0 {
		c.Abort(now)
		return nil
	}
	c.readClosed = true
	if c.state == StateFinWait2 {
		c.timers[timerLinger] = now.Add(c.cfg.FinWait2Timeout)
	}
	return c.CloseWrite(now)
}

// Abort resets the connection (the RFC's ABORT, §3.10.5): a RST goes to the
// peer from the states where it has state to discard, all queues are
// flushed and the Conn enters CLOSED with ErrAborted.
func (c *Conn) Abort(now time.Time) {
	switch c.state {
	case StateSynReceived, StateEstablished, StateFinWait1, StateFinWait2, StateCloseWait:
		c.sendRST(now, c.sndNxt)
	}
	if c.state != StateClosed {
		c.enterClosed(ErrAborted)
	}
}

// TimeWaitReuse reports whether the connection closed because a new SYN
// arrived in TIME-WAIT with a sequence number above the old connection's
// (RFC 1122 §4.2.2.13). The owner should then hand that SYN to the
// listener (Accept) with an ISN of at least minISS, so that old duplicates
// of this connection cannot be mistaken for the new one.
func (c *Conn) TimeWaitReuse() (minISS Seq, ok bool) {
	if !c.reuse {
		return 0, false
	}
	return c.sndMax.Add(1 << 16), true
}

// enterClosed moves to CLOSED, reporting err (nil for an orderly close).
// On an abnormal close the queues are flushed (RFC 9293 §3.10.7.4, reset
// handling); after an orderly one unread data stays readable.
func (c *Conn) enterClosed(err error) {
	c.state = StateClosed
	c.err = err
	c.events |= EventClosed
	c.timers = [numTimers]time.Time{}
	c.sndq.release()
	c.nOOO = 0
	if err != nil {
		c.rcvq.release()
		c.rcvAvail = 0
	}
}

// enterTimeWait moves to TIME-WAIT for 2*MSL (RFC 9293 §3.10.7.4).
func (c *Conn) enterTimeWait(now time.Time) {
	c.state = StateTimeWait
	c.timers = [numTimers]time.Time{}
	c.timers[timerLinger] = now.Add(2 * c.cfg.MSL)
	c.sndq.release()
}

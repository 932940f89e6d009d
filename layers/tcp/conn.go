package tcp

import (
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
	ErrAddrRemoved  error = &connError{msg: "tcp: local address removed"}
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
	timerProbe  // loss detection: the tail loss probe (RFC 8985 §7), or in SACK recovery the reordering timer of retransmissions
	numTimers
)

// maxOOORanges bounds the out-of-order data kept: at most this many
// disjoint byte ranges beyond a hole (and never beyond the advertised
// window). A segment that would need another range is dropped.
const maxOOORanges = 8

type seqRange struct{ start, end Seq }

// oooRange is a range of out-of-order data held by the receiver, with the
// order in which ranges last grew, so that SACK blocks can report the most
// recently changed ones first (RFC 2018 §4).
type oooRange struct {
	seqRange
	gen uint32
}

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
	gsoSize      int // the segment size of the super-segment being emitted
	rttTiming    bool
	inRecovery   bool
	persisting   bool
	peerFin      bool // peer's FIN processed
	oooFin       bool // peer's FIN seen beyond a hole, at oooFinSeq
	reuse        bool // closed by a SYN that may reopen TIME-WAIT
	synRetx      bool // our SYN or SYN-ACK was retransmitted
	tsOK         bool // both sides sent timestamps (RFC 7323 §3.2)
	sackOK       bool // both sides sent SACK-permitted (RFC 2018 §2)
	dsackSet     bool // dsack holds a duplicate to report (RFC 2883)
	rescueSet    bool // rescueRxt is defined (RFC 6675 §4 rule 4)
	tlpActive    bool // a tail loss probe is unanswered (TLP.end_seq set, RFC 8985 §7)
	tlpRetrans   bool // and it was a retransmission
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
	ooo                 [maxOOORanges]oooRange
	nOOO                int
	oooGen              uint32   // generation of the latest ooo change
	dsack               seqRange // duplicate data to report first (RFC 2883)

	// Congestion and loss recovery (RFC 5681, RFC 6582, RFC 6675).
	// recover is RecoveryPoint minus one; with SACK, highRxt is one past
	// the highest byte retransmitted in this recovery (HighRxt), rescueRxt
	// is RescueRxt, pipe is the RFC 6675 estimate of bytes in the network
	// and sb the scoreboard of what the peer has selectively acknowledged.
	recover   Seq
	recWnd    int
	highRxt   Seq
	rescueRxt Seq
	pipe      int
	sb        scoreboard
	rxt       [maxRxtMarks]rxtMark
	nRxt      int
	tlpSeq    Seq // the probe covered [tlpSeq, tlpEnd)
	tlpEnd    Seq

	// RTT estimation (RFC 6298).
	srtt, rttvar, rto time.Duration
	rttSeq            Seq
	rttStart          time.Time
	firstRetransmit   time.Time
	lastSend          time.Time // last data sent, for the idle restart
	lastAckRecv       time.Time

	chalStart time.Time
	chalCount int
	// lastOOWACK is when an ACK last answered a bare out-of-window segment.
	lastOOWACK time.Time

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

	// softErr is the last ICMP error that did not end the connection; a
	// handshake that times out reports it (RFC 1122 §4.2.3.9).
	softErr error
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
	DroppedControlErrors    uint64 // ICMP errors quoting a sequence number not in flight
	SACKRecoveries          uint64 // fast retransmits that began SACK-based recovery (RFC 6675)
	SACKRetransmits         uint64 // segments resent from the scoreboard (NextSeg)
	RescueRetransmits       uint64 // RFC 6675 rule 4 retransmissions
	DSACKsSent              uint64 // ACKs reporting duplicate data (RFC 2883)
	DSACKsReceived          uint64 // D-SACK blocks from the peer
	LostRetransmits         uint64 // retransmissions found lost by later SACKs, and resent
	TailLossProbes          uint64 // probes sent when the ACKs stopped (RFC 8985 §7)
	TailLossRepairs         uint64 // probes that repaired a loss (cwnd reduced)
	OutOfWindowACKsLimited  uint64 // bare out-of-window segments left unanswered (rate limit)
	// FailedAttempts counts a handshake that ended in CLOSED (from
	// SYN-SENT or SYN-RECEIVED), ResetsReceived a reset that closed an
	// ESTABLISHED or CLOSE-WAIT connection: Linux's AttemptFails and
	// EstabResets (RFC 1213's tcpAttemptFails and tcpEstabResets).
	FailedAttempts uint64
	ResetsReceived uint64
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

// tsClockOffset is the offset of a new connection's timestamp clock: our
// TSval is the milliseconds of the wall clock plus a fixed mix of the
// keyed hash in the ISS (RFC 6528: ISS = M + F(tuple, secret), so F =
// ISS - M). RFC 7323 §5.4 allows a random offset per connection, but a
// new incarnation of a tuple whose TSval went back could be refused by a
// peer holding the tuple in TIME-WAIT (RFC 6191, Linux's TIME-WAIT PAWS
// check); an offset per tuple, as Linux keeps one per address pair, makes
// the TSval of a tuple's incarnations only grow, and still reveals
// neither the clock nor other tuples' numbers.
func tsClockOffset(now time.Time, iss Seq) uint32 {
	f := uint32(iss) - isnClock(now)
	return uint32(now.UnixMilli()) + f*0x9e3779b9
}

// initSend sets up the send sequence space for initial sequence iss.
func (c *Conn) initSend(now time.Time, iss Seq) {
	c.iss = iss
	c.tsBase = now
	c.tsOffset = tsClockOffset(now, iss)
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

// IdleTimeout is the connection's Config.IdleTimeout.
func (c *Conn) IdleTimeout() time.Duration { return c.cfg.IdleTimeout }

// DataMark returns RCV.NXT and SND.UNA: when neither moved, no data (nor
// FIN) went either way. A connection owner compares marks to tell idleness.
func (c *Conn) DataMark() (rcvNxt, sndUna Seq) { return c.rcvNxt, c.sndUna }

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

// enterClosed moves to CLOSED, reporting err (nil for an orderly close).
// On an abnormal close the queues are flushed (RFC 9293 §3.10.7.4, reset
// handling); after an orderly one unread data stays readable.
func (c *Conn) enterClosed(err error) {
	switch c.state {
	case StateSynSent, StateSynReceived:
		c.stats.FailedAttempts++
	case StateEstablished, StateCloseWait:
		if err == ErrReset {
			c.stats.ResetsReceived++
		}
	}
	c.state = StateClosed
	c.err = err
	c.events |= EventClosed
	c.timers = [numTimers]time.Time{}
	c.sndq.release()
	c.nOOO = 0
	c.sb.clear()
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

package tcp

import "time"

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
	// NoSACK disables selective acknowledgments (RFC 2018), which are
	// otherwise offered on SYN and SYN-ACK and, when the peer agrees, used
	// both ways: as a receiver to report out-of-order data (with D-SACK,
	// RFC 2883) and as a sender for SACK-based loss recovery (RFC 6675).
	// Without SACK, loss recovery is NewReno (RFC 6582).
	NoSACK bool
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
	// SynRetries, when positive, is the most times a SYN or SYN-ACK is
	// retransmitted: one RTO after the last one the handshake is given up
	// (silently for a passive open, as Linux drops a request). Zero
	// leaves R2Syn alone to limit the handshake. A listener under SYN
	// pressure lowers it per connection (SynAckRetries).
	SynRetries int
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
	// IdleTimeout, when positive, closes a connection that moved no data
	// in either direction for that long: gracefully (a FIN after what is
	// queued), or with a reset when data is waiting that the peer does
	// not take, or when the graceful close itself stays stuck for another
	// IdleTimeout. The control block only carries it: the connection's
	// owner (actnet's connection actor) keeps the timer, with DataMark.
	// Zero disables it (the default for the library; `actnet serve`
	// defaults to 5 minutes).
	IdleTimeout time.Duration
	// ChallengeACKLimit is the most challenge ACKs (RFC 5961 §7) sent per
	// second per connection (default 10).
	ChallengeACKLimit int
	// Congestion builds the congestion control for a new connection:
	// NewCubic (RFC 9438, the default) or NewNewReno (RFC 5681), or any
	// other CongestionControl. CUBIC is the default because it moved 4 MiB
	// through 1% and 3% random loss 1.2-1.4 times faster than NewReno,
	// with or without SACK (TestLinkLossMatrix), and it is what Linux
	// peers run.
	Congestion func(mss int) CongestionControl
	// ISNSecret keys ISN for connections opened by a LISTEN-state Conn
	// (see Listen).
	ISNSecret [16]byte
	// GSOMax, when positive, is the most data one outgoing segment may
	// carry on a link with TCP segmentation offload (TSO): new data goes
	// out in super-segments of several MSS (Outgoing.GSOSize says where
	// the link cuts them), sized like Linux's TSO autosizing. Zero keeps
	// every segment within the MSS. Retransmissions, loss recovery and
	// the congestion window stay in MSS units either way.
	GSOMax int
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
	c.GSOMax = min(max(c.GSOMax, 0), 0xffff)
	if c.Congestion == nil {
		c.Congestion = NewCubic
	}
	return c
}

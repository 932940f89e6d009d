// Package tcp is the pure TCP core of actnet: the segment wire format,
// sequence-number arithmetic and the connection control block, as plain Go
// with no goroutines, no clock reads (time is always an argument) and no
// panics on any input. It knows nothing of actors, IP or devices; the
// connection actor wraps one Conn, the demultiplexing actor uses the
// stateless helpers.
//
// # Wire format
//
// NewSegment validates bytes into a Segment view (zero allocations);
// failures are ParseError values, distinct per reason, for drop counters.
// Segment.VerifyChecksum takes the pseudo-header sum from the IP layer.
// Header (with Options) is the representation used to build segments:
// Header.Len and Header.Emit, which also fills in the checksum.
//
// # Control block
//
// A Conn is created by Connect (active open, sends SYN), by Accept (a SYN
// that reached a listener, sends SYN-ACK) or by Listen (an RFC-style LISTEN
// TCB, for single use and tests). Its owner then calls:
//
//	HandleSegment(now, tuple, seg)  an inbound, checksum-verified segment
//	HandleTimer(now)                when NextDeadline() has passed
//	Write(now, p) (n, err)          takes what fits in the send buffer
//	Read(now, p) (n, err)           io.EOF after the peer's FIN
//	CloseWrite(now), Close(now), Abort(now)
//	SetNoDelay, SetPathMTU, SetKeepAlive, SetUserTimeout
//
// and may look at State, Tuple, Err, Buffered (bytes to read), Available
// (room to write), Unsent, MSS, RTO, CongestionWindow and Stats.
//
// Segments to send are passed, while the call runs, to the Emitter given at
// creation as an *Outgoing whose Emit serializes it into the owner's
// buffer; nothing is allocated per segment. After each call the owner
// collects TakeEvents() (EventEstablished, EventReadable, EventWritable,
// EventPeerClosed, EventClosed with Err() = nil, ErrRefused, ErrReset,
// ErrTimedOut or ErrAborted; EventStalled at R1) and NextDeadline().
//
// For segments that match no connection the demultiplexer uses
// ClassifyListen (LISTEN rules), RejectSegment (the RST for a closed port)
// and ISN (RFC 6528 initial sequence numbers). When a Conn in TIME-WAIT
// closes because of a new SYN (TimeWaitReuse), the owner passes that SYN
// to the listener again. An owner that keeps many connections may instead
// take a Conn's compact TimeWait entry as it enters TIME-WAIT, drop the
// Conn, and let the entry answer for the tuple (TimeWait.Input) until it
// expires.
//
// # Choices
//
//   - RTO: RFC 6298 with Karn's rule and doubling backoff, minimum 200 ms as
//     on Linux (RFC 6298 asks for 1 s; Config.MinRTO restores that), maximum
//     60 s, initial 1 s.
//   - Timestamps (RFC 7323) are offered and used when the peer agrees: RTT
//     measurement from echoed timestamps (an echo older than the last
//     timeout is refused, Karn's rule in timestamp form) and PAWS, which
//     lets reordered pure duplicate ACKs through as Linux does. Segments
//     without the option after negotiation are accepted (Linux behaviour;
//     RFC 7323 §3.2 says SHOULD drop).
//   - SACK (RFC 2018) is offered and used when the peer agrees
//     (Config.NoSACK turns it off). As a receiver, every ACK sent while
//     out-of-order data is held carries SACK blocks, the most recently
//     changed range first, as many as fit (three next to timestamps); a
//     duplicate segment is reported first as a D-SACK (RFC 2883). Data
//     segments shrink to make room for the option.
//   - Loss recovery with SACK is RFC 6675's: a bounded scoreboard of SACKed
//     ranges (32; forgetting is safe), IsLost/NextSeg/pipe, recovery on
//     DupThresh duplicates or IsLost(HighACK+1), the rescue retransmission
//     (not of a tail already resent). On top of the RFC, a retransmission
//     is taken as lost when data sent after it is SACKed as IsLost would
//     ask, or (RACK's time rule, RFC 8985) once 1.25 SRTT have passed and
//     anything sent later arrived; it is then resent before the timer.
//     A timeout forgets the scoreboard (RFC 2018 §8, RFC 6675 §5.1), keeps
//     RecoveryPoint, and the go-back retransmission skips what SACKs that
//     arrive afterwards show the peer holds.
//   - With SACK, a tail loss probe (RFC 8985 §7) goes out 2*SRTT after the
//     ACKs stop (plus 200 ms with one segment in flight): new data if the
//     peer's window takes it, else the last segment again; a probe that
//     repaired a loss (no D-SACK for it) reduces cwnd like any loss.
//   - Without SACK: fast retransmit on three duplicate ACKs, NewReno fast
//     recovery with partial ACKs (RFC 6582), limited transmit (RFC 3042).
//   - Congestion control sits behind the CongestionControl interface:
//     CUBIC (RFC 9438, with the Reno-friendly region and fast convergence)
//     by default, NewReno (RFC 5681) on request (Config.Congestion =
//     NewNewReno). CUBIC is the default because it was faster in every
//     cell of the lossy-link measurement, with and without SACK
//     (TestLinkLossMatrix, BenchmarkLossyLink: 4 MiB at 1% and 3% loss,
//     20 ms RTT).
//   - Buffers are bounded (Config.SendBufferSize, RecvBufferSize) and take
//     memory in 16 KiB pooled chunks only while they hold bytes, so an idle
//     connection costs about a kilobyte.
//   - Out-of-order data is kept within the advertised window in at most
//     eight disjoint ranges.
//   - TIME-WAIT is 2*MSL with MSL 30 s; a RST does not end it (RFC 1337);
//     a SYN ends it when newer by timestamp or sequence (RFC 6191).
//   - Urgent data is not supported: the URG bit and pointer are ignored and
//     the bytes are delivered inline (RFC 6093).
//   - Data carried on a SYN is not kept; the peer retransmits it.
package tcp

package mailbox

// The per-layer counter structs. Each field carries its netstat-style name
// in a `stat` tag, or in a `drop` tag when it counts packets dropped (every
// drop has its own counter, by reason). Names follow Linux's `netstat -s`
// wording where Linux has the same counter; where a counter is actnet's
// own, its name says what it counts in the same style.

// Link counts the device traffic as the stack sees it.
type Link[T Value] struct {
	FramesReceived   T `stat:"frames received"`
	FramesSent       T `stat:"frames sent"`
	ReadErrors       T `stat:"device read errors"`
	RingFull         T `drop:"frames dropped: ingress ring full"`
	BufferMemoryFull T `drop:"frames dropped: packet buffer memory cap"`
	WriteErrors      T `drop:"frames dropped: device write error"`
}

// Ethernet counts the frames the Ethernet layer sorted and emitted.
type Ethernet[T Value] struct {
	FramesReceived T `stat:"frames received"`
	FramesSent     T `stat:"frames sent"`
	Truncated      T `drop:"frames dropped: truncated"`
	NotForUs       T `drop:"frames dropped: not for us"`
	BadSource      T `drop:"frames dropped: bad source address"`
	UnknownType    T `drop:"frames dropped: unknown EtherType"`
	VLAN           T `drop:"frames dropped: VLAN tagged"`
	NoIPv6         T `drop:"frames dropped: IPv6 not enabled"`
	HandlerCrashes T `drop:"frames dropped: handler crashed"`
}

// ARP counts the address resolution layer, including the IP packets it
// held while resolving their next hop.
type ARP[T Value] struct {
	PacketsReceived   T `stat:"packets received"`
	PacketsSent       T `stat:"packets sent"`
	RequestsSent      T `stat:"requests sent"`
	RepliesSent       T `stat:"replies sent"`
	AnnouncementsSent T `stat:"announcements sent"`
	ProbesSent        T `stat:"probes sent"`
	ProbeConflicts    T `stat:"probed addresses found in use"`
	Malformed         T `drop:"packets dropped: malformed"`
	NotForUs          T `drop:"packets dropped: not for us"`
	BadSender         T `drop:"packets dropped: bad sender address"`
	Conflicts         T `drop:"packets dropped: address conflict"`
	HandlerCrashes    T `drop:"packets dropped: handler crashed"`
	Unresolved        T `drop:"outgoing packets dropped: unresolved next hop"`
	QueueFull         T `drop:"outgoing packets dropped: resolution queue full"`
	TableFull         T `stat:"neighbour cache full: entries evicted or refused"`
}

// IPv4 counts the IPv4 layer, both directions.
type IPv4[T Value] struct {
	PacketsReceived T `stat:"total packets received"`
	PacketsSent     T `stat:"requests sent out"`

	// Validation (RFC 791, RFC 1122 §3.2.1), one reason each.
	Truncated       T `drop:"with invalid headers: truncated"`
	BadVersion      T `drop:"with invalid headers: version not 4"`
	BadHeaderLength T `drop:"with invalid headers: header length below 20"`
	BadTotalLength  T `drop:"with invalid headers: total length below header length"`
	BadChecksum     T `drop:"with invalid headers: bad checksum"`
	Invalid         T `drop:"with invalid headers: other"`
	NotForUs        T `drop:"with invalid addresses: not for us"`
	BadSource       T `drop:"with invalid addresses: bad source"`
	OwnSource       T `drop:"with invalid addresses: our own address from the wire"`
	SourceRouted    T `drop:"with a source route option"`
	UnknownProtocol T `drop:"with unknown protocol"`
	NoTransport     T `drop:"incoming packets discarded: transport not running"`
	HandlerCrashes  T `drop:"incoming packets discarded: handler crashed"`

	// Reassembly (RFC 791 §3.2, RFC 815).
	FragmentsReceived   T `stat:"reassemblies required"`
	Reassembled         T `stat:"packets reassembled ok"`
	FragBadOffset       T `drop:"fragments dropped: bad offset"`
	FragEmpty           T `drop:"fragments dropped: empty"`
	FragUnalignedLength T `drop:"fragments dropped: length not a multiple of 8"`
	FragTooLong         T `drop:"fragments dropped: past 65535 bytes"`
	FragOverlap         T `drop:"fragments dropped: overlap"`
	FragInconsistent    T `drop:"fragments dropped: inconsistent length"`
	FragTooMany         T `drop:"fragments dropped: too many fragments"`
	FragMemoryCap       T `drop:"fragments dropped: datagram above memory cap"`
	ReassemblyEvicted   T `drop:"packet reassemblies failed: evicted"`
	ReassemblyTimedOut  T `drop:"packet reassemblies failed: timed out"`
	Fragmented          T `stat:"datagrams fragmented ok"`
	FragmentsCreated    T `stat:"fragments created"`
	FragmentationFailed T `drop:"fragments failed"`
	TooBig              T `drop:"outgoing packets dropped: too big with DF set"`
	NoRoute             T `drop:"dropped because of missing route"`
	PathMTULowered      T `stat:"path MTU lowered"`
}

// ICMPv4 counts ICMP for IPv4, both directions.
type ICMPv4[T Value] struct {
	MessagesReceived   T `stat:"ICMP messages received"`
	MessagesSent       T `stat:"ICMP messages sent"`
	Malformed          T `drop:"input ICMP message failed"`
	EchoToBroadcast    T `drop:"echo requests to a broadcast ignored"`
	UnsolicitedReplies T `drop:"unsolicited echo replies"`
	SourceQuench       T `drop:"source quenches ignored (RFC 6633)"`
	UnhandledType      T `drop:"messages of an unhandled type"`
	EchoRepliesSent    T `stat:"echo replies sent"`

	ErrorsReceived    T `stat:"errors received"`
	ErrorBadQuote     T `drop:"errors dropped: bad quoted datagram"`
	ErrorNotOurs      T `drop:"errors dropped: quoted datagram not from us"`
	ErrorNoTransport  T `drop:"errors dropped: no transport to tell"`
	UnreachableSent   T `stat:"destination unreachable sent"`
	TimeExceededSent  T `stat:"time exceeded sent"`
	ErrorsSuppressed  T `stat:"errors not sent: RFC 1122 rules"`
	ErrorsRateLimited T `drop:"errors not sent: rate limit"`
}

// IPv6 counts the IPv6 layer, both directions, with neighbour discovery
// and address configuration (RFC 8200, RFC 4861, RFC 4862).
type IPv6[T Value] struct {
	PacketsReceived T `stat:"total packets received"`
	PacketsSent     T `stat:"requests sent out"`

	// Validation (RFC 8200 §3, §4), one reason each.
	Truncated       T `drop:"with invalid headers: truncated"`
	BadVersion      T `drop:"with invalid headers: version not 6"`
	Invalid         T `drop:"with invalid headers: other"`
	NotForUs        T `drop:"with invalid addresses: not for us"`
	BadSource       T `drop:"with invalid addresses: bad source"`
	OwnSource       T `drop:"with invalid addresses: our own address from the wire"`
	ExtTruncated    T `drop:"extension headers: truncated"`
	ExtHopByHop     T `drop:"extension headers: hop-by-hop not first"`
	ExtTooMany      T `drop:"extension headers: too many"`
	ExtTooLong      T `drop:"extension headers: chain too long"`
	ExtOption       T `drop:"extension headers: bad option length or padding"`
	ExtTooManyOpts  T `drop:"extension headers: too many options"`
	ExtUnknownOpt   T `drop:"extension headers: unrecognised option"`
	ExtRouting      T `drop:"extension headers: routing header refused"`
	ExtNestedFrag   T `drop:"extension headers: nested fragment header"`
	ExtIncomplete   T `drop:"extension headers: first fragment without the whole chain"`
	UnknownProtocol T `drop:"with unknown protocol"`
	NoNextHeader    T `stat:"packets with no next header"`
	NoTransport     T `drop:"incoming packets discarded: transport not running"`
	HandlerCrashes  T `drop:"incoming packets discarded: handler crashed"`

	// Reassembly (RFC 8200 §4.5).
	FragmentsReceived   T `stat:"reassemblies required"`
	Reassembled         T `stat:"packets reassembled ok"`
	FragBadOffset       T `drop:"fragments dropped: bad offset"`
	FragEmpty           T `drop:"fragments dropped: empty"`
	FragUnalignedLength T `drop:"fragments dropped: length not a multiple of 8"`
	FragTooLong         T `drop:"fragments dropped: past 65535 bytes"`
	FragOverlap         T `drop:"fragments dropped: overlap"`
	FragInconsistent    T `drop:"fragments dropped: inconsistent length"`
	FragTooMany         T `drop:"fragments dropped: too many fragments"`
	FragMemoryCap       T `drop:"fragments dropped: packet above memory cap"`
	FragOther           T `drop:"fragments dropped: other"`
	ReassemblyEvicted   T `drop:"packet reassemblies failed: evicted"`
	ReassemblyTimedOut  T `drop:"packet reassemblies failed: timed out"`
	Fragmented          T `stat:"packets fragmented ok"`
	FragmentsCreated    T `stat:"fragments created"`
	FragmentationFailed T `drop:"fragments failed"`
	TooBig              T `drop:"outgoing packets dropped: too big"`
	NoRoute             T `drop:"dropped because of missing route"`
	NoSource            T `drop:"outgoing packets dropped: no source address"`
	PathMTULowered      T `stat:"path MTU lowered"`

	// Neighbour discovery (RFC 4861).
	NDPReceived          T `stat:"neighbour discovery messages received"`
	NDPBadHopLimit       T `drop:"neighbour discovery dropped: hop limit not 255"`
	NDPInvalid           T `drop:"neighbour discovery dropped: invalid"`
	NDPSpoofed           T `drop:"neighbour discovery dropped: claims our own address"`
	NDPRedirectRefused   T `drop:"redirects dropped: not from the first-hop router"`
	SolicitationsSent    T `stat:"neighbour solicitations sent"`
	AdvertisementsSent   T `stat:"neighbour advertisements sent"`
	RouterSolicitsSent   T `stat:"router solicitations sent"`
	RouterSolicitsIgnore T `stat:"router solicitations ignored (host)"`
	RouterAdverts        T `stat:"router advertisements received"`
	Redirects            T `stat:"redirects honoured"`
	Unresolved           T `drop:"outgoing packets dropped: unresolved next hop"`
	QueueFull            T `drop:"outgoing packets dropped: resolution queue full"`

	// Addresses (RFC 4862) and MLD (RFC 3810).
	AddrsConfigured T `stat:"addresses configured"`
	DADSent         T `stat:"duplicate address detection solicitations sent"`
	DADConflicts    T `drop:"addresses not used: duplicate (DAD)"`
	AddrConflicts   T `stat:"address conflicts with a neighbour"`
	MLDReportsSent  T `stat:"MLD reports sent"`
}

// ICMPv6 counts ICMPv6, both directions (RFC 4443).
type ICMPv6[T Value] struct {
	MessagesReceived   T `stat:"ICMP messages received"`
	MessagesSent       T `stat:"ICMP messages sent"`
	Malformed          T `drop:"input ICMP message failed"`
	BadChecksum        T `drop:"input ICMP message failed: bad checksum"`
	UnsolicitedReplies T `drop:"unsolicited echo replies"`
	UnhandledType      T `drop:"messages of an unhandled type"`
	EchoRepliesSent    T `stat:"echo replies sent"`

	ErrorsReceived    T `stat:"errors received"`
	UnreachReceived   T `stat:"destination unreachable received"`
	TooBigReceived    T `stat:"packet too big received"`
	TimeExceededRecv  T `stat:"time exceeded received"`
	ParamProblemRecv  T `stat:"parameter problems received"`
	ErrorBadQuote     T `drop:"errors dropped: bad quoted packet"`
	ErrorNotOurs      T `drop:"errors dropped: quoted packet not from us"`
	ErrorNoTransport  T `drop:"errors dropped: no transport to tell"`
	UnreachableSent   T `stat:"destination unreachable sent"`
	TimeExceededSent  T `stat:"time exceeded sent"`
	ParamProblemSent  T `stat:"parameter problems sent"`
	ErrorsSuppressed  T `stat:"errors not sent: RFC 4443 rules"`
	ErrorsRateLimited T `drop:"errors not sent: rate limit"`
}

// UDP counts the UDP layer and its sockets.
type UDP[T Value] struct {
	PacketsReceived     T `stat:"packets received"`
	PacketsSent         T `stat:"packets sent"`
	NoPort              T `drop:"packets to unknown port received"`
	Truncated           T `drop:"packet receive errors: truncated"`
	LengthTooShort      T `drop:"packet receive errors: length field below 8"`
	LengthTooLong       T `drop:"packet receive errors: length field past the packet"`
	BadChecksum         T `drop:"packet receive errors: bad checksum"`
	Malformed           T `drop:"packet receive errors: other"`
	QueueFull           T `drop:"receive buffer errors"`
	BroadcastNoPort     T `drop:"broadcasts to a closed port ignored"`
	BroadcastNotEnabled T `drop:"broadcasts ignored: not enabled on the socket"`
	NotFromPeer         T `drop:"packets not from the connected peer"`
	HandlerCrashes      T `drop:"packets dropped: handler crashed"`
	NoChecksum          T `stat:"packets without checksum"`
	ErrorsDelivered     T `stat:"ICMP errors reported to sockets"`
	ErrorsIgnored       T `stat:"ICMP errors ignored"`
	// AddrRemoved counts sockets closed because the local address they
	// were bound to (or connected from) was removed.
	AddrRemoved T `stat:"sockets closed: local address removed"`
}

// TCP counts the tcp layer and its connections. A field named like a field
// of tcp.Stats (Retransmits, FailedAttempts, DroppedPAWS, ...) is folded in
// from each connection's control block when the connection ends; the rest
// count as it happens.
type TCP[T Value] struct {
	ActiveOpens      T `stat:"active connection openings"`
	PassiveOpens     T `stat:"passive connection openings"`
	FailedAttempts   T `stat:"failed connection attempts"`
	ResetsReceived   T `stat:"connection resets received"`
	Established      T `stat:"connections established (total)"`
	SegmentsReceived T `stat:"segments received"`
	SegmentsSent     T `stat:"segments sent out"`
	Retransmits      T `stat:"segments retransmitted"`
	ResetsSent       T `stat:"resets sent"`
	FastRetransmits  T `stat:"fast retransmits"`

	// Validation of received segments (RFC 9293 §3.1), one reason each.
	BadChecksum        T `drop:"bad segments received: bad checksum"`
	BadAddress         T `drop:"bad segments received: bad address or port"`
	Truncated          T `drop:"bad segments received: shorter than header"`
	BadDataOffset      T `drop:"bad segments received: bad data offset"`
	OptionTruncated    T `drop:"bad segments received: option truncated"`
	BadOptionLength    T `drop:"bad segments received: option length below two"`
	BadMSSOption       T `drop:"bad segments received: bad MSS option"`
	BadWScaleOption    T `drop:"bad segments received: bad window scale option"`
	BadSACKPermOption  T `drop:"bad segments received: bad SACK-permitted option"`
	BadSACKOption      T `drop:"bad segments received: bad SACK option"`
	BadTimestampOption T `drop:"bad segments received: bad timestamps option"`
	Malformed          T `drop:"bad segments received: other"`

	// The connection table and listeners.
	ClosedPort      T `drop:"segments to a closed port (reset sent)"`
	ListenDrops     T `drop:"segments to a listener dropped: not a connection request"`
	BacklogFull     T `stat:"SYNs to LISTEN sockets with the backlog full"`
	CookiesSent     T `stat:"SYN cookies sent"`
	CookiesReceived T `stat:"SYN cookies received"`
	CookiesFailed   T `drop:"invalid SYN cookies received"`
	SYNNoRoute      T `drop:"SYNs to LISTEN sockets dropped: no route back"`
	// HalfOpenUnreachable counts half-open connections ended at once
	// because their SYN-ACK could not be sent (no route, or ARP for the
	// next hop gave up), instead of living through the SYN-ACK retries.
	HalfOpenUnreachable T `stat:"half-open connections ended: next hop unresolved"`
	TableFull           T `drop:"connections refused: table full"`
	SpawnRateLimited    T `stat:"connection requests over the actor spawn rate (SYN cookie sent, or cookie ACK dropped)"`
	InboxFull           T `drop:"segments dropped: connection inbox full"`
	EmitFailed          T `drop:"outgoing segments dropped: too large for a buffer"`
	AcceptQueueFull     T `stat:"connections reset: accept queue full"`
	AppGone             T `stat:"connections reset: app stopped without closing"`
	IdleCloses          T `stat:"connections closed: idle timeout"`
	IdleResets          T `stat:"connections reset: idle timeout, peer not reading or not closing"`
	UnknownCommands     T `stat:"messages to a connection that are not commands"`
	TimeWaitReopened    T `stat:"connections reopened from TIME-WAIT"`
	// Compact TIME-WAIT (actors/timewait.go, tcp.TimeWait).
	TimeWaitEntered      T `stat:"connections entered TIME-WAIT"`
	TimeWaitExpired      T `stat:"TIME-WAIT entries expired"`
	TimeWaitOverflow     T `drop:"TIME-WAIT entries not kept: table full"`
	TimeWaitFINAcked     T `stat:"FIN retransmissions acknowledged in TIME-WAIT"`
	TimeWaitRSTIgnored   T `drop:"resets ignored in TIME-WAIT (RFC 1337)"`
	TimeWaitSYNRefused   T `drop:"SYNs refused in TIME-WAIT: not newer (RFC 6191) or no listener"`
	TimeWaitPAWS         T `drop:"segments in TIME-WAIT dropped: old timestamp (PAWS)"`
	TimeWaitUnacceptable T `drop:"segments in TIME-WAIT dropped: not a FIN or SYN"`
	TimeWaitACKsLimited  T `stat:"ACKs in TIME-WAIT not sent: rate limit"`
	// HandoverHeld counts segments that reached a new connection's actor
	// straight from the network actor while segments of it the tcp actor
	// had taken before its route existed were still on their way; they
	// are held and handled after those, in arrival order.
	HandoverHeld T `stat:"segments held at a connection's start until the route hand-over"`

	// Supervision (DESIGN.md, principle 6).
	HandlerCrashes T `drop:"segments dropped: handler crashed"`
	ConnCrashes    T `stat:"connection actor crashes"`
	AppCrashes     T `stat:"app actor crashes"`

	// ICMP errors about TCP segments (RFC 5927).
	ControlErrors        T `stat:"ICMP errors applied"`
	ControlErrorsIgnored T `drop:"ICMP errors dropped: no data in flight"`
	ControlErrorsNoConn  T `drop:"ICMP errors dropped: no connection"`

	// Folded in from tcp.Stats.
	DroppedForeign         T `drop:"segments dropped: tuple mismatch"`
	DroppedUnacceptable    T `drop:"segments dropped: unacceptable sequence number"`
	DroppedOutOfWindowRST  T `drop:"resets dropped: out of window"`
	ChallengeACKs          T `stat:"challenge ACKs sent"`
	ChallengeACKsLimited   T `stat:"challenge ACKs not sent: rate limit"`
	DroppedOOOFull         T `drop:"segments dropped: out-of-order queue full"`
	DroppedPAWS            T `drop:"packets rejected in established connections because of timestamp"`
	RTOExpirations         T `stat:"retransmission timeouts"`
	Timeouts               T `stat:"connections aborted due to timeout"`
	DroppedControlErrors   T `drop:"ICMP errors dropped: sequence number not in flight"`
	SACKRecoveries         T `stat:"times recovered from packet loss by selective acknowledgements"`
	SACKRetransmits        T `stat:"segments retransmitted from the SACK scoreboard"`
	RescueRetransmits      T `stat:"rescue retransmissions (RFC 6675)"`
	DSACKsSent             T `stat:"DSACKs sent"`
	DSACKsReceived         T `stat:"DSACKs received"`
	LostRetransmits        T `stat:"retransmissions lost"`
	TailLossProbes         T `stat:"tail loss probes sent"`
	TailLossRepairs        T `stat:"tail loss probes that repaired a loss"`
	OutOfWindowACKsLimited T `stat:"out-of-window ACKs not sent: rate limit"`
}

// The live and snapshot forms of each layer, for declarations.
type (
	LinkCounters     = Link[Counter]
	EthernetCounters = Ethernet[Counter]
	ARPCounters      = ARP[Counter]
	IPv4Counters     = IPv4[Counter]
	ICMPv4Counters   = ICMPv4[Counter]
	IPv6Counters     = IPv6[Counter]
	ICMPv6Counters   = ICMPv6[Counter]
	UDPCounters      = UDP[Counter]
	TCPCounters      = TCP[Counter]
)

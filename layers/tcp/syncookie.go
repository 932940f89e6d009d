package tcp

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// SYN cookies (RFC 4987 §3.6), laid out as Linux lays them out
// (net/ipv4/syncookies.c), so that a listener whose half-open backlog is
// full can still answer every SYN without keeping any state. The cookie is
// the ISN of the SYN-ACK:
//
//	ISN = H0(tuple) + SEG.SEQ + (count<<24 | H1(tuple, SEG.SEQ, count, i)<<2 | i)
//
// where count is a minute counter, i the index of the peer's MSS in a
// four-entry table and H0, H1 keyed hashes (H1 truncated to 22 bits). The
// final ACK returns ISN+1 and SEQ+1; its count must be at most
// CookieMaxAge-1 minutes old and the 22 hash bits must match, which a
// blind guess does with probability 2^-22 per count. Linux adds the index
// to the hash instead (and leaves SEG.SEQ out of H1), so an ACK whose
// numbers are off by one or two still passes with another MSS; covering
// the index and SEG.SEQ with the hash closes that. With timestamps, the
// window scale (4 bits, 15 for none), SACK-permitted and ECN bits ride in
// the low six bits of our TSval, as on Linux, and come back in TSecr.

// cookieBits is COOKIEBITS: the low bits of the cookie carry the hash and
// the MSS index (cookieIdxBits); the high eight bits the minute counter.
const (
	cookieBits    = 24
	cookieMask    = 1<<cookieBits - 1
	cookieIdxBits = 2
	cookieIdxMask = 1<<cookieIdxBits - 1
)

// CookieMaxAge is how many minute counts a cookie stays valid
// (MAX_SYNCOOKIE_AGE): a cookie minted in minute n is accepted in minutes
// n and n+1, so from one to two minutes.
const CookieMaxAge = 2

// CookieValidity is how long after the last cookie was sent a listener
// should still try cookies on stray ACKs (Linux's TCP_SYNCOOKIE_VALID);
// outside it, an ACK for an unknown connection is simply reset, which
// keeps blind cookie guessing impossible while nothing is under attack.
const CookieValidity = 2 * time.Minute

// cookieMSS is Linux's msstab for IPv4: the peer's MSS is rounded down to
// one of these (values below 536 become 536, as on Linux).
var cookieMSS = [...]uint16{536, 1300, 1440, 1460}

// Timestamp option bits (TS_OPT_*); the low TSBITS of TSval.
const (
	tsOptWScaleMask = 0xf
	tsOptSACK       = 1 << 4
	tsOptECN        = 1 << 5
	tsBits          = 6
)

// ErrBadCookie says an ACK did not carry a valid SYN cookie.
var ErrBadCookie error = &connError{msg: "tcp: invalid SYN cookie"}

// cookieCount is the minute counter (tcp_cookie_time).
func cookieCount(now time.Time) uint32 { return uint32(now.Unix() / 60) }

// cookieHash is a keyed hash of the tuple, the count, the peer's ISN and
// which hash (c, with the MSS index for H1) is wanted.
func cookieHash(secret *[16]byte, t Tuple, count uint32, c byte) uint32 {
	return cookieHashSeq(secret, t, count, 0, c)
}

func cookieHashSeq(secret *[16]byte, t Tuple, count uint32, peer Seq, c byte) uint32 {
	var b [16 + 16 + 2 + 16 + 2 + 4 + 1 + 4]byte
	copy(b[:16], secret[:])
	la, ra := t.Local.Addr().As16(), t.Remote.Addr().As16()
	copy(b[16:], la[:])
	binary.BigEndian.PutUint16(b[32:], t.Local.Port())
	copy(b[34:], ra[:])
	binary.BigEndian.PutUint16(b[50:], t.Remote.Port())
	binary.BigEndian.PutUint32(b[52:], count)
	b[56] = c
	binary.BigEndian.PutUint32(b[57:], uint32(peer))
	h := sha256.Sum256(b[:])
	return binary.BigEndian.Uint32(h[:4])
}

// cookieMSSIndex is the index of the largest table MSS not above mss.
func cookieMSSIndex(mss uint16) uint8 {
	for i := len(cookieMSS) - 1; i > 0; i-- {
		if mss >= cookieMSS[i] {
			return uint8(i)
		}
	}
	return 0
}

// cookieLow is the low 24 bits of a cookie: 22 bits of H1 over the
// tuple, the peer's ISN, the count and the index, then the index.
func cookieLow(secret *[16]byte, t Tuple, peerISS Seq, count uint32, idx uint8) uint32 {
	h := cookieHashSeq(secret, t, count, peerISS, 1+idx)
	return (h<<cookieIdxBits | uint32(idx)) & cookieMask
}

// EncodeCookie returns the ISN for a cookie SYN-ACK answering a SYN with
// sequence number peerISS on tuple t, carrying the MSS table index
// mssIndex (Linux's secure_tcp_syn_cookie).
func EncodeCookie(secret [16]byte, t Tuple, peerISS Seq, mssIndex uint8, now time.Time) Seq {
	count := cookieCount(now)
	idx := mssIndex & cookieIdxMask
	return Seq(cookieHash(&secret, t, 0, 0) + uint32(peerISS) + (count<<cookieBits | cookieLow(&secret, t, peerISS, count, idx)))
}

// DecodeCookie checks that cookie (SEG.ACK-1 of the final ACK) is one this
// host minted for t and peerISS (SEG.SEQ-1) at most CookieMaxAge-1
// minutes before now, and returns the MSS table index it carries
// (check_tcp_syn_cookie).
func DecodeCookie(secret [16]byte, t Tuple, peerISS Seq, cookie Seq, now time.Time) (mssIndex uint8, ok bool) {
	count := cookieCount(now)
	c := uint32(cookie) - (cookieHash(&secret, t, 0, 0) + uint32(peerISS))
	diff := (count - c>>cookieBits) & (0xffffffff >> cookieBits)
	if diff >= CookieMaxAge {
		return 0, false
	}
	idx := uint8(c & cookieIdxMask)
	if c&cookieMask != cookieLow(&secret, t, peerISS, count-diff, idx) {
		return 0, false
	}
	return idx, true
}

// cookieTSOffset is the per-tuple offset of the timestamp clock of cookie
// connections (Linux's secure_tcp_ts_off), so TSval does not reveal the
// host's clock.
func cookieTSOffset(secret *[16]byte, t Tuple) uint32 { return cookieHash(secret, t, 0, 2) }

// cookieTSClock is the millisecond clock the timestamps of cookie
// connections count from.
func cookieTSClock(now time.Time) uint32 { return uint32(now.UnixMilli()) }

// CookieTSVal is the TSval of a cookie SYN-ACK (cookie_init_timestamp): the
// millisecond clock with its low six bits replaced by the window scale
// (15 when wsOK is false), SACK-permitted and ECN bits, never ahead of
// the clock.
func CookieTSVal(now time.Time, wsOK bool, wscale uint8, sackOK, ecnOK bool) uint32 {
	opts := uint32(tsOptWScaleMask)
	if wsOK {
		opts = uint32(min(wscale, MaxWindowScale))
	}
	if sackOK {
		opts |= tsOptSACK
	}
	if ecnOK {
		opts |= tsOptECN
	}
	tsNow := cookieTSClock(now)
	ts := tsNow>>tsBits<<tsBits | opts
	if int32(ts-tsNow) > 0 {
		ts -= 1 << tsBits
	}
	return ts
}

// CookieOptions is what a cookie restores of the SYN's options.
type CookieOptions struct {
	MSS         uint16
	WindowScale uint8 // the peer's shift, meaningful when WSOK
	WSOK        bool
	SACKOK      bool
	ECNOK       bool
}

// DecodeCookieTS reads the option bits of a TSecr that echoes a cookie
// TSval (cookie_timestamp_decode, offset already removed).
func DecodeCookieTS(tsecr uint32) (wsOK bool, wscale uint8, sackOK, ecnOK bool) {
	sackOK = tsecr&tsOptSACK != 0
	ecnOK = tsecr&tsOptECN != 0
	if w := tsecr & tsOptWScaleMask; w != tsOptWScaleMask {
		return true, uint8(w), sackOK, ecnOK
	}
	return false, 0, sackOK, ecnOK
}

// CookieSYNACK builds the SYN-ACK that answers syn on tuple t with a SYN
// cookie instead of a half-open connection, with the options cfg would
// give the connection. As on Linux, without timestamps the cookie has no
// room for the window scale and SACK-permitted, so neither is offered;
// ECN is not negotiated by this stack and never encoded. The caller
// emits the header (Header.Emit) and keeps nothing.
func CookieSYNACK(cfg *Config, secret [16]byte, t Tuple, syn *Segment, now time.Time) (Header, error) {
	if !t.valid() {
		return Header{}, ErrInvalidTuple
	}
	if ClassifyListen(syn) != ListenAccept {
		return Header{}, ErrNotSYN
	}
	c := cfg.withDefaults()
	o := syn.Options()
	mss := uint16(defaultMSS(t))
	if o.HasMSS {
		mss = o.MSS
	}
	h := Header{
		SrcPort: t.Local.Port(), DstPort: t.Remote.Port(),
		Seq:    EncodeCookie(secret, t, syn.Seq(), cookieMSSIndex(mss), now),
		Ack:    syn.Seq().Add(1),
		Flags:  FlagSYN | FlagACK,
		Window: uint16(min(c.RecvBufferSize, 0xffff)),
	}
	h.Options.HasMSS = true
	h.Options.MSS = uint16(min(max(c.MTU-headerOverheadOf(t), 48), 0xffff))
	if o.HasTimestamps && !c.NoTimestamps {
		wsOK := o.HasWindowScale && !c.NoWindowScale
		sackOK := o.SACKPermitted && !c.NoSACK
		if wsOK {
			h.Options.HasWindowScale = true
			h.Options.WindowScale = rcvShiftFor(&c)
		}
		h.Options.SACKPermitted = sackOK
		h.Options.HasTimestamps = true
		h.Options.TSVal = CookieTSVal(now, wsOK, o.WindowScale, sackOK, false) + cookieTSOffset(&secret, t)
		h.Options.TSEcr = o.TSVal
	}
	return h, nil
}

// headerOverheadOf is the IP plus TCP header size without options on t.
func headerOverheadOf(t Tuple) int {
	if t.isV6() {
		return 40 + HeaderLen
	}
	return 20 + HeaderLen
}

// rcvShiftFor is the window scale a connection with cfg announces (the
// same rule as initSend), so a cookie SYN-ACK and the connection rebuilt
// from its ACK agree.
func rcvShiftFor(cfg *Config) uint8 {
	var s uint8
	for s < MaxWindowScale && cfg.RecvBufferSize>>s > 0xffff {
		s++
	}
	return s
}

// IsCookieACK reports whether seg could complete a cookie handshake: it
// carries ACK and neither SYN nor RST (Linux tries cookies on exactly
// these).
func IsCookieACK(seg *Segment) bool {
	return seg.Flags()&(FlagACK|FlagSYN|FlagRST) == FlagACK
}

// AcceptCookie rebuilds the connection a cookie SYN-ACK answered, from the
// ACK that completes its handshake (cookie_v4_check): it validates the
// cookie (ErrBadCookie if not ours or too old), restores the MSS and, when
// the ACK carries timestamps, the window scale and SACK-permitted from
// TSecr, and processes the ACK (and any data or FIN it carries) as the
// ACK of a SYN-RECEIVED connection. The Conn returned is ESTABLISHED, with
// EventEstablished pending.
func AcceptCookie(cfg *Config, secret [16]byte, t Tuple, ack *Segment, now time.Time, emit Emitter) (*Conn, error) {
	if !t.valid() {
		return nil, ErrInvalidTuple
	}
	if !IsCookieACK(ack) {
		return nil, ErrBadCookie
	}
	iss, irs := ack.Ack().Add(-1), ack.Seq().Add(-1)
	idx, ok := DecodeCookie(secret, t, irs, iss, now)
	if !ok {
		return nil, ErrBadCookie
	}
	c := newConn(cfg, emit)
	c.tuple = t
	c.initSend(now, iss)
	c.passive = true
	c.irs = irs
	c.rcvNxt = irs.Add(1)
	c.peerMSS = int(cookieMSS[idx])
	o := ack.Options()
	if o.HasTimestamps {
		if c.cfg.NoTimestamps {
			return nil, ErrBadCookie
		}
		off := cookieTSOffset(&secret, t)
		wsOK, wscale, sackOK, ecnOK := DecodeCookieTS(o.TSEcr - off)
		if ecnOK || (sackOK && c.cfg.NoSACK) || (wsOK && c.cfg.NoWindowScale) {
			// Bits we never set: a forged or mangled echo.
			return nil, ErrBadCookie
		}
		c.tsOK, c.sackOK, c.wsOK = true, sackOK, wsOK
		c.sndShift = min(wscale, MaxWindowScale)
		c.tsRecent, c.tsRecentAt = o.TSVal, now
		// Our timestamps go on from the clock the SYN-ACK's TSval
		// came from, so they never run backwards.
		c.tsBase = now
		c.tsOffset = cookieTSClock(now) + off
		c.tsRtxMark = c.tsOffset
	}
	if !c.wsOK {
		c.sndShift, c.rcvShift = 0, 0
	}
	c.updateMSS()
	// The SYN-ACK went out: SND.NXT is past it and the window it offered
	// (unscaled, RFC 7323 §2.2) is the one the ACK is judged against.
	c.sndNxt, c.sndMax = iss.Add(1), iss.Add(1)
	c.rcvAdv = c.rcvNxt.Add(min(c.rcvSpace(), 0xffff))
	c.lastAckSent = c.rcvNxt
	c.state = StateSynReceived
	c.HandleSegment(now, t, ack)
	if c.state == StateSynReceived || c.state == StateClosed {
		// The ACK did not complete the handshake (it cannot, given a
		// valid cookie, unless PAWS or the window refused it).
		return nil, ErrBadCookie
	}
	return c, nil
}

// DefaultSynAckRetries is how often a listener retransmits a SYN-ACK when
// it is not under pressure (Linux's tcp_synack_retries).
const DefaultSynAckRetries = 5

// SynAckRetries is the SYN-ACK retransmission budget for a new half-open
// connection of a listener that already holds halfOpen of backlog
// (Config.SynRetries). Up to half full it is DefaultSynAckRetries; beyond
// that each halving of the free room takes one retry off, down to two, as
// Linux's reqsk_timer_handler prunes when the queue is above half: 4 above
// 1/2, 3 above 3/4, 2 above 7/8. Two retries with a 1 s initial RTO hold an
// entry 7 s instead of 63 s, so a flood that fills the backlog drains fast.
func SynAckRetries(halfOpen, backlog int) int {
	r := DefaultSynAckRetries
	if backlog <= 0 {
		return r
	}
	for free := backlog / 2; r > 2 && halfOpen > backlog-free; free /= 2 {
		r--
		if free == 0 {
			break
		}
	}
	return r
}

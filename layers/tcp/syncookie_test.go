package tcp

import (
	"net/netip"
	"testing"
	"time"
)

var cookieSecret = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

func TestCookieRoundTrip(t *testing.T) {
	for idx := uint8(0); idx < uint8(len(cookieMSS)); idx++ {
		for _, peer := range []Seq{0, 1, remoteISS, 0x7fffffff} {
			c := EncodeCookie(cookieSecret, tTuple, peer, idx, t0)
			got, ok := DecodeCookie(cookieSecret, tTuple, peer, c, t0.Add(3*time.Second))
			if !ok || got != idx {
				t.Fatalf("idx %d peer %d: decode = %d, %v", idx, peer, got, ok)
			}
		}
	}
}

// RFC 4987 §3.6: the cookie binds the 4-tuple, the peer's ISN and the
// secret; any change fails the check.
func TestCookieBindsTupleISNAndSecret(t *testing.T) {
	c := EncodeCookie(cookieSecret, tTuple, remoteISS, 3, t0)
	other := tTuple
	other.Remote = netip.AddrPortFrom(other.Remote.Addr(), other.Remote.Port()+1)
	if _, ok := DecodeCookie(cookieSecret, other, remoteISS, c, t0); ok {
		t.Error("cookie valid for another remote port")
	}
	other = tTuple
	other.Remote = netip.MustParseAddrPort("198.51.100.8:49152")
	if _, ok := DecodeCookie(cookieSecret, other, remoteISS, c, t0); ok {
		t.Error("cookie valid for another remote address")
	}
	for _, d := range []Seq{1, 2, 3} {
		if _, ok := DecodeCookie(cookieSecret, tTuple, remoteISS+d, c, t0); ok {
			t.Errorf("cookie valid for the peer ISN +%d", d)
		}
		if _, ok := DecodeCookie(cookieSecret, tTuple, remoteISS+d, c+d, t0); ok {
			t.Errorf("cookie+%d valid for the peer ISN +%d (Linux's additive index allows this)", d, d)
		}
	}
	s2 := cookieSecret
	s2[0] ^= 1
	if _, ok := DecodeCookie(s2, tTuple, remoteISS, c, t0); ok {
		t.Error("cookie valid under another secret")
	}
	for _, d := range []Seq{1, 2, 3, 4, 1 << 24, 0xffffffff} {
		if _, ok := DecodeCookie(cookieSecret, tTuple, remoteISS, c+d, t0); ok {
			t.Errorf("cookie+%d valid", d)
		}
	}
}

// A cookie is valid in the minute it was minted and the next one
// (MAX_SYNCOOKIE_AGE 2), never from the future.
func TestCookieAge(t *testing.T) {
	start := t0.Truncate(time.Minute).Add(59 * time.Second) // last second of a minute
	c := EncodeCookie(cookieSecret, tTuple, remoteISS, 2, start)
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{
		{0, true}, {time.Second, true}, {60 * time.Second, true},
		{61 * time.Second, false}, {10 * time.Minute, false}, {-time.Minute, false},
	} {
		if _, ok := DecodeCookie(cookieSecret, tTuple, remoteISS, c, start.Add(tc.after)); ok != tc.ok {
			t.Errorf("after %v: valid=%v, want %v", tc.after, ok, tc.ok)
		}
	}
}

func TestCookieMSSTable(t *testing.T) {
	for _, tc := range []struct {
		mss  uint16
		want uint16
	}{{0, 536}, {1, 536}, {535, 536}, {536, 536}, {1299, 536}, {1300, 1300}, {1439, 1300}, {1440, 1440}, {1460, 1460}, {9000, 1460}} {
		if got := cookieMSS[cookieMSSIndex(tc.mss)]; got != tc.want {
			t.Errorf("MSS %d -> %d, want %d", tc.mss, got, tc.want)
		}
	}
}

// The low six bits of TSval carry window scale, SACK and ECN, and TSval
// never runs ahead of the millisecond clock (cookie_init_timestamp).
func TestCookieTimestampBits(t *testing.T) {
	for ms := 0; ms < 200; ms += 7 {
		now := t0.Add(time.Duration(ms) * time.Millisecond)
		for _, ws := range []uint8{0, 7, 14, 15} {
			for _, sack := range []bool{false, true} {
				wsOK := ws != 15
				ts := CookieTSVal(now, wsOK, ws, sack, false)
				if int32(ts-cookieTSClock(now)) > 0 || cookieTSClock(now)-ts >= 1<<tsBits {
					t.Fatalf("TSval %d vs clock %d", ts, cookieTSClock(now))
				}
				gw, gs, gsack, gecn := DecodeCookieTS(ts)
				if gw != wsOK || (wsOK && gs != ws) || gsack != sack || gecn {
					t.Fatalf("ws %d sack %v: decoded %v %d %v %v", ws, sack, gw, gs, gsack, gecn)
				}
			}
		}
	}
	// A shift above 14 is clamped to 14 (RFC 7323 §2.3) before encoding.
	if _, s, _, _ := DecodeCookieTS(CookieTSVal(t0, true, 14, false, false)); s != 14 {
		t.Fatalf("shift 14 decoded as %d", s)
	}
}

// cookieSYN is a SYN from the harness peer with the given options.
func cookieSYN(h *harness, ts bool, ws int, sack bool) *Segment {
	return h.segment(S{F: FlagSYN, Seq: remoteISS, Win: 30000, MSS: 1400, TS: ts, TSVal: 777, WS: ws, SACKOK: sack})
}

// The whole stateless handshake: a cookie SYN-ACK, then the ACK rebuilds
// an ESTABLISHED connection with the options restored.
func TestAcceptCookieWithTimestamps(t *testing.T) {
	h := newHarness(t)
	h.cfg = Config{SendBufferSize: 1 << 20, RecvBufferSize: 1 << 20}
	syn := cookieSYN(h, true, 8, true) // peer shift 7
	sa, err := CookieSYNACK(&h.cfg, cookieSecret, tTuple, syn, h.now)
	if err != nil {
		t.Fatal(err)
	}
	o := sa.Options
	if sa.Flags != FlagSYN|FlagACK || sa.Ack != remoteISS+1 || !o.HasMSS || o.MSS != 1460 ||
		!o.HasWindowScale || o.WindowScale != 5 || !o.SACKPermitted || !o.HasTimestamps || o.TSEcr != 777 {
		t.Fatalf("cookie SYN-ACK %+v", sa)
	}
	h.now = h.now.Add(30 * time.Millisecond)
	ack := h.segment(S{F: FlagACK, Seq: remoteISS + 1, Ack: sa.Seq + 1, Win: 1000, TS: true, TSVal: 800, TSEcr: o.TSVal, Data: "hello"})
	c, err := AcceptCookie(&h.cfg, cookieSecret, tTuple, ack, h.now, h.emit)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	h.state(StateEstablished)
	if ev := c.TakeEvents(); !ev.Has(EventEstablished) || !ev.Has(EventReadable) {
		t.Fatalf("events %v", ev)
	}
	if !c.tsOK || !c.sackOK || !c.wsOK || c.sndShift != 7 || c.rcvShift != 5 {
		t.Fatalf("options not restored: ts %v sack %v ws %v shifts %d/%d", c.tsOK, c.sackOK, c.wsOK, c.sndShift, c.rcvShift)
	}
	if c.peerMSS != 1300 || c.sndWnd != 1000<<7 {
		t.Fatalf("peer MSS %d (want 1300, the table entry at or below 1400), window %d", c.peerMSS, c.sndWnd)
	}
	if c.tsNow(h.now)-o.TSVal >= 1<<31 {
		t.Fatalf("our timestamps went backwards: %d after %d", c.tsNow(h.now), o.TSVal)
	}
	h.read("hello")
}

// Without timestamps, the cookie cannot carry window scale or SACK, so
// the SYN-ACK offers neither (as Linux's tcp_clear_options) and the
// connection runs without them.
func TestAcceptCookieWithoutTimestamps(t *testing.T) {
	h := newHarness(t)
	h.cfg = Config{SendBufferSize: 1 << 20, RecvBufferSize: 1 << 20}
	syn := cookieSYN(h, false, 8, true)
	sa, err := CookieSYNACK(&h.cfg, cookieSecret, tTuple, syn, h.now)
	if err != nil {
		t.Fatal(err)
	}
	if sa.Options.HasWindowScale || sa.Options.SACKPermitted || sa.Options.HasTimestamps || sa.Window != 0xffff {
		t.Fatalf("cookie SYN-ACK without timestamps offers %+v win %d", sa.Options, sa.Window)
	}
	ack := h.segment(S{F: FlagACK, Seq: remoteISS + 1, Ack: sa.Seq + 1, Win: 5000})
	c, err := AcceptCookie(&h.cfg, cookieSecret, tTuple, ack, h.now, h.emit)
	if err != nil {
		t.Fatal(err)
	}
	if c.State() != StateEstablished || c.wsOK || c.sackOK || c.tsOK || c.sndWnd != 5000 || c.rcvShift != 0 {
		t.Fatalf("state %v ws %v sack %v ts %v wnd %d", c.State(), c.wsOK, c.sackOK, c.tsOK, c.sndWnd)
	}
	// It works as a connection: data goes out and comes back acknowledged.
	h.c = c
	h.out = nil
	h.write("xyz")
	h.expect(S{F: FlagACK | FlagPSH, Seq: sa.Seq + 1, Ack: remoteISS + 1, Data: "xyz"})
}

func TestAcceptCookieRejects(t *testing.T) {
	h := newHarness(t)
	syn := cookieSYN(h, true, 3, false)
	sa, err := CookieSYNACK(&h.cfg, cookieSecret, tTuple, syn, h.now)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		s    S
		at   time.Duration
	}{
		{"wrong ack", S{F: FlagACK, Seq: remoteISS + 1, Ack: sa.Seq + 2}, 0},
		{"wrong seq", S{F: FlagACK, Seq: remoteISS + 2, Ack: sa.Seq + 1}, 0},
		{"too old", S{F: FlagACK, Seq: remoteISS + 1, Ack: sa.Seq + 1}, 3 * time.Minute},
		{"RST", S{F: FlagACK | FlagRST, Seq: remoteISS + 1, Ack: sa.Seq + 1}, 0},
		{"SYN-ACK", S{F: FlagACK | FlagSYN, Seq: remoteISS, Ack: sa.Seq + 1}, 0},
		{"ECN bit forged", S{F: FlagACK, Seq: remoteISS + 1, Ack: sa.Seq + 1, TS: true, TSVal: 1, TSEcr: (sa.Options.TSVal - cookieTSOffset(&cookieSecret, tTuple)) | tsOptECN + cookieTSOffset(&cookieSecret, tTuple)}, 0},
	}
	for _, tc := range cases {
		_, err := AcceptCookie(&h.cfg, cookieSecret, tTuple, h.segment(tc.s), h.now.Add(tc.at), h.emit)
		if err != ErrBadCookie {
			t.Errorf("%s: err %v, want ErrBadCookie", tc.name, err)
		}
	}
	if _, err := CookieSYNACK(&h.cfg, cookieSecret, tTuple, h.segment(S{F: FlagSYN | FlagFIN, Seq: 1}), h.now); err != ErrNotSYN {
		t.Errorf("SYN+FIN: %v", err)
	}
}

func TestSynAckRetriesShrinkUnderPressure(t *testing.T) {
	for _, tc := range []struct{ half, backlog, want int }{
		{0, 1024, 5}, {512, 1024, 5}, {513, 1024, 4}, {768, 1024, 4}, {769, 1024, 3},
		{896, 1024, 3}, {897, 1024, 2}, {1024, 1024, 2}, {5000, 1024, 2},
		{4, 8, 5}, {5, 8, 4}, {7, 8, 3}, {8, 8, 2}, {1, 1, 5}, {2, 1, 4}, {3, 0, 5},
	} {
		if got := SynAckRetries(tc.half, tc.backlog); got != tc.want {
			t.Errorf("SynAckRetries(%d, %d) = %d, want %d", tc.half, tc.backlog, got, tc.want)
		}
	}
}

// With SynRetries 2 a half-open connection sends its SYN-ACK three times
// (1 s, 2 s apart) and is dropped, without a reset, 4 s after the last.
func TestSynRetriesEndHalfOpenSilently(t *testing.T) {
	h := newHarness(t)
	h.cfg.SynRetries = 2
	h.synReceived()
	synack := S{F: FlagSYN | FlagACK, Seq: localISS, Ack: remoteISS + 1}
	h.advance(time.Second)
	h.expect(synack)
	h.advance(2 * time.Second)
	h.expect(synack)
	h.advance(4 * time.Second)
	h.expectNothing()
	h.state(StateClosed)
	if h.c.Err() != ErrTimedOut {
		t.Fatalf("err %v", h.c.Err())
	}
}

// FuzzDecodeCookie: decoding any ACK numbers never panics, and a cookie
// this host minted for the fuzzer's tuple and ISN always decodes to its
// index within its lifetime.
func FuzzDecodeCookie(f *testing.F) {
	f.Add(uint32(0), uint32(0), uint16(1), uint8(0), int64(0))
	f.Add(uint32(0xffffffff), uint32(123456), uint16(65535), uint8(3), int64(119))
	f.Add(uint32(0x01000000), uint32(0xfffffff0), uint16(80), uint8(9), int64(-60))
	f.Fuzz(func(t *testing.T, cookie, peer uint32, port uint16, idx uint8, secs int64) {
		if port == 0 {
			port = 1
		}
		tu := Tuple{Local: tLocal, Remote: netip.AddrPortFrom(tRemote.Addr(), port)}
		now := t0.Add(time.Duration(secs%(1<<20)) * time.Second)
		got, ok := DecodeCookie(cookieSecret, tu, Seq(peer), Seq(cookie), now)
		if ok && int(got) >= len(cookieMSS) {
			t.Fatalf("decoded index %d out of the table", got)
		}
		i := idx % uint8(len(cookieMSS))
		c := EncodeCookie(cookieSecret, tu, Seq(peer), i, now)
		later := now.Add(time.Duration(uint64(secs)%60) * time.Second)
		if g, ok := DecodeCookie(cookieSecret, tu, Seq(peer), c, later); !ok || g != i {
			t.Fatalf("own cookie %x rejected or wrong: %d %v", c, g, ok)
		}
		wsOK, ws, sack, ecn := DecodeCookieTS(cookie)
		if ws > 15 || (!wsOK && ws != 0) {
			t.Fatalf("decoded TS bits %v %d %v %v", wsOK, ws, sack, ecn)
		}
	})
}

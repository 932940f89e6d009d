package tcp

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// The harness drives one Conn with virtual time and records what it sends
// after a full round trip through Outgoing.Emit and NewSegment, so every
// test also exercises the wire format and the checksum.

var (
	tLocal  = netip.MustParseAddrPort("192.0.2.1:80")
	tRemote = netip.MustParseAddrPort("198.51.100.7:49152")
	tTuple  = Tuple{Local: tLocal, Remote: tRemote}
	t0      = time.Date(2025, 3, 24, 12, 0, 0, 0, time.UTC)
)

const (
	localISS  Seq = 1000
	remoteISS Seq = 0xfffffff0 // so that the peer's numbers wrap early
	testBuf       = 64000
)

// S describes a segment to send to the Conn or one expected from it.
// Win is checked only when nonzero or when ZeroWin is set; Ack is checked
// when the ACK flag is set.
type S struct {
	F       Flags
	Seq     Seq
	Ack     Seq
	Win     int
	ZeroWin bool
	Data    string
	MSS     int    // MSS option to send / expect (0: none sent / not checked)
	WS      int    // window scale option plus one (0: none)
	TS      bool   // timestamps option to send / expect (echo checked)
	TSVal   uint32 // sent as is; expected only when nonzero
	TSEcr   uint32
	SACKOK  bool        // SACK-permitted option to send / expect
	SACK    []SACKBlock // SACK blocks to send / expect (nil: not checked; use NoSACK to expect none)
	NoSACK  bool        // expect no SACK option
}

func (s S) String() string {
	return fmt.Sprintf("[%v seq=%d ack=%d win=%d len=%d]", s.F, s.Seq, s.Ack, s.Win, len(s.Data))
}

type sent struct {
	tuple Tuple
	h     Header
	data  []byte
	gso   int // Outgoing.GSOSize
}

func (s sent) String() string {
	return fmt.Sprintf("[%v seq=%d ack=%d win=%d len=%d]", s.h.Flags, s.h.Seq, s.h.Ack, s.h.Window, len(s.data))
}

type harness struct {
	t   testing.TB
	now time.Time
	cfg Config
	c   *Conn
	out []sent
	// What the peer expects next from us and will send next.
	loc, rem Seq
}

// baseConfig keeps window scaling off so that window fields read as byte
// counts; timestamps stay on but the scripted peer offers them only in the
// tests about them.
func baseConfig() Config {
	return Config{SendBufferSize: testBuf, RecvBufferSize: testBuf, NoWindowScale: true}
}

func newHarness(t testing.TB) *harness {
	return &harness{t: t, now: t0, cfg: baseConfig()}
}

func (h *harness) emit(o *Outgoing) {
	buf := make([]byte, o.Len())
	n, err := o.Emit(buf)
	if err != nil {
		h.t.Fatalf("emit: %v", err)
	}
	seg, err := NewSegment(buf[:n])
	if err != nil {
		h.t.Fatalf("emitted segment does not parse: %v", err)
	}
	if !seg.VerifyChecksumAddrs(o.Tuple.Local.Addr(), o.Tuple.Remote.Addr()) {
		h.t.Fatalf("emitted segment has a bad checksum")
	}
	if seg.SrcPort() != o.Tuple.Local.Port() || seg.DstPort() != o.Tuple.Remote.Port() {
		h.t.Fatalf("ports %d->%d do not match tuple %v", seg.SrcPort(), seg.DstPort(), o.Tuple)
	}
	h.out = append(h.out, sent{o.Tuple, seg.Header(), append([]byte(nil), seg.Payload()...), o.GSOSize})
}

// send feeds s to the Conn as if it came from the peer.
func (h *harness) send(s S) {
	h.t.Helper()
	h.c.HandleSegment(h.now, tTuple, h.segment(s))
}

func (h *harness) segment(s S) *Segment {
	hd := Header{
		SrcPort: tRemote.Port(), DstPort: tLocal.Port(),
		Seq: s.Seq, Ack: s.Ack, Flags: s.F, Window: uint16(s.Win),
	}
	if s.MSS != 0 {
		hd.Options.HasMSS, hd.Options.MSS = true, uint16(s.MSS)
	}
	if s.WS != 0 {
		hd.Options.HasWindowScale, hd.Options.WindowScale = true, uint8(s.WS-1)
	}
	if s.TS {
		hd.Options.HasTimestamps, hd.Options.TSVal, hd.Options.TSEcr = true, s.TSVal, s.TSEcr
	}
	hd.Options.SACKPermitted = s.SACKOK
	hd.Options.NumSACK = uint8(copy(hd.Options.SACK[:], s.SACK))
	buf := make([]byte, MaxHeaderLen+len(s.Data))
	n, err := hd.Emit(buf, []byte(s.Data), tRemote.Addr(), tLocal.Addr())
	if err != nil {
		h.t.Fatal(err)
	}
	seg, err := NewSegment(buf[:n])
	if err != nil {
		h.t.Fatal(err)
	}
	return &seg
}

// expect checks that the Conn sent exactly the given segments, in order,
// since the last check.
func (h *harness) expect(want ...S) {
	h.t.Helper()
	got := h.out
	h.out = nil
	if len(got) != len(want) {
		h.t.Fatalf("sent %d segments %v, want %d %v", len(got), got, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.tuple != tTuple {
			h.t.Fatalf("segment %d on tuple %v", i, g.tuple)
		}
		bad := g.h.Flags != w.F || g.h.Seq != w.Seq || !bytes.Equal(g.data, []byte(w.Data))
		if w.F&FlagACK != 0 && g.h.Ack != w.Ack {
			bad = true
		}
		if (w.Win != 0 || w.ZeroWin) && int(g.h.Window) != w.Win {
			bad = true
		}
		if w.MSS != 0 && (!g.h.Options.HasMSS || int(g.h.Options.MSS) != w.MSS) {
			bad = true
		}
		if w.WS != 0 && (!g.h.Options.HasWindowScale || int(g.h.Options.WindowScale) != w.WS-1) {
			bad = true
		}
		if w.TS && (!g.h.Options.HasTimestamps || g.h.Options.TSEcr != w.TSEcr ||
			(w.TSVal != 0 && g.h.Options.TSVal != w.TSVal)) {
			bad = true
		}
		if w.SACKOK && !g.h.Options.SACKPermitted {
			bad = true
		}
		if w.SACK != nil && !slices.Equal(g.h.Options.SACKBlocks(), w.SACK) {
			bad = true
		}
		if w.NoSACK && g.h.Options.NumSACK != 0 {
			bad = true
		}
		if bad {
			h.t.Fatalf("segment %d: got %v %q opts %+v, want %v %q", i, g, g.data, g.h.Options, w, w.Data)
		}
	}
}

// expectNothing checks that nothing was sent.
func (h *harness) expectNothing() {
	h.t.Helper()
	h.expect()
}

// take returns and clears what was sent.
func (h *harness) take() []sent {
	s := h.out
	h.out = nil
	return s
}

func (h *harness) state(want State) {
	h.t.Helper()
	if got := h.c.State(); got != want {
		h.t.Fatalf("state %v, want %v", got, want)
	}
}

func (h *harness) events(want Events) {
	h.t.Helper()
	if got := h.c.TakeEvents(); got != want {
		h.t.Fatalf("events %b, want %b", got, want)
	}
}

// advance moves virtual time by d and runs the timers due.
func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.c.HandleTimer(h.now)
}

// fire jumps to the next deadline and runs it, failing if there is none.
func (h *harness) fire() time.Duration {
	h.t.Helper()
	d := h.c.NextDeadline()
	if d.IsZero() {
		h.t.Fatal("no deadline armed")
	}
	delta := d.Sub(h.now)
	h.now = d
	h.c.HandleTimer(h.now)
	return delta
}

// fireRTO jumps to the retransmission deadline, past any earlier probe
// timeout, and runs the timers.
func (h *harness) fireRTO() {
	h.t.Helper()
	d := h.c.timers[timerRetransmit]
	if d.IsZero() {
		h.t.Fatal("no retransmission timer armed")
	}
	h.now = d
	h.c.HandleTimer(h.now)
}

func (h *harness) write(s string) {
	h.t.Helper()
	n, err := h.c.Write(h.now, []byte(s))
	if err != nil || n != len(s) {
		h.t.Fatalf("Write = %d, %v", n, err)
	}
}

func (h *harness) read(want string) {
	h.t.Helper()
	p := make([]byte, len(want)+10)
	n, err := h.c.Read(h.now, p)
	if err != nil || string(p[:n]) != want {
		h.t.Fatalf("Read = %q, %v; want %q", p[:n], err, want)
	}
}

// --- builders for each state; each leaves the output checked and the
// events taken. ---

func (h *harness) synSent() *harness {
	c, err := Connect(&h.cfg, tTuple, localISS, h.now, h.emit)
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = c
	h.expect(S{F: FlagSYN, Seq: localISS, Win: min(h.cfg.RecvBufferSize, 65535), MSS: 1460})
	h.loc = localISS + 1
	h.rem = remoteISS
	h.state(StateSynSent)
	h.events(0)
	return h
}

func (h *harness) synReceived() *harness {
	syn := h.segment(S{F: FlagSYN, Seq: remoteISS, Win: 30000, MSS: 1400})
	c, err := Accept(&h.cfg, tTuple, syn, localISS, h.now, h.emit)
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = c
	h.expect(S{F: FlagSYN | FlagACK, Seq: localISS, Ack: remoteISS + 1, Win: min(h.cfg.RecvBufferSize, 65535), MSS: 1460})
	h.loc = localISS + 1
	h.rem = remoteISS + 1
	h.state(StateSynReceived)
	h.events(0)
	return h
}

// synReceivedSACK is synReceived with a peer that offers SACK.
func (h *harness) synReceivedSACK() *harness {
	syn := h.segment(S{F: FlagSYN, Seq: remoteISS, Win: 30000, MSS: 1400, SACKOK: true})
	c, err := Accept(&h.cfg, tTuple, syn, localISS, h.now, h.emit)
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = c
	h.expect(S{F: FlagSYN | FlagACK, Seq: localISS, Ack: remoteISS + 1, MSS: 1460, SACKOK: true})
	h.loc = localISS + 1
	h.rem = remoteISS + 1
	return h
}

// establishedSACK is established with SACK negotiated.
func (h *harness) establishedSACK() *harness {
	h.synReceivedSACK()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.expectNothing()
	h.state(StateEstablished)
	h.events(EventEstablished)
	if !h.c.sackOK {
		h.t.Fatal("SACK not negotiated")
	}
	return h
}

func (h *harness) established() *harness {
	h.synReceived()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.expectNothing()
	h.state(StateEstablished)
	h.events(EventEstablished)
	return h
}

func (h *harness) finWait1() *harness {
	h.established()
	if err := h.c.CloseWrite(h.now); err != nil {
		h.t.Fatal(err)
	}
	h.expect(S{F: FlagFIN | FlagACK, Seq: h.loc, Ack: h.rem})
	h.loc++
	h.state(StateFinWait1)
	return h
}

func (h *harness) finWait2() *harness {
	h.finWait1()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.expectNothing()
	h.state(StateFinWait2)
	return h
}

func (h *harness) closeWait() *harness {
	h.established()
	h.send(S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.rem++
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.state(StateCloseWait)
	h.events(EventPeerClosed | EventReadable)
	return h
}

func (h *harness) lastAck() *harness {
	h.closeWait()
	h.c.CloseWrite(h.now)
	h.expect(S{F: FlagFIN | FlagACK, Seq: h.loc, Ack: h.rem})
	h.loc++
	h.state(StateLastAck)
	return h
}

func (h *harness) closing() *harness {
	h.finWait1()
	// The peer's FIN crosses ours: it does not acknowledge our FIN.
	h.send(S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc - 1, Win: 30000})
	h.rem++
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.state(StateClosing)
	h.events(EventPeerClosed | EventReadable)
	return h
}

func (h *harness) timeWait() *harness {
	h.finWait2()
	h.send(S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.rem++
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.state(StateTimeWait)
	h.events(EventPeerClosed | EventReadable)
	return h
}

func (h *harness) listen() *harness {
	h.c = Listen(&h.cfg, tLocal, h.emit)
	h.state(StateListen)
	return h
}

func (h *harness) closed() *harness {
	h.established()
	h.c.Abort(h.now)
	h.expect(S{F: FlagRST, Seq: h.loc})
	h.state(StateClosed)
	h.events(EventClosed)
	return h
}

func netipMust(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

package tcp

import (
	"io"
	"testing"
)

// The RFC 9293 state machine, one table row per state and event kind
// (SYN, RST, FIN, ACK, data), in the style of smoltcp's per-state tests.
// Every row builds a fresh connection in the state through the public API,
// feeds one segment and checks the reply, the new state and the close
// reason.

type stateRow struct {
	event string
	in    func(h *harness) S
	want  func(h *harness) []S
	state State
	err   error
	check func(t *testing.T, h *harness)
}

func none(*harness) []S { return nil }

func ackNow(h *harness) []S { return []S{{F: FlagACK, Seq: h.loc, Ack: h.rem}} }

var stateTable = []struct {
	state State
	build func(h *harness) *harness
	rows  []stateRow
}{
	{StateListen, (*harness).listen, []stateRow{
		{"SYN", func(h *harness) S { return S{F: FlagSYN, Seq: remoteISS, Win: 1000} },
			func(h *harness) []S {
				iss := ISN(h.cfg.ISNSecret, tTuple, h.now)
				return []S{{F: FlagSYN | FlagACK, Seq: iss, Ack: remoteISS + 1}}
			}, StateSynReceived, nil, nil},
		{"RST", func(h *harness) S { return S{F: FlagRST, Seq: remoteISS} }, none, StateListen, nil, nil},
		{"FIN", func(h *harness) S { return S{F: FlagFIN, Seq: remoteISS} }, none, StateListen, nil, nil},
		{"ACK", func(h *harness) S { return S{F: FlagACK, Seq: remoteISS, Ack: 777} },
			func(h *harness) []S { return []S{{F: FlagRST, Seq: 777}} }, StateListen, nil, nil},
		{"data", func(h *harness) S { return S{F: FlagACK | FlagPSH, Seq: remoteISS, Ack: 777, Data: "x"} },
			func(h *harness) []S { return []S{{F: FlagRST, Seq: 777}} }, StateListen, nil, nil},
		{"data without ACK", func(h *harness) S { return S{F: FlagPSH, Seq: remoteISS, Data: "x"} }, none, StateListen, nil, nil},
		{"SYN+FIN", func(h *harness) S { return S{F: FlagSYN | FlagFIN, Seq: remoteISS} }, none, StateListen, nil, nil},
	}},
	{StateSynSent, (*harness).synSent, []stateRow{
		{"SYN (simultaneous open)", func(h *harness) S { return S{F: FlagSYN, Seq: remoteISS, Win: 1000} },
			func(h *harness) []S { return []S{{F: FlagSYN | FlagACK, Seq: localISS, Ack: remoteISS + 1}} },
			StateSynReceived, nil, nil},
		{"SYN-ACK", func(h *harness) S { return S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: h.loc, Win: 1000} },
			func(h *harness) []S { return []S{{F: FlagACK, Seq: h.loc, Ack: remoteISS + 1}} },
			StateEstablished, nil, nil},
		{"SYN-ACK with bad ACK", func(h *harness) S { return S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: h.loc + 10} },
			func(h *harness) []S { return []S{{F: FlagRST, Seq: h.loc + 10}} }, StateSynSent, nil, nil},
		{"RST+ACK", func(h *harness) S { return S{F: FlagRST | FlagACK, Seq: 0, Ack: h.loc} }, none, StateClosed, ErrRefused, nil},
		{"RST without ACK", func(h *harness) S { return S{F: FlagRST, Seq: 0} }, none, StateSynSent, nil, nil},
		{"RST with bad ACK", func(h *harness) S { return S{F: FlagRST | FlagACK, Seq: 0, Ack: h.loc - 1} }, none, StateSynSent, nil, nil},
		{"FIN", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: remoteISS, Ack: h.loc} }, none, StateSynSent, nil, nil},
		{"ACK", func(h *harness) S { return S{F: FlagACK, Seq: remoteISS, Ack: h.loc} }, none, StateSynSent, nil, nil},
		{"ACK of ISS", func(h *harness) S { return S{F: FlagACK, Seq: remoteISS, Ack: localISS} },
			func(h *harness) []S { return []S{{F: FlagRST, Seq: localISS}} }, StateSynSent, nil, nil},
		{"data", func(h *harness) S { return S{F: FlagACK, Seq: remoteISS, Ack: h.loc, Data: "x"} }, none, StateSynSent, nil, nil},
	}},
	{StateSynReceived, (*harness).synReceived, []stateRow{
		{"SYN retransmitted", func(h *harness) S { return S{F: FlagSYN, Seq: remoteISS, Win: 1000} },
			func(h *harness) []S { return []S{{F: FlagSYN | FlagACK, Seq: localISS, Ack: remoteISS + 1}} },
			StateSynReceived, nil, nil},
		{"SYN other", func(h *harness) S { return S{F: FlagSYN, Seq: remoteISS.Add(100)} }, ackNow, StateSynReceived, nil, nil},
		{"RST", func(h *harness) S { return S{F: FlagRST, Seq: h.rem} }, none, StateClosed, ErrReset, nil},
		{"RST in window", func(h *harness) S { return S{F: FlagRST, Seq: h.rem + 10} }, ackNow, StateSynReceived, nil, nil},
		{"RST out of window", func(h *harness) S { return S{F: FlagRST, Seq: h.rem - 10} }, none, StateSynReceived, nil, nil},
		{"FIN", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} },
			func(h *harness) []S { return []S{{F: FlagACK, Seq: h.loc, Ack: h.rem + 1}} }, StateCloseWait, nil, nil},
		{"ACK", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} }, none, StateEstablished, nil, nil},
		{"bad ACK", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc + 5, Win: 1000} },
			func(h *harness) []S { return []S{{F: FlagRST, Seq: h.loc + 5}} }, StateSynReceived, nil, nil},
		{"data", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "abc"} }, none, StateEstablished, nil,
			func(t *testing.T, h *harness) { h.read("abc") }},
		{"data without ACK", func(h *harness) S { return S{F: FlagPSH, Seq: h.rem, Data: "abc"} }, none, StateSynReceived, nil, nil},
	}},
	{StateEstablished, (*harness).established, []stateRow{
		{"SYN in window", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem + 5} }, ackNow, StateEstablished, nil, nil},
		{"SYN out of window", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem - 5000} }, ackNow, StateEstablished, nil, nil},
		{"RST", func(h *harness) S { return S{F: FlagRST, Seq: h.rem} }, none, StateClosed, ErrReset, nil},
		{"RST in window", func(h *harness) S { return S{F: FlagRST, Seq: h.rem + 1} }, ackNow, StateEstablished, nil, nil},
		{"RST out of window", func(h *harness) S { return S{F: FlagRST, Seq: h.rem + testBuf} }, none, StateEstablished, nil, nil},
		{"FIN", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} },
			func(h *harness) []S { return []S{{F: FlagACK, Seq: h.loc, Ack: h.rem + 1}} }, StateCloseWait, nil,
			func(t *testing.T, h *harness) {
				if _, err := h.c.Read(h.now, make([]byte, 1)); err != io.EOF {
					t.Fatalf("Read after FIN: %v", err)
				}
			}},
		{"FIN out of order", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem + 3, Ack: h.loc, Win: 1000} },
			ackNow, StateEstablished, nil, nil},
		{"ACK", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} }, none, StateEstablished, nil, nil},
		{"ACK of unsent data", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc + 1, Win: 1000} }, ackNow, StateEstablished, nil, nil},
		{"ACK too old", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc - 100000, Win: 1000} }, ackNow, StateEstablished, nil, nil},
		{"data", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "abc"} }, none, StateEstablished, nil,
			func(t *testing.T, h *harness) { h.read("abc") }},
		{"data out of window", func(h *harness) S { return S{F: FlagACK, Seq: h.rem + testBuf, Ack: h.loc, Data: "abc"} }, ackNow, StateEstablished, nil, nil},
		{"old data", func(h *harness) S { return S{F: FlagACK, Seq: h.rem - 3, Ack: h.loc, Data: "abc"} }, ackNow, StateEstablished, nil, nil},
		{"data without ACK", func(h *harness) S { return S{F: FlagPSH, Seq: h.rem, Data: "abc"} }, none, StateEstablished, nil,
			func(t *testing.T, h *harness) {
				if h.c.Buffered() != 0 {
					t.Fatal("data without ACK was accepted")
				}
			}},
	}},
	{StateFinWait1, (*harness).finWait1, []stateRow{
		{"SYN", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem} }, ackNow, StateFinWait1, nil, nil},
		{"RST", func(h *harness) S { return S{F: FlagRST, Seq: h.rem} }, none, StateClosed, ErrReset, nil},
		{"RST in window", func(h *harness) S { return S{F: FlagRST, Seq: h.rem + 1} }, ackNow, StateFinWait1, nil, nil},
		{"FIN (simultaneous close)", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc - 1, Win: 1000} },
			func(h *harness) []S { return []S{{F: FlagACK, Seq: h.loc, Ack: h.rem + 1}} }, StateClosing, nil, nil},
		{"FIN+ACK of FIN", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} },
			func(h *harness) []S { return []S{{F: FlagACK, Seq: h.loc, Ack: h.rem + 1}} }, StateTimeWait, nil, nil},
		{"ACK of FIN", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} }, none, StateFinWait2, nil, nil},
		{"ACK not of FIN", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc - 1, Win: 1000} }, none, StateFinWait1, nil, nil},
		{"data", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc - 1, Win: 1000, Data: "abc"} }, none, StateFinWait1, nil,
			func(t *testing.T, h *harness) { h.read("abc") }},
	}},
	{StateFinWait2, (*harness).finWait2, []stateRow{
		{"SYN", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem} }, ackNow, StateFinWait2, nil, nil},
		{"RST", func(h *harness) S { return S{F: FlagRST, Seq: h.rem} }, none, StateClosed, ErrReset, nil},
		{"RST in window", func(h *harness) S { return S{F: FlagRST, Seq: h.rem + 1} }, ackNow, StateFinWait2, nil, nil},
		{"FIN", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} },
			func(h *harness) []S { return []S{{F: FlagACK, Seq: h.loc, Ack: h.rem + 1}} }, StateTimeWait, nil, nil},
		{"ACK", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} }, none, StateFinWait2, nil, nil},
		{"data", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "abc"} }, none, StateFinWait2, nil,
			func(t *testing.T, h *harness) { h.read("abc") }},
	}},
	{StateCloseWait, (*harness).closeWait, []stateRow{
		{"SYN", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem} }, ackNow, StateCloseWait, nil, nil},
		{"RST", func(h *harness) S { return S{F: FlagRST, Seq: h.rem} }, none, StateClosed, ErrReset, nil},
		{"RST in window", func(h *harness) S { return S{F: FlagRST, Seq: h.rem + 1} }, ackNow, StateCloseWait, nil, nil},
		{"FIN again", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem - 1, Ack: h.loc, Win: 1000} }, ackNow, StateCloseWait, nil, nil},
		{"ACK", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} }, none, StateCloseWait, nil, nil},
		{"data after FIN", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "abc"} }, ackNow, StateCloseWait, nil,
			func(t *testing.T, h *harness) {
				if h.c.Buffered() != 0 {
					t.Fatal("data after FIN was accepted")
				}
			}},
	}},
	{StateClosing, (*harness).closing, []stateRow{
		{"SYN", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem} }, ackNow, StateClosing, nil, nil},
		{"RST", func(h *harness) S { return S{F: FlagRST, Seq: h.rem} }, none, StateClosed, nil, nil},
		{"RST in window", func(h *harness) S { return S{F: FlagRST, Seq: h.rem + 1} }, ackNow, StateClosing, nil, nil},
		{"FIN again", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem - 1, Ack: h.loc - 1, Win: 1000} }, ackNow, StateClosing, nil, nil},
		{"ACK of FIN", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} }, none, StateTimeWait, nil, nil},
		{"data", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc - 1, Win: 1000, Data: "abc"} }, ackNow, StateClosing, nil, nil},
	}},
	{StateLastAck, (*harness).lastAck, []stateRow{
		{"SYN", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem} }, ackNow, StateLastAck, nil, nil},
		{"RST", func(h *harness) S { return S{F: FlagRST, Seq: h.rem} }, none, StateClosed, nil, nil},
		{"RST in window", func(h *harness) S { return S{F: FlagRST, Seq: h.rem + 1} }, ackNow, StateLastAck, nil, nil},
		{"FIN again", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem - 1, Ack: h.loc - 1, Win: 1000} }, ackNow, StateLastAck, nil, nil},
		{"ACK of FIN", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} }, none, StateClosed, nil, nil},
		{"ACK not of FIN", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc - 1, Win: 1000} }, none, StateLastAck, nil, nil},
		{"data", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc - 1, Win: 1000, Data: "abc"} }, ackNow, StateLastAck, nil, nil},
	}},
	{StateTimeWait, (*harness).timeWait, []stateRow{
		{"SYN new incarnation", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem + 100000} }, none, StateClosed, nil,
			func(t *testing.T, h *harness) {
				if iss, ok := h.c.TimeWaitReuse(); !ok || !iss.GreaterThan(h.loc) {
					t.Fatalf("TimeWaitReuse = %d, %v", iss, ok)
				}
			}},
		{"SYN old", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem - 100} }, ackNow, StateTimeWait, nil,
			func(t *testing.T, h *harness) {
				if _, ok := h.c.TimeWaitReuse(); ok {
					t.Fatal("reuse by an old SYN")
				}
			}},
		{"RST (RFC 1337)", func(h *harness) S { return S{F: FlagRST, Seq: h.rem} }, none, StateTimeWait, nil, nil},
		{"FIN again", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem - 1, Ack: h.loc, Win: 1000} }, ackNow, StateTimeWait, nil,
			func(t *testing.T, h *harness) {
				if d := h.c.NextDeadline().Sub(h.now); d != 60e9 {
					t.Fatalf("TIME-WAIT not restarted: %v left", d)
				}
			}},
		{"ACK", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000} }, none, StateTimeWait, nil, nil},
		{"data", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 1000, Data: "abc"} }, ackNow, StateTimeWait, nil, nil},
	}},
	{StateClosed, (*harness).closed, []stateRow{
		{"SYN", func(h *harness) S { return S{F: FlagSYN, Seq: 5} },
			func(h *harness) []S { return []S{{F: FlagRST | FlagACK, Seq: 0, Ack: 6}} }, StateClosed, ErrAborted, nil},
		{"RST", func(h *harness) S { return S{F: FlagRST, Seq: h.rem} }, none, StateClosed, ErrAborted, nil},
		{"FIN", func(h *harness) S { return S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc} },
			func(h *harness) []S { return []S{{F: FlagRST, Seq: h.loc}} }, StateClosed, ErrAborted, nil},
		{"ACK", func(h *harness) S { return S{F: FlagACK, Seq: h.rem, Ack: h.loc} },
			func(h *harness) []S { return []S{{F: FlagRST, Seq: h.loc}} }, StateClosed, ErrAborted, nil},
		{"data", func(h *harness) S { return S{F: FlagPSH, Seq: h.rem, Data: "abcd"} },
			func(h *harness) []S { return []S{{F: FlagRST | FlagACK, Seq: 0, Ack: h.rem + 4}} }, StateClosed, ErrAborted, nil},
	}},
}

// sackRows exercise the SACK options in the states where they matter:
// negotiation on SYN and SYN-ACK, blocks and D-SACK on the receiver's
// ACKs, scoreboard updates from the peer's ACKs.
var sackRows = []struct {
	state State
	build func(h *harness) *harness
	rows  []stateRow
}{
	{StateListen, (*harness).listen, []stateRow{
		{"SYN with SACK-permitted", func(h *harness) S { return S{F: FlagSYN, Seq: remoteISS, Win: 1000, SACKOK: true} },
			func(h *harness) []S {
				iss := ISN(h.cfg.ISNSecret, tTuple, h.now)
				return []S{{F: FlagSYN | FlagACK, Seq: iss, Ack: remoteISS + 1, SACKOK: true}}
			}, StateSynReceived, nil,
			func(t *testing.T, h *harness) {
				if !h.c.sackOK {
					t.Fatal("SACK not negotiated")
				}
			}},
	}},
	{StateSynSent, (*harness).synSent, []stateRow{
		{"SYN-ACK with SACK-permitted", func(h *harness) S {
			return S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: h.loc, Win: 1000, SACKOK: true}
		},
			func(h *harness) []S { return []S{{F: FlagACK, Seq: h.loc, Ack: remoteISS + 1, NoSACK: true}} },
			StateEstablished, nil,
			func(t *testing.T, h *harness) {
				if !h.c.sackOK {
					t.Fatal("SACK not negotiated")
				}
			}},
	}},
	{StateEstablished, (*harness).establishedSACK, []stateRow{
		{"data out of order (SACK block)", func(h *harness) S { return S{F: FlagACK, Seq: h.rem + 3, Ack: h.loc, Win: 1000, Data: "def"} },
			func(h *harness) []S {
				return []S{{F: FlagACK, Seq: h.loc, Ack: h.rem, SACK: []SACKBlock{{h.rem + 3, h.rem + 6}}}}
			}, StateEstablished, nil, nil},
		{"data old (D-SACK)", func(h *harness) S { return S{F: FlagACK, Seq: h.rem - 3, Ack: h.loc, Data: "abc"} },
			func(h *harness) []S {
				return []S{{F: FlagACK, Seq: h.loc, Ack: h.rem, SACK: []SACKBlock{{h.rem - 3, h.rem}}}}
			}, StateEstablished, nil, nil},
		{"ACK with SACK blocks", func(h *harness) S {
			h.c.SetNoDelay(true)
			h.write("abcdef")
			h.take()
			return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, SACK: []SACKBlock{{h.loc + 3, h.loc + 6}}}
		}, none, StateEstablished, nil,
			func(t *testing.T, h *harness) {
				if h.c.sb.n != 1 || h.c.sb.sacked != 3 || h.c.dupAcks != 1 {
					t.Fatalf("scoreboard %v dupAcks %d", h.c.sb.r[:h.c.sb.n], h.c.dupAcks)
				}
			}},
		{"ACK with SACK beyond SND.MAX", func(h *harness) S {
			return S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, SACK: []SACKBlock{{h.loc + 3, h.loc + 6}}}
		}, none, StateEstablished, nil,
			func(t *testing.T, h *harness) {
				if h.c.sb.n != 0 {
					t.Fatal("scoreboard took a block for data never sent")
				}
			}},
		{"FIN out of order (SACK block)", func(h *harness) S {
			return S{F: FlagFIN | FlagACK, Seq: h.rem + 3, Ack: h.loc, Win: 1000, Data: "end"}
		},
			func(h *harness) []S {
				return []S{{F: FlagACK, Seq: h.loc, Ack: h.rem, SACK: []SACKBlock{{h.rem + 3, h.rem + 6}}}}
			}, StateEstablished, nil, nil},
		{"RST with SACK blocks", func(h *harness) S {
			return S{F: FlagRST, Seq: h.rem, SACK: []SACKBlock{{h.loc, h.loc + 1}}}
		}, none, StateClosed, ErrReset, nil},
		{"SYN with SACK-permitted", func(h *harness) S { return S{F: FlagSYN, Seq: h.rem + 5, SACKOK: true} }, ackNow, StateEstablished, nil, nil},
	}},
}

func TestStateTableSACK(t *testing.T) {
	for _, st := range sackRows {
		for _, row := range st.rows {
			t.Run(st.state.String()+"/"+row.event, func(t *testing.T) {
				h := st.build(newHarness(t))
				h.state(st.state)
				h.c.TakeEvents()
				h.send(row.in(h))
				h.expect(row.want(h)...)
				h.state(row.state)
				if h.c.Err() != row.err {
					t.Fatalf("Err = %v, want %v", h.c.Err(), row.err)
				}
				if row.check != nil {
					row.check(t, h)
				}
			})
		}
	}
}

func TestStateTable(t *testing.T) {
	kinds := map[State]map[string]bool{}
	for _, st := range stateTable {
		for _, row := range st.rows {
			t.Run(st.state.String()+"/"+row.event, func(t *testing.T) {
				h := st.build(newHarness(t))
				h.state(st.state)
				h.c.TakeEvents()
				h.send(row.in(h))
				h.expect(row.want(h)...)
				h.state(row.state)
				if h.c.Err() != row.err {
					t.Fatalf("Err = %v, want %v", h.c.Err(), row.err)
				}
				if row.check != nil {
					row.check(t, h)
				}
			})
			for _, k := range []string{"SYN", "RST", "FIN", "ACK", "data"} {
				if len(row.event) >= len(k) && row.event[:len(k)] == k {
					if kinds[st.state] == nil {
						kinds[st.state] = map[string]bool{}
					}
					kinds[st.state][k] = true
				}
			}
		}
	}
	// The table itself must cover every state with every event kind.
	for s := StateClosed; s <= StateTimeWait; s++ {
		for _, k := range []string{"SYN", "RST", "FIN", "ACK", "data"} {
			if !kinds[s][k] {
				t.Errorf("no %s row for %v", k, s)
			}
		}
	}
}

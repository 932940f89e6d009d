package tcp

import (
	"io"
	"testing"
)

func TestActiveOpenDataClose(t *testing.T) {
	h := newHarness(t).synSent()
	h.send(S{F: FlagSYN | FlagACK, Seq: remoteISS, Ack: h.loc, Win: 20000, MSS: 1200})
	h.rem = remoteISS + 1
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Win: testBuf})
	h.state(StateEstablished)
	h.events(EventEstablished)
	if h.c.MSS() != 1200 {
		t.Fatalf("MSS %d", h.c.MSS())
	}

	h.write("hello")
	h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "hello"})
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 5, Win: 20000})
	h.loc += 5
	h.events(EventWritable)

	h.send(S{F: FlagACK | FlagPSH, Seq: h.rem, Ack: h.loc, Win: 20000, Data: "world"})
	h.rem += 5
	h.expectNothing() // delayed
	h.events(EventReadable)
	h.read("world")
	if d := h.fire(); d != 200*1e6 {
		t.Fatalf("delayed ACK after %v", d)
	}
	// Receiver SWS avoidance: reading 5 bytes does not move the right
	// edge, so the window stays 5 bytes short.
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem, Win: testBuf - 5})

	h.c.CloseWrite(h.now)
	h.expect(S{F: FlagFIN | FlagACK, Seq: h.loc, Ack: h.rem})
	h.loc++
	h.state(StateFinWait1)
	h.send(S{F: FlagFIN | FlagACK, Seq: h.rem, Ack: h.loc, Win: 20000})
	h.rem++
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.state(StateTimeWait)
	if _, err := h.c.Read(h.now, make([]byte, 10)); err != io.EOF {
		t.Fatalf("read after FIN: %v", err)
	}
	if d := h.fire(); d != 60e9 {
		t.Fatalf("TIME-WAIT lasted %v", d)
	}
	h.state(StateClosed)
	if h.c.Err() != nil {
		t.Fatal(h.c.Err())
	}
}

func TestPassiveOpenDataClose(t *testing.T) {
	h := newHarness(t).established()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000, Data: "ping"})
	h.rem += 4
	h.read("ping")
	h.write("pong")
	h.expect(S{F: FlagACK | FlagPSH, Seq: h.loc, Ack: h.rem, Data: "pong"})
	h.loc += 4
	h.send(S{F: FlagACK | FlagFIN, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.rem++
	h.expect(S{F: FlagACK, Seq: h.loc, Ack: h.rem})
	h.state(StateCloseWait)
	h.c.Close(h.now)
	h.expect(S{F: FlagFIN | FlagACK, Seq: h.loc, Ack: h.rem})
	h.loc++
	h.state(StateLastAck)
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.state(StateClosed)
	h.expectNothing()
	if h.c.NextDeadline() != (h.now.Add(0)) && !h.c.NextDeadline().IsZero() {
		t.Fatalf("deadline left after close: %v", h.c.NextDeadline())
	}
}

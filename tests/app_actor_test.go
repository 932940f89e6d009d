package tests

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/syncbuf"
)

// scriptApp is an app actor for tests: it records every message it
// receives (lifecycle messages included, so a test can check that Closed
// came before Stopping) and hands each to script.
type scriptApp struct {
	conn   *actor.PID
	events chan any
	script func(a *scriptApp, ctx actor.Context)
}

func (a *scriptApp) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*actnet.Connected); ok {
		a.conn = m.Conn.(*actor.PID)
	}
	select {
	case a.events <- ctx.Message():
	default:
		panic("scriptApp: event log full")
	}
	if a.script != nil {
		a.script(a, ctx)
	}
}

// serveScript serves port with one scriptApp per connection; every app
// records into the returned channel.
func serveScript(t *testing.T, s *actnet.Stack, port uint16, script func(a *scriptApp, ctx actor.Context)) chan any {
	t.Helper()
	events := make(chan any, 4096)
	svc, err := s.Serve(port, actor.PropsFromProducer(func() actor.Actor {
		return &scriptApp{events: events, script: script}
	}))
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() { svc.Stop() })
	return events
}

// waitEvent reads app events until one satisfies want, and returns every
// event read up to and including it. It fails the test after within: an
// upper bound for a hang, not a timing assertion.
func waitEvent(t *testing.T, events chan any, within time.Duration, what string, want func(any) bool) []any {
	t.Helper()
	var seen []any
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case ev := <-events:
			seen = append(seen, ev)
			if want(ev) {
				return seen
			}
		case <-timer.C:
			t.Fatalf("no %s within %v; the app saw %s", what, within, describe(seen))
		}
	}
}

func describe(events []any) string {
	s := ""
	for _, ev := range events {
		s += fmt.Sprintf("%T ", ev)
	}
	return s
}

func isStopped(ev any) bool { _, ok := ev.(*actor.Stopped); return ok }

// closedOf returns the Closed among events, or nil.
func closedOf(events []any) *actnet.Closed {
	for _, ev := range events {
		if c, ok := ev.(*actnet.Closed); ok {
			return c
		}
	}
	return nil
}

// indexOf is the position of the first event of type T, or -1.
func indexOf[T any](events []any) int {
	for i, ev := range events {
		if _, ok := ev.(T); ok {
			return i
		}
	}
	return -1
}

func count[T any](events []any) int {
	n := 0
	for _, ev := range events {
		if _, ok := ev.(T); ok {
			n++
		}
	}
	return n
}

// patternData is n pseudo-random bytes, the same for the same seed.
func patternData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestAppStreamsThenCloses is the path of an app that streams a large reply
// and ends it: every byte must reach the peer, followed by a clean EOF (no
// reset), whichever way the app ends. Before the connection queued writes,
// one 3 MiB Write followed by CloseWrite delivered 262,144 bytes, writes
// sent without waiting for Written failed ("a write is already in
// progress"), and an app that stopped after Close reset the connection.
func TestAppStreamsThenCloses(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name   string
		writes []int
		// end: "closewrite" (stay until Closed), "close" (stay until
		// Closed), "close-stop" (Close, then stop at once).
		end string
	}{
		{"one 3 MiB write then CloseWrite", []int{3 * mib}, "closewrite"},
		{"three 1 MiB writes then CloseWrite", []int{mib, mib, mib}, "closewrite"},
		{"many writes then Close", []int{mib, 7, 2*mib + 3, 1, 0, mib / 2}, "close"},
		{"3 MiB then Close then stop", []int{3 * mib}, "close-stop"},
		{"bye then Close then stop", []int{3}, "close-stop"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b, _, _ := pair(t, device.MemoryConfig{})
			total := 0
			for _, n := range tc.writes {
				total += n
			}
			data := patternData(total, uint64(i))
			port := uint16(7000 + i)
			events := serveScript(t, b, port, func(app *scriptApp, ctx actor.Context) {
				if _, ok := ctx.Message().(*actnet.Connected); !ok {
					return
				}
				// Every write at once, with ctx.Send (answers come to the
				// app), then the end: nothing waits for Written.
				off := 0
				for _, n := range tc.writes {
					ctx.Send(app.conn, &actnet.Write{Data: data[off : off+n]})
					off += n
				}
				switch tc.end {
				case "closewrite":
					ctx.Send(app.conn, &actnet.CloseWrite{})
				case "close":
					ctx.Send(app.conn, &actnet.Close{})
				case "close-stop":
					ctx.Send(app.conn, &actnet.Close{})
					ctx.Stop(ctx.Self())
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := a.DialTCP(ctx, netip.AddrPortFrom(b.Addr(), port))
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(60 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v after %d of %d bytes (want all, then EOF)", err, len(got), total)
			}
			if len(got) != total || sha256.Sum256(got) != sha256.Sum256(data) {
				t.Fatalf("peer got %d bytes, SHA-256 %x; app wrote %d, SHA-256 %x",
					len(got), sha256.Sum256(got), total, sha256.Sum256(data))
			}
			c.Close()
			seen := waitEvent(t, events, 30*time.Second, "app stop", isStopped)
			if tc.end == "close-stop" {
				return // it stopped itself right away: it hears nothing more
			}
			if n := count[*actnet.Written](seen); n != len(tc.writes) {
				t.Errorf("app got %d Written for %d writes; events: %s", n, len(tc.writes), describe(seen))
			}
			if n := count[*actnet.CommandFailed](seen); n != 0 {
				t.Errorf("app got %d CommandFailed; events: %s", n, describe(seen))
			}
			if tc.end == "closewrite" && count[*actnet.WriteClosed](seen) != 1 {
				t.Errorf("CloseWrite was not answered with WriteClosed; events: %s", describe(seen))
			}
			cl := closedOf(seen)
			if cl == nil || cl.Err != nil || cl.Reason != actnet.ClosedOrderly {
				t.Fatalf("want Closed{orderly}, got %+v; events: %s", cl, describe(seen))
			}
			if indexOf[*actnet.Closed](seen) > indexOf[*actor.Stopping](seen) {
				t.Errorf("Closed came after Stopping: %s", describe(seen))
			}
		})
	}
}

// An app that releases each Received once it has read it gets its data
// whole and in order, though its memory is recycled for the next Received
// (mailbox.Received.Release): 8 MiB from the peer, hashed by the app as it
// arrives, and every released message's Data gone.
func TestAppReleasesReceived(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	const total = 8 << 20
	data := patternData(total, 42)
	const port = 7100
	type result struct {
		n        int
		sum      [32]byte
		released bool
	}
	done := make(chan result, 1)
	h := sha256.New()
	n := 0
	released := true
	serveScript(t, b, port, func(app *scriptApp, ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actnet.Received:
			h.Write(m.Data)
			n += len(m.Data)
			m.Release()
			released = released && m.Data == nil
		case *actnet.PeerClosed:
			var sum [32]byte
			copy(sum[:], h.Sum(nil))
			done <- result{n, sum, released}
			ctx.Send(app.conn, &actnet.Close{})
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := a.DialTCP(ctx, netip.AddrPortFrom(b.Addr(), port))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the app did not hear the end of the stream within 60 s")
	}
	if r.n != total || r.sum != sha256.Sum256(data) {
		t.Fatalf("app read %d bytes, SHA-256 %x; peer wrote %d, SHA-256 %x", r.n, r.sum, total, sha256.Sum256(data))
	}
	if !r.released {
		t.Fatal("a released Received still had its Data")
	}
	c.Close()
}

// TestAppHearsClosed checks that the app receives Closed, with the reason,
// before it is stopped, however the connection ends. Before, the app only
// ever saw protoactor's Stopping: its connection actor stopped (and so
// stopped its child) right after sending Closed.
func TestAppHearsClosed(t *testing.T) {
	cases := []struct {
		name   string
		script func(app *scriptApp, ctx actor.Context)
		// peer does the client's part on the dialled connection.
		peer   func(t *testing.T, c *actnet.Conn, cut func())
		reason actnet.CloseReason
		err    error
	}{
		{
			name: "peer closes first",
			script: func(app *scriptApp, ctx actor.Context) {
				if _, ok := ctx.Message().(*actnet.PeerClosed); ok {
					ctx.Send(app.conn, &actnet.Close{})
				}
			},
			peer: func(t *testing.T, c *actnet.Conn, _ func()) {
				c.Write([]byte("x"))
				c.CloseWrite()
				if _, err := io.ReadAll(c); err != nil {
					t.Errorf("read: %v", err)
				}
			},
			reason: actnet.ClosedOrderly,
		},
		{
			name: "app closes first",
			script: func(app *scriptApp, ctx actor.Context) {
				if _, ok := ctx.Message().(*actnet.Connected); ok {
					ctx.Send(app.conn, &actnet.Write{Data: []byte("hi")})
					ctx.Send(app.conn, &actnet.Close{})
				}
			},
			peer: func(t *testing.T, c *actnet.Conn, _ func()) {
				got, err := io.ReadAll(c)
				if err != nil || string(got) != "hi" {
					t.Errorf("read %q, %v", got, err)
				}
			},
			reason: actnet.ClosedOrderly,
		},
		{
			name: "peer resets",
			peer: func(t *testing.T, c *actnet.Conn, _ func()) {
				c.SetLinger(0)
			},
			reason: actnet.ClosedByReset,
			err:    actnet.ErrConnectionReset,
		},
		{
			name: "app aborts",
			script: func(app *scriptApp, ctx actor.Context) {
				if _, ok := ctx.Message().(*actnet.Received); ok {
					ctx.Send(app.conn, &actnet.Abort{})
				}
			},
			peer: func(t *testing.T, c *actnet.Conn, _ func()) {
				c.Write([]byte("x"))
				if _, err := io.ReadAll(c); !errors.Is(err, actnet.ErrConnectionReset) {
					t.Errorf("after the app's Abort the peer read %v, want a reset", err)
				}
			},
			reason: actnet.ClosedAborted,
			err:    actnet.ErrAborted,
		},
		{
			name: "peer vanishes",
			script: func(app *scriptApp, ctx actor.Context) {
				if _, ok := ctx.Message().(*actnet.Received); ok {
					// Data the peer will never acknowledge: the user
					// timeout (set below) gives up on it.
					ctx.Send(app.conn, &actnet.Write{Data: []byte("are you there?")})
				}
			},
			peer: func(t *testing.T, c *actnet.Conn, cut func()) {
				buf := make([]byte, 1)
				if _, err := c.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
				// Wait until the app answered, so the link is cut only
				// when the app's data is on its way.
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Fatal(err)
				}
				cut()
				if _, err := c.Write([]byte("y")); err != nil {
					t.Fatal(err)
				}
			},
			reason: actnet.ClosedTimedOut,
			err:    actnet.ErrTimedOut,
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			da, db := device.NewMemoryPair(device.MemoryConfig{})
			a := newStack(t, da, addrA)
			server, err := actnet.New(actnet.Config{Device: db, IPv4: addrB, Logger: testLogger(t),
				TCP: actnet.TCPConfig{UserTimeout: 300 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { server.Close() })
			port := uint16(7100 + i)
			events := serveScript(t, server, port, tc.script)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := a.DialTCP(ctx, netip.AddrPortFrom(server.Addr(), port))
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			tc.peer(t, c, func() {
				// Both ways: nothing gets through any more.
				for _, d := range []*device.Memory{da, db} {
					if err := d.SetFaults(device.Faults{DropPercent: 100}); err != nil {
						t.Fatal(err)
					}
				}
			})
			c.Close()
			seen := waitEvent(t, events, 30*time.Second, "app stop", isStopped)
			cl := closedOf(seen)
			if cl == nil {
				t.Fatalf("the app never received Closed; events: %s", describe(seen))
			}
			if cl.Reason != tc.reason || !errors.Is(cl.Err, tc.err) || (tc.err == nil) != (cl.Err == nil) {
				t.Errorf("Closed{%v, %v}, want {%v, %v}", cl.Reason, cl.Err, tc.reason, tc.err)
			}
			if indexOf[*actnet.Closed](seen) > indexOf[*actor.Stopping](seen) {
				t.Errorf("Closed came after Stopping: %s", describe(seen))
			}
			if n := count[*actnet.Closed](seen); n != 1 {
				t.Errorf("Closed %d times", n)
			}
		})
	}
}

// TestAppCommandByValueIsAnswered: a command sent by value (a common
// mistake: actnet.Write{} for &actnet.Write{}) used to be ignored silently,
// and the client timed out. It is answered with CommandFailed, to the
// sender or, when there is none, to the app.
func TestAppCommandByValueIsAnswered(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	events := serveScript(t, b, 7200, func(app *scriptApp, ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actnet.Connected:
			ctx.Request(app.conn, actnet.Write{Data: []byte("by value")})
			ctx.Send(app.conn, actnet.Close{})
			ctx.Send(app.conn, "hello")
		case *actnet.CommandFailed:
			if s, ok := m.Cmd.(string); ok && s == "hello" {
				ctx.Send(app.conn, &actnet.Write{Data: []byte("by pointer")})
				ctx.Send(app.conn, &actnet.Close{})
			}
		}
	})
	c, err := a.DialTCP(context.Background(), netip.AddrPortFrom(b.Addr(), 7200))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "by pointer" {
		t.Fatalf("peer read %q, %v; want only the command sent by pointer", got, err)
	}
	seen := waitEvent(t, events, 30*time.Second, "app stop", isStopped)
	var failed []any
	for _, ev := range seen {
		if f, ok := ev.(*actnet.CommandFailed); ok {
			if !errors.Is(f.Err, actnet.ErrNotACommand) {
				t.Errorf("CommandFailed for %T: %v, want ErrNotACommand", f.Cmd, f.Err)
			}
			failed = append(failed, f.Cmd)
		}
	}
	if len(failed) != 3 {
		t.Fatalf("want 3 CommandFailed (Write by value, Close by value, a string), got %d: %v", len(failed), failed)
	}
	if _, ok := failed[0].(actnet.Write); !ok {
		t.Errorf("first CommandFailed is for %T, want actnet.Write", failed[0])
	}
	if got := b.Stats().TCP.UnknownCommands; got != 3 {
		t.Errorf("counted %d messages that are not commands, want 3", got)
	}
}

// TestAppCrashVersusStop: a panicking app and an app that stops without
// closing both reset their connection (the peer must not take it for a
// complete reply), while an app that closes and then stops ends it
// gracefully (TestAppStreamsThenCloses). Each is counted.
func TestAppCrashVersusStop(t *testing.T) {
	for _, crash := range []bool{true, false} {
		name := map[bool]string{true: "crash", false: "stop without close"}[crash]
		t.Run(name, func(t *testing.T) {
			a, b, _, _ := pair(t, device.MemoryConfig{})
			events := serveScript(t, b, 7300, func(app *scriptApp, ctx actor.Context) {
				if _, ok := ctx.Message().(*actnet.Received); ok {
					ctx.Send(app.conn, &actnet.Write{Data: []byte("partial")})
					if crash {
						panic("test app crashes")
					}
					ctx.Stop(ctx.Self())
				}
			})
			c, err := a.DialTCP(context.Background(), netip.AddrPortFrom(b.Addr(), 7300))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			c.Write([]byte("go"))
			_, err = io.ReadAll(c)
			if !errors.Is(err, actnet.ErrConnectionReset) {
				t.Fatalf("peer read ended with %v, want a reset", err)
			}
			waitEvent(t, events, 30*time.Second, "app stop", isStopped)
			st := b.Stats().TCP
			crashes, gone := st.AppCrashes, st.AppGone
			if crash && (crashes != 1 || gone != 0) || !crash && (crashes != 0 || gone != 1) {
				t.Errorf("counted %d app crashes and %d apps gone", crashes, gone)
			}
		})
	}
}

// TestConnectionEventsAreLogged: at debug level each connection logs one
// line when it opens and one when it ends, with its 4-tuple and its app.
func TestConnectionEventsAreLogged(t *testing.T) {
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	a := newStack(t, da, addrA)
	var logs syncbuf.Buffer
	log := zerolog.New(&logs).Level(zerolog.DebugLevel)
	b, err := actnet.New(actnet.Config{Device: db, IPv4: addrB, Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	events := serveScript(t, b, 7400, func(app *scriptApp, ctx actor.Context) {
		switch ctx.Message().(type) {
		case *actnet.PeerClosed:
			ctx.Send(app.conn, &actnet.Close{})
		case *actnet.Received:
			ctx.Send(app.conn, &actnet.Abort{})
		}
	})
	for _, reset := range []bool{false, true} {
		c, err := a.DialTCP(context.Background(), netip.AddrPortFrom(b.Addr(), 7400))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if reset {
			c.Write([]byte("x"))
		} else {
			c.CloseWrite()
		}
		io.ReadAll(c)
		c.Close()
		waitEvent(t, events, 30*time.Second, "app stop", isStopped)
	}
	// The second connection was reset by the app, so its actor ended at
	// once; the first lingers in TIME-WAIT, but its app heard Closed and
	// its end is logged when the connection actor finishes, which the
	// reset one already did.
	eventually(t, 30*time.Second, "the reset to be logged", func() bool {
		return strings.Contains(logs.String(), "tcp: connection reset")
	})
	text := logs.String()
	for _, want := range []string{`"message":"tcp: connection opened"`, `"app":"tests.scriptApp"`, `"conn":"10.0.0.2:7400-10.0.0.1:`, `"how":"aborted"`} {
		if !strings.Contains(text, want) {
			t.Errorf("debug log lacks %s:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "tcp: connection opened"); n != 2 {
		t.Errorf("%d 'opened' lines for 2 connections:\n%s", n, text)
	}
}

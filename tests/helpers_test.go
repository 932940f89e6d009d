// Package tests holds actnet's integration tests: stacks joined by the
// memory link, and stacks on tap devices inside network namespaces the tests
// create and delete themselves.
package tests

import (
	"context"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/testhook"
)

var (
	addrA = netip.MustParsePrefix("10.0.0.1/24")
	addrB = netip.MustParsePrefix("10.0.0.2/24")
)

// testLogger sends the stack's logs to the test log, warnings and above.
// A test marked with quietLogs gets fatal lines only: the crashes it
// causes on purpose would otherwise flood its log.
func testLogger(t testing.TB) *zerolog.Logger {
	level := zerolog.WarnLevel
	if _, ok := quiet.Load(t); ok {
		level = zerolog.FatalLevel
	}
	l := zerolog.New(zerolog.ConsoleWriter{Out: zerolog.TestWriter{T: t}, NoColor: true}).Level(level)
	return &l
}

// quiet holds the tests marked with quietLogs.
var quiet sync.Map

// quietLogs makes the stacks t starts afterwards log fatal lines only.
func quietLogs(t testing.TB) {
	quiet.Store(t, true)
	t.Cleanup(func() { quiet.Delete(t) })
}

// newStack starts a stack on dev and closes it when the test ends.
func newStack(t testing.TB, dev device.Device, addr netip.Prefix) *actnet.Stack {
	t.Helper()
	s, err := actnet.New(actnet.Config{Device: dev, IPv4: addr, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("actnet.New: %v", err)
	}
	t.Cleanup(func() {
		s.Close()
		// Every packet buffer has come back to the pool: whoever held
		// one last released it, including on the way down.
		if n := testhook.Running(s).Env.Pool.Outstanding(); n != 0 {
			t.Errorf("stack %v: %d packet buffers never returned to the pool", addr, n)
		}
	})
	return s
}

// pair starts two stacks joined by a memory link with the given faults.
func pair(t testing.TB, cfg device.MemoryConfig) (a, b *actnet.Stack, da, db *device.Memory) {
	t.Helper()
	da, db = device.NewMemoryPair(cfg)
	return newStack(t, da, addrA), newStack(t, db, addrB), da, db
}

// ping sends one echo request and waits up to timeout for the reply.
func ping(s *actnet.Stack, dst netip.Addr, size int, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Ping(ctx, dst, size)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitIdle returns once nothing is in flight at one instant in any of
// parts: stacks (*actnet.Stack, with the frames on their way to them if
// their device is a memory link), virtual clocks, anything else that is an
// actors.Active. It is the barrier to use before asserting
// that something did not happen: after it, what the stacks were going to
// do of their own accord is done (with a virtual clock, until the clock
// moves). It fails the test after 10 s.
func waitIdle(t testing.TB, parts ...any) {
	t.Helper()
	var active []actors.Active
	for _, p := range parts {
		switch p := p.(type) {
		case *actnet.Stack:
			// The stack's actors, and the frames on their way to it.
			r := testhook.Running(p)
			active = append(active, r)
			if dev, ok := r.Env.Device.(actors.Active); ok {
				active = append(active, dev)
			}
		case actors.Active:
			active = append(active, p)
		default:
			t.Fatalf("waitIdle: %T reports no activity", p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := actors.WaitIdle(ctx, active...); err != nil {
		t.Fatalf("waiting for the stacks to go idle: %v", err)
	}
}

// waitBlocked returns once a goroutine started by the function named
// caller is blocked (in a select, on a channel or a lock) inside the
// function named in, as a barrier before acting on a blocked call (moving
// its deadline, closing its socket), so the test exercises the call while
// it waits, not before it starts. Names are matched as substrings of the
// goroutine dump's frames. It fails the test after 10 s.
func waitBlocked(t testing.TB, caller, in string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			header, _, _ := strings.Cut(g, "\n")
			blocked := strings.Contains(header, "[select") || strings.Contains(header, "[chan receive") ||
				strings.Contains(header, "[sync.Mutex.Lock") || strings.Contains(header, "[sync.Cond.Wait")
			if blocked && strings.Contains(g, caller) && strings.Contains(g, in) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine of %s blocked in %s within 10 s", caller, in)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// goroutines counts the running goroutines but protoactor's dead-letter
// log throttle: after a message to a stopped actor it keeps a goroutine
// for its period (a second), whatever became of the stack, which is not a
// leak.
func goroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		// The throttle's goroutine, inlined into NewDeadLetter or not.
		if !strings.Contains(g, "protoactor-go/actor.") || !strings.Contains(g, "NewThrottle.") {
			count++
		}
	}
	return count
}

// checkNoGoroutineLeak fails the test if, shortly after it ends, more
// goroutines run than when it started. It lists the survivors.
func checkNoGoroutineLeak(t *testing.T) {
	t.Helper()
	before := goroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for goroutines() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("goroutines: %d before, %d after Close; still running:\n%s",
					before, goroutines(), strings.TrimSpace(string(buf[:n])))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

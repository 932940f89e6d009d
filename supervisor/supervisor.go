// Package supervisor holds actnet's crash policy (DESIGN.md, principle 6):
// how a failure in a layer, a connection or an application is contained,
// counted and, when it repeats, escalated.
//
//   - Layer actors: a panic while one packet is handled is contained by a
//     PacketGuard. The packet is dropped, counted and logged with a hex dump;
//     the actor keeps its state and goes on with the rest of its batch. When
//     crashes exceed the layer's Budget the guard escalates, and the stack
//     root's LayerStrategy stops the stack rather than run a layer that keeps
//     failing.
//   - Connection and app actors: OneShotStrategy stops the failing child and
//     never restarts it (its protocol state would be wrong); the parent is
//     told through a callback so it can reset the peer and tell the app.
package supervisor

import (
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet/internal/faultinject"
)

// Budget allows Max crashes within any Window; one more exhausts it.
type Budget struct {
	Max    int
	Window time.Duration

	mu      sync.Mutex
	crashes []time.Time
}

// DefaultLayerBudget is generous: a layer is only given up on when it keeps
// crashing, which means a bug that hostile traffic can trigger at will.
func DefaultLayerBudget() *Budget { return &Budget{Max: 100, Window: 10 * time.Second} }

// Spend records a crash at now and reports whether the budget is exhausted.
func (b *Budget) Spend(now time.Time) (exhausted bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cutoff := now.Add(-b.Window)
	kept := b.crashes[:0]
	for _, t := range b.crashes {
		if t.After(cutoff) {
			kept = append(kept, t)
		}
	}
	b.crashes = append(kept, now)
	return len(b.crashes) > b.Max
}

// Escalation is the panic value a guard raises when its budget is exhausted.
type Escalation struct {
	Layer  string
	Reason any
}

func (e *Escalation) Error() string {
	return fmt.Sprintf("%s layer exceeded its crash budget; last crash: %v", e.Layer, e.Reason)
}

// PacketGuard contains panics raised while a layer handles one packet.
type PacketGuard struct {
	Layer  string
	Log    zerolog.Logger
	Budget *Budget
	// OnCrash is called once per contained crash, to count it.
	OnCrash func()
	// Now reads the clock; time.Now when nil.
	Now func() time.Time
}

// maxDump bounds the hex dump logged with a crash.
const maxDump = 256

// Handle runs fn, which processes packet. A panic in fn is recovered,
// counted and logged with a hex dump of the packet; Handle then returns
// normally, unless the budget is exhausted, when it panics with an
// *Escalation for the actor's supervisor.
func (g *PacketGuard) Handle(packet []byte, fn func()) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if g.OnCrash != nil {
			g.OnCrash()
		}
		dump := packet
		if len(dump) > maxDump {
			dump = dump[:maxDump]
		}
		g.Log.Error().
			Str("layer", g.Layer).
			Interface("panic", r).
			Int("len", len(packet)).
			Str("packet", hex.EncodeToString(dump)).
			Msg("packet handler panicked; packet dropped")
		now := time.Now
		if g.Now != nil {
			now = g.Now
		}
		if g.Budget != nil && g.Budget.Spend(now()) {
			panic(&Escalation{Layer: g.Layer, Reason: r})
		}
	}()
	faultinject.Packet(g.Layer, packet) // nil outside tests
	fn()
}

// LayerStrategy supervises the layer actors of one stack. A panic that
// escaped a PacketGuard (in a timer or control message) resumes the layer,
// which keeps its state; an Escalation, or more than budget failures, stops
// it and calls onFatal, which is expected to shut the stack down.
func LayerStrategy(log zerolog.Logger, budget *Budget, onFatal func(child *actor.PID, reason any)) actor.SupervisorStrategy {
	return &layerStrategy{log: log, budget: budget, onFatal: onFatal}
}

type layerStrategy struct {
	log     zerolog.Logger
	budget  *Budget
	onFatal func(child *actor.PID, reason any)
}

func (s *layerStrategy) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, message any) {
	_, escalated := reason.(*Escalation)
	if !escalated && !s.budget.Spend(time.Now()) {
		s.log.Error().Str("actor", child.Id).Interface("panic", reason).
			Str("message", fmt.Sprintf("%T", message)).Msg("layer actor panicked; resumed")
		sup.ResumeChildren(child)
		return
	}
	s.log.Error().Str("actor", child.Id).Interface("panic", reason).Msg("layer actor keeps failing; stopping the stack")
	// The stack is failed before the layer stops, so that whatever stops
	// with it (a layer's connection actors) already reports the failure.
	if s.onFatal != nil {
		s.onFatal(child, reason)
	}
	sup.StopChildren(child)
}

// OneShotStrategy stops a failing child and never restarts it; onCrash hears
// of it first (to count, log with context, reset the peer, tell the app).
// It runs in the supervising actor's goroutine, with that actor's context
// as sup, so it may note the crash in the supervisor's own state.
func OneShotStrategy(onCrash func(sup actor.Supervisor, child *actor.PID, reason any)) actor.SupervisorStrategy {
	return &oneShotStrategy{onCrash: onCrash}
}

type oneShotStrategy struct {
	onCrash func(sup actor.Supervisor, child *actor.PID, reason any)
}

func (s *oneShotStrategy) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, _ any) {
	if s.onCrash != nil {
		s.onCrash(sup, child, reason)
	}
	sup.StopChildren(child)
}

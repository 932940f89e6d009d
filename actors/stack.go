package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

// Options configure Start.
type Options struct {
	Device device.Device
	// IPv4 is the stack's address at start, the zero Prefix for none yet
	// (DHCP sets it later: Running.SetIPv4); Gateway4 its default router.
	IPv4     netip.Prefix
	Gateway4 netip.Addr
	Log      zerolog.Logger
	Clock    Clock // RealClock when nil
	Limits   Limits
	// IPv6 configures the IPv6 family; IPv6Off runs none.
	IPv6 IPv6Options
}

// Running is a started set of layer actors on one device.
type Running struct {
	Env    *Env
	Output *IPv4Output
	// Output6 is the IPv6 send path, nil when IPv6 is off.
	Output6 *IPv6Output

	system    *actor.ActorSystem
	resetOnce sync.Once // ResetConns
	closeOnce sync.Once
	closeErr  error
}

// wireLayers asks the stack actor to spawn its children.
type wireLayers struct{}

// layersWired answers wireLayers.
type layersWired struct{ PIDs PIDs }

// stackActor is the parent of every layer actor and supervises them with
// supervisor.LayerStrategy.
type stackActor struct {
	env      *Env
	families []family
	inFlight *atomic.Int64
}

func (s *stackActor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*wireLayers); !ok {
		return
	}
	env := s.env
	env.PIDs.Stack = ctx.Self()
	spawn := func(name string, a actor.Actor) *actor.PID {
		pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return a },
			actor.WithDispatcher(env.Dispatcher), actor.WithMailbox(newActorMailbox)), name)
		if err != nil {
			panic(fmt.Sprintf("actnet: spawning %s: %v", name, err))
		}
		return pid
	}
	env.PIDs.Timer = spawn("timer", newTimerActor(env.Clock))
	var upper []upperLayer
	for _, f := range s.families {
		upper = append(upper, f.spawn(env, spawn)...)
	}
	env.PIDs.UDP = spawn("udp", newUDPActor(env, &env.Out))
	tcpa := newTCPActor(env, &env.Out)
	tcpPID, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return tcpa },
		actor.WithDispatcher(env.Dispatcher), actor.WithMailbox(newActorMailbox)), "tcp")
	if err != nil {
		panic(fmt.Sprintf("actnet: spawning tcp: %v", err))
	}
	env.PIDs.TCP = tcpPID
	reader := spawn("ethernet", &readerActor{env: env, eth: newEthernetLayer(env, upper), upper: upper, inFlight: s.inFlight})
	ctx.Send(reader, &startReading{})
	ctx.Respond(&layersWired{PIDs: env.PIDs})
}

// Start spawns the layer actors of one stack and starts reading the device.
func Start(opts Options) (*Running, error) {
	if opts.Device == nil {
		return nil, errors.New("actnet: no device")
	}
	if err := validIPv4(opts.IPv4, opts.Gateway4); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	mac := opts.Device.HardwareAddr()
	if len(mac) != 6 {
		return nil, fmt.Errorf("actnet: device MAC %v is not a 6-byte Ethernet address", mac)
	}
	if err := validateIPv6(opts.IPv6); err != nil {
		return nil, err
	}
	mtu := opts.Device.MTU()
	if mtu < 576 {
		return nil, fmt.Errorf("actnet: device MTU %d is below IPv4's minimum of 576", mtu)
	}
	r := &Running{}
	slogger := NewSlogLogger(opts.Log.With().Str("lib", "protoactor").Logger())
	r.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slogger }))
	// A message sent to an actor that has just stopped (segments routed to
	// a connection that ended) becomes a dead letter; the packet buffers it
	// carries go back to the pool.
	r.system.EventStream.Subscribe(func(evt any) {
		if dl, ok := evt.(*actor.DeadLetterEvent); ok {
			if m, ok := dl.Message.(interface{ Release() }); ok {
				m.Release()
			}
		}
	})
	env := &Env{
		// 300 messages a run is protoactor's default throughput.
		Dispatcher: newWorkerDispatcher(300),
		Log:        opts.Log,
		Clock:      opts.Clock,
		Counters:   mailbox.NewCounters(),
		Pool:       mailbox.NewPool(mailbox.Headroom + mtu + ethernet.HeaderLen),
		System:     r.system,
		Device:     opts.Device,
		MAC:        ethernet.Addr(mac),
		MTU:        mtu,
		Limits:     opts.Limits.withDefaults(),
	}
	env.ipv4.Store(&IPv4Config{Addr: opts.IPv4, Gateway: opts.Gateway4})
	env.initLink()
	env.life.init()
	env.Fatal = r.fail
	r.Env = env
	r.Output = NewIPv4Output(env)
	families := []family{ipv4Family(r.Output)}
	if opts.IPv6.Mode != IPv6Off && mtu >= 1280 {
		r.Output6 = NewIPv6Output(env, opts.IPv6)
		families = append(families, ipv6Family(r.Output6))
	}
	for _, f := range families {
		f.register(&env.Out)
	}
	strategy := supervisor.LayerStrategy(opts.Log, supervisor.DefaultLayerBudget(), func(child *actor.PID, reason any) {
		r.fail(fmt.Errorf("layer %s: %v", child.Id, reason))
	})
	props := actor.PropsFromProducer(func() actor.Actor {
		return &stackActor{env: env, families: families, inFlight: new(atomic.Int64)}
	}, actor.WithSupervisor(strategy), actor.WithDispatcher(env.Dispatcher), actor.WithMailbox(newActorMailbox))
	pid, err := r.system.Root.SpawnNamed(props, "stack")
	if err != nil {
		r.system.Shutdown()
		env.Dispatcher.Close()
		return nil, err
	}
	if _, err := r.system.Root.RequestFuture(pid, &wireLayers{}, 5*time.Second).Result(); err != nil {
		r.system.Root.Stop(pid)
		r.system.Shutdown()
		env.Dispatcher.Close()
		return nil, fmt.Errorf("actnet: starting layers: %w", err)
	}
	return r, nil
}

// Failed is closed when a layer has failed beyond its crash budget.
func (r *Running) Failed() <-chan struct{} { return r.Env.life.failed }

// Err returns the failure that closed Failed, or nil; it errors.Is
// ErrStackFailed.
func (r *Running) Err() error { return r.Env.life.failErr() }

func (r *Running) fail(err error) { r.Env.life.fail(err) }

// Close resets the open connections (ResetConns), stops every actor and
// closes the device; it waits until all of the stack's goroutines have
// ended (the finaliser discipline of mnet's kill).
func (r *Running) Close() error {
	r.ResetConns()
	r.closeOnce.Do(func() {
		// First, so that calls waiting for an actor return instead of
		// waiting for an answer a stopped actor never sends.
		r.Env.life.close()
		r.closeErr = r.Env.Device.Close()
		// Users' goroutines in the send path hold pool buffers until
		// their device write returns; let them finish. None starts now.
		r.Env.life.drainSends()
		// Let the actors handle what was already posted to them, so that
		// the packet buffers those messages carry come back to the pool
		// (protoactor drops the messages of a stopped actor unread). No
		// frame comes in any more; a stack that does not settle within a
		// second (a retransmission timer firing into the closed device)
		// is stopped anyway.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		WaitIdle(ctx, r)
		cancel()
		if err := r.system.Root.StopFuture(r.Env.PIDs.Stack).Wait(); err != nil {
			r.closeErr = errors.Join(r.closeErr, err)
		}
		// The tcp actor stopped the connection actors as it stopped;
		// they are not its children, so wait for them here.
		r.Env.TCPRoutes.waitConns(5 * time.Second)
		r.system.Shutdown()
		r.Env.Dispatcher.Close()
	})
	return r.closeErr
}

// validateIPv6 checks a static IPv6 configuration.
func validateIPv6(o IPv6Options) error {
	switch o.Mode {
	case IPv6Auto, IPv6Off:
		return nil
	case IPv6Static:
	default:
		return fmt.Errorf("actnet: unknown IPv6 mode %d", o.Mode)
	}
	a := o.Addr.Addr()
	switch {
	case !o.Addr.IsValid() || !a.Is6() || a.Is4In6():
		return fmt.Errorf("actnet: invalid static IPv6 address %v", o.Addr)
	case a.IsMulticast(), a.IsUnspecified(), a.IsLoopback():
		return fmt.Errorf("actnet: %v cannot be a static IPv6 address", a)
	case o.Addr.Bits() < 8 || o.Addr.Bits() > 128:
		return fmt.Errorf("actnet: static IPv6 prefix length /%d is not sane", o.Addr.Bits())
	case o.Gateway.IsValid() && (!o.Gateway.Is6() || o.Gateway.IsMulticast() || o.Gateway.IsUnspecified()):
		return fmt.Errorf("actnet: invalid IPv6 gateway %v", o.Gateway)
	}
	return nil
}

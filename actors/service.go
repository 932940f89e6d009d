package actors

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

// appWanted asks a service actor for an app actor for a new connection.
type appWanted struct {
	conn          *actor.PID
	local, remote netip.AddrPort
}

// serviceActor is the parent of the app actors of one Serve call: it spawns
// one per accepted connection and supervises them. An app that panics is
// stopped; its connection actor, which watches it, resets the connection.
// The listener and every other connection carry on.
type serviceActor struct {
	app *actor.Props
}

func (s *serviceActor) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*appWanted); ok {
		pid := ctx.Spawn(s.app)
		// Connected goes first, so the app hears of its connection before
		// any data the connection actor sends once it knows the app.
		ctx.Send(pid, &mailbox.Connected{Conn: m.conn, Local: m.local, Remote: m.remote})
		ctx.Send(m.conn, &attachApp{app: pid})
	}
}

// Service is one running Serve: a listening port whose connections each get
// an app actor.
type Service struct {
	run  *Running
	pid  *actor.PID
	port uint16
}

// Serve listens on port and spawns an app actor from props for every
// connection accepted, supervised so that an app's crash resets only its
// own connection.
func (r *Running) Serve(port uint16, props *actor.Props, cfg tcp.Config) (*Service, error) {
	c := newTCPCounters(r.Env.Counters)
	log := r.Env.Log
	strategy := supervisor.OneShotStrategy(func(child *actor.PID, reason any) {
		c.appCrashes.Inc()
		log.Warn().Uint16("port", port).Str("app", child.Id).Str("panic", fmt.Sprint(reason)).
			Msg("app actor crashed; its connection is reset, the service goes on")
	})
	app := props.Clone(actor.WithDispatcher(r.Env.Dispatcher))
	sprops := actor.PropsFromProducer(func() actor.Actor { return &serviceActor{app: app} },
		actor.WithSupervisor(strategy), actor.WithDispatcher(r.Env.Dispatcher))
	pid := r.system.Root.SpawnPrefix(sprops, fmt.Sprintf("service-%d", port))
	reply := make(chan error, 1)
	r.system.Root.Send(r.Env.PIDs.TCP, &ListenTCP{Port: port, Config: cfg, Service: pid, Reply: reply})
	if err := <-reply; err != nil {
		r.system.Root.Stop(pid)
		return nil, err
	}
	s := &Service{run: r, pid: pid, port: port}
	r.mu.Lock()
	r.services = append(r.services, s)
	r.mu.Unlock()
	return s, nil
}

// Stop closes the listening port and stops the service's app actors, which
// resets their connections.
func (s *Service) Stop() {
	s.run.system.Root.Send(s.run.Env.PIDs.TCP, &UnlistenTCP{Port: s.port})
	s.run.system.Root.StopFuture(s.pid).Wait()
}

// Port is the service's listening port.
func (s *Service) Port() uint16 { return s.port }

// stopServices stops every Serve of the stack, for Close.
func (r *Running) stopServices() {
	r.mu.Lock()
	services := r.services
	r.services = nil
	r.mu.Unlock()
	for _, s := range services {
		// An error here means the service had already stopped.
		_ = s.run.system.Root.StopFuture(s.pid).Wait()
	}
}

// The socket entry points of the root package.

// Listen opens a listening port for net.Listener users.
func (r *Running) Listen(port uint16, backlog int, cfg tcp.Config) (*AcceptQueue, error) {
	q := NewAcceptQueue(backlog)
	reply := make(chan error, 1)
	r.system.Root.Send(r.Env.PIDs.TCP, &ListenTCP{Port: port, Backlog: backlog, Config: cfg, Queue: q, Reply: reply})
	if err := <-reply; err != nil {
		return nil, err
	}
	return q, nil
}

// Unlisten closes a listening port.
func (r *Running) Unlisten(port uint16) {
	r.system.Root.Send(r.Env.PIDs.TCP, &UnlistenTCP{Port: port})
}

// Dial starts an active open to remote and returns its socket at once; the
// caller waits on Established or Done.
func (r *Running) Dial(local, remote netip.AddrPort, cfg tcp.Config) (*Socket, error) {
	sock := newSocket(r.system.Root, local, remote)
	reply := make(chan error, 1)
	r.system.Root.Send(r.Env.PIDs.TCP, &DialTCP{Socket: sock, Local: local, Config: cfg, Reply: reply})
	if err := <-reply; err != nil {
		return nil, err
	}
	return sock, nil
}

// Now reads the stack's clock.
func (r *Running) Now() time.Time { return r.Env.Clock.Now() }

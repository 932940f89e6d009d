package actors

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/tcp"
)

// Service is one running Serve: a listening port whose connections each get
// an app actor. The app actor is its connection actor's child: the
// connection actor spawns it once the handshake completes and supervises it
// (appStrategy), so an app's crash resets only its own connection, and the
// listener and every other connection carry on.
type Service struct {
	run  *Running
	port uint16
}

// Serve listens on port and spawns an app actor from props for every
// connection accepted.
func (r *Running) Serve(port uint16, props *actor.Props, cfg tcp.Config) (*Service, error) {
	// The app's Go type names it in connection logs. Spawning runs its
	// init functions in the spawner's goroutine, where the actor exists.
	name := new(atomic.Value)
	app := props.Clone(actor.WithDispatcher(r.Env.Dispatcher), actor.WithMailbox(newActorMailbox),
		actor.WithOnInit(func(ctx actor.Context) {
			if name.Load() == nil {
				name.Store(strings.TrimPrefix(fmt.Sprintf("%T", ctx.Actor()), "*"))
			}
		}))
	reply := make(chan error, 1)
	r.system.Root.Send(r.Env.PIDs.TCP, &ListenTCP{Port: port, Config: cfg, App: app, AppName: name, Reply: reply})
	if err := <-reply; err != nil {
		return nil, err
	}
	return &Service{run: r, port: port}, nil
}

// Stop closes the listening port and resets the connections it accepted,
// which stops their app actors. It returns once the port is closed.
func (s *Service) Stop() {
	done := make(chan error, 1)
	s.run.system.Root.Send(s.run.Env.PIDs.TCP, &UnlistenTCP{Port: s.port, Abort: true, Done: done})
	<-done
}

// Port is the service's listening port.
func (s *Service) Port() uint16 { return s.port }

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

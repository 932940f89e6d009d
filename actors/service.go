package actors

import (
	"fmt"
	"net"
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
	run     *Running
	port    uint16
	stopped atomic.Bool
}

// Serve listens on port (0 picks a free ephemeral one, see Port) and spawns
// an app actor from props for every connection accepted. It fails if the
// stack is closed or failed.
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
	port, err := r.listen(&ListenTCP{Port: port, Config: cfg, App: app, AppName: name})
	if err != nil {
		return nil, err
	}
	return &Service{run: r, port: port}, nil
}

// Stop closes the listening port and resets the connections it accepted,
// which stops their app actors. It returns once the port is closed, or at
// once when the stack is down (which closed the port with it). Stopping
// again returns net.ErrClosed and leaves the port alone: it may be another
// service's by now.
func (s *Service) Stop() error {
	if s.stopped.Swap(true) {
		return s.opError(net.ErrClosed)
	}
	life := &s.run.Env.life
	if err := life.err(); err != nil {
		return s.opError(err)
	}
	done := make(chan error, 1)
	s.run.system.Root.Send(s.run.Env.PIDs.TCP, &UnlistenTCP{Port: s.port, Abort: true, Done: done})
	if _, err := await(life, nil, done); err != nil {
		return s.opError(err)
	}
	return nil
}

func (s *Service) opError(err error) error {
	return &net.OpError{Op: "close", Net: "tcp", Addr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(s.run.Env.IPv4().Addr.Addr(), s.port)), Err: err}
}

// Port is the service's listening port.
func (s *Service) Port() uint16 { return s.port }

// The socket entry points of the root package.

// listen sends m to the tcp actor and waits for its answer or the stack's
// end; it returns the port listened on.
func (r *Running) listen(m *ListenTCP) (uint16, error) {
	life := &r.Env.life
	if err := life.err(); err != nil {
		return 0, err
	}
	reply := make(chan error, 1)
	m.Reply = reply
	r.system.Root.Send(r.Env.PIDs.TCP, m)
	err, down := await(life, nil, reply)
	if down != nil {
		return 0, down
	}
	if err != nil {
		return 0, err
	}
	// The tcp actor wrote the port it picked for port 0 before it
	// answered; the channel orders the two.
	return m.Port, nil
}

// Listen opens a listening port for net.Listener users; port 0 picks a
// free ephemeral port, which it returns.
func (r *Running) Listen(port uint16, backlog int, cfg tcp.Config) (*AcceptQueue, uint16, error) {
	q := NewAcceptQueue(backlog)
	port, err := r.listen(&ListenTCP{Port: port, Backlog: backlog, Config: cfg, Queue: q})
	if err != nil {
		return nil, 0, err
	}
	return q, port, nil
}

// Unlisten closes a listening port. It does not wait: a port closed late
// only refuses connections late, and the accept queue is closed already.
func (r *Running) Unlisten(port uint16) {
	r.system.Root.Send(r.Env.PIDs.TCP, &UnlistenTCP{Port: port})
}

// Dial starts an active open to remote and returns its socket at once; the
// caller waits on Established or Done (and Down: a stack that goes down
// does not always finish its sockets).
func (r *Running) Dial(local, remote netip.AddrPort, cfg tcp.Config) (*Socket, error) {
	life := &r.Env.life
	if err := life.err(); err != nil {
		return nil, err
	}
	sock := newSocket(r.Env, local, remote)
	reply := make(chan error, 1)
	r.system.Root.Send(r.Env.PIDs.TCP, &DialTCP{Socket: sock, Local: local, Config: cfg, Reply: reply})
	err, down := await(life, nil, reply)
	if down != nil {
		return nil, down
	}
	if err != nil {
		return nil, err
	}
	return sock, nil
}

// Now reads the stack's clock.
func (r *Running) Now() time.Time { return r.Env.Clock.Now() }

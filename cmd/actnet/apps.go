package main

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps"
)

// tcpApps are the TCP app kinds: one app actor per connection, under
// Stack.Serve's supervision.
var tcpApps = map[string]func() *actor.Props{
	"echo":    apps.Echo,
	"discard": apps.Discard,
	"source":  apps.Source,
	"crash":   apps.Crash,
}

// otherApps are app kinds that are not per-connection TCP actors; each
// starts its app and returns a function that stops it.
var otherApps = map[string]func(env appEnv, port uint16) (stop func(), err error){}

// appEnv is what an app of otherApps may use.
type appEnv struct {
	stack *actnet.Stack
	log   zerolog.Logger
	tls   *tlsFlags
}

// shutdownGrace is how long a stopping app lets requests in flight finish.
const shutdownGrace = 2 * time.Second

func init() {
	for kind := range tcpApps {
		availableApps[kind] = true
	}
}

// defaultApps is what serve runs when no --app is given: the seeds' echo
// server.
var defaultApps = appList{{Kind: "echo", Port: 9000}}

// startApps starts every app; on error it stops those already started.
func startApps(s *actnet.Stack, specs appList, log zerolog.Logger, tlsf *tlsFlags) (stop func(), err error) {
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	for _, a := range specs {
		switch {
		case tcpApps[a.Kind] != nil:
			svc, err := s.Serve(a.Port, tcpApps[a.Kind]())
			if err != nil {
				stopAll()
				return nil, fmt.Errorf("--app %s:%d: %w", a.Kind, a.Port, err)
			}
			stops = append(stops, func() { svc.Stop() })
		case otherApps[a.Kind] != nil:
			stop, err := otherApps[a.Kind](appEnv{stack: s, log: log, tls: tlsf}, a.Port)
			if err != nil {
				stopAll()
				return nil, fmt.Errorf("--app %s:%d: %w", a.Kind, a.Port, err)
			}
			stops = append(stops, stop)
		default:
			stopAll()
			return nil, fmt.Errorf("--app %s: not available in this build", a.Kind)
		}
		log.Info().Str("app", a.Kind).Uint16("port", a.Port).Msg("serving")
	}
	return stopAll, nil
}

package main

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps"
	"github.com/actnet/actnet/apps/udpecho"
)

// appKind is one kind of app the guest serves, as `actnet serve` does.
type appKind struct {
	transport string
	start     func(s *actnet.Stack, port uint16) (stop func(), err error)
}

// serveTCP starts a per-connection TCP app actor under Stack.Serve.
func serveTCP(props func() *actor.Props) func(*actnet.Stack, uint16) (func(), error) {
	return func(s *actnet.Stack, port uint16) (func(), error) {
		svc, err := s.Serve(port, props())
		if err != nil {
			return nil, err
		}
		return func() { svc.Stop() }, nil
	}
}

var appKinds = map[string]appKind{
	"echo":    {"tcp", serveTCP(apps.Echo)},
	"discard": {"tcp", serveTCP(apps.Discard)},
	"source":  {"tcp", serveTCP(apps.Source)},
	"crash":   {"tcp", serveTCP(apps.Crash)},
	"udp-echo": {"udp", func(s *actnet.Stack, port uint16) (func(), error) {
		c, err := s.ListenUDP(netip.AddrPortFrom(netip.Addr{}, port))
		if err != nil {
			return nil, err
		}
		srv := udpecho.Serve(c)
		return func() { srv.Close() }, nil
	}},
}

func appKindNames() []string {
	var names []string
	for k := range appKinds {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// startApps starts every app; on error it stops those already started.
func startApps(s *actnet.Stack, specs []appSpec, log zerolog.Logger) (stop func(), err error) {
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	for _, a := range specs {
		stop, err := appKinds[a.kind].start(s, a.port)
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("--app %s:%d: %w", a.kind, a.port, err)
		}
		stops = append(stops, stop)
		log.Info().Str("app", a.kind).Uint16("port", a.port).Msg("serving")
	}
	return stopAll, nil
}

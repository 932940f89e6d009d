package actors

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// IPv4Config is the stack's IPv4 configuration at one moment. It is
// immutable: a change (DHCP binding, renewing with another address, a
// lease ending) publishes a new one (Running.SetIPv4), and readers load
// the pointer once per packet or batch, so the hot path takes no lock and
// sees one consistent address, prefix and gateway.
type IPv4Config struct {
	// Addr is the stack's address and its on-link prefix; the zero
	// Prefix while the stack has none (a stack started for DHCP, or one
	// whose lease ended).
	Addr netip.Prefix
	// Gateway is the default router; invalid when there is none.
	Gateway netip.Addr
}

// HasAddr reports whether the stack holds an IPv4 address.
func (c IPv4Config) HasAddr() bool { return c.Addr.IsValid() }

// noIPv4 is the configuration of a stack without an IPv4 address.
var noIPv4 = &IPv4Config{}

// IPv4 returns the stack's current IPv4 configuration (never nil).
func (e *Env) IPv4() *IPv4Config {
	if c := e.ipv4.Load(); c != nil {
		return c
	}
	return noIPv4
}

// ipv4Changes wakes the callers of WaitIPv4 at each change.
type ipv4Changes struct {
	mu sync.Mutex
	ch chan struct{}
}

func (w *ipv4Changes) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

func (w *ipv4Changes) signal() {
	w.mu.Lock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
	w.mu.Unlock()
}

// validIPv4 checks an IPv4 address with its prefix; the zero Prefix is
// valid and means none.
func validIPv4(p netip.Prefix, gw netip.Addr) error {
	if p == (netip.Prefix{}) {
		if gw.IsValid() {
			return fmt.Errorf("actnet: IPv4 gateway %v without an address", gw)
		}
		return nil
	}
	a := p.Addr()
	switch {
	case !p.IsValid() || !a.Is4():
		return fmt.Errorf("actnet: invalid IPv4 address %v", p)
	case a.IsUnspecified(), a.IsMulticast(), a == limitedBroadcast, a.IsLoopback():
		return fmt.Errorf("actnet: %v cannot be the stack's IPv4 address", a)
	case gw.IsValid() && (!gw.Is4() || gw.IsUnspecified() || gw.IsMulticast()):
		return fmt.Errorf("actnet: invalid IPv4 gateway %v", gw)
	}
	return nil
}

// SetIPv4 replaces the stack's IPv4 address and gateway at run time; the
// zero Prefix removes the address. A new address is announced with
// gratuitous ARP (RFC 5227 §2.3). When the address changes or goes, the
// TCP connections on the old one end with tcp.ErrAddrRemoved: their peer can
// no longer reach them, so they fail now with a clear reason instead of
// timing out later. The UDP sockets bound to it, or connected from it, are
// closed and their ports freed (ErrUDPAddrRemoved): nothing can reach them
// and nothing may be sent from it (RFC 1122 §3.2.1.3: a host's source
// address must be one of its own).
func (r *Running) SetIPv4(addr netip.Prefix, gateway netip.Addr) error {
	if err := validIPv4(addr, gateway); err != nil {
		return err
	}
	env := r.Env
	env.ipv4Mu.Lock()
	defer env.ipv4Mu.Unlock()
	old := env.IPv4()
	env.ipv4.Store(&IPv4Config{Addr: addr, Gateway: gateway})
	oldAddr, newAddr := old.Addr.Addr(), addr.Addr()
	if old.HasAddr() && oldAddr != newAddr {
		env.Log.Info().Str("addr", oldAddr.String()).Msg("ipv4: address removed")
		env.send(env.PIDs.TCP, &localAddrRemoved{addr: oldAddr})
		env.send(env.PIDs.UDP, &localAddrRemoved{addr: oldAddr})
	}
	if addr.IsValid() && oldAddr != newAddr {
		env.Log.Info().Str("addr", addr.String()).Str("gateway", gateway.String()).Msg("ipv4: address set")
		env.send(env.PIDs.ARP, &announceAddress{remaining: announceNum})
	}
	env.ipv4Changed.signal()
	return nil
}

// IPv4 returns the stack's current IPv4 configuration.
func (r *Running) IPv4() IPv4Config { return *r.Env.IPv4() }

// WaitIPv4 waits until the stack has an IPv4 address and returns it with
// its prefix, or returns ctx's error, or the stack's when it goes down.
func (r *Running) WaitIPv4(ctx context.Context) (netip.Prefix, error) {
	for {
		ch := r.Env.ipv4Changed.wait()
		if c := r.Env.IPv4(); c.HasAddr() {
			return c.Addr, nil
		}
		if _, err := await(&r.Env.life, ctx, ch); err != nil {
			return netip.Prefix{}, err
		}
	}
}

// localAddrRemoved tells the tcp actor, and through it each connection on
// addr, and the udp actor that the stack no longer holds addr.
type localAddrRemoved struct{ addr netip.Addr }

// AwaitNeighbor4 waits until addr's MAC is in the published neighbour
// cache, or ctx ends, and reports which. A packet queued for addr (the
// DHCPRELEASE a closing stack sends its server) has left by then: the arp
// actor sends what waited before it publishes the answer.
func (r *Running) AwaitNeighbor4(ctx context.Context, addr netip.Addr) bool {
	for {
		if m := r.Env.Neighbors4.Load(); m != nil {
			if _, ok := (*m)[addr]; ok {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
}

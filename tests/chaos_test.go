package tests

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/faultinject"
	"github.com/actnet/actnet/internal/testhook"
	"github.com/actnet/actnet/layers/tcp"
)

// chaosSeed is the seed of a chaos test: ACTNET_CHAOS_SEED when set (to
// replay a failure), else a fixed one. It is logged, so a failure says
// how to reproduce it.
func chaosSeed(t *testing.T, fixed uint64) uint64 {
	t.Helper()
	seed := fixed
	if s := os.Getenv("ACTNET_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("ACTNET_CHAOS_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with ACTNET_CHAOS_SEED=%d)", seed, seed)
	return seed
}

// echoTransfer is one connection of a chaos load: it writes size bytes of
// seeded pseudo-random data through an echo server and reads them back,
// hashing both directions with SHA-256.
type echoTransfer struct {
	conn      net.Conn
	size      int
	seed      uint64
	trigger   int    // once this much came back, kill is called (0: never)
	kill      func() // the chaos done to this connection
	sentSum   [32]byte
	gotSum    [32]byte
	got       int
	readErr   error
	writeErr  error
	closeErr  error
	triggered bool
}

// run does the transfer; it returns when both directions ended.
func (x *echoTransfer) run() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(x.seed, x.seed^0x9e3779b97f4a7c15))
		h := sha256.New()
		buf := make([]byte, 32<<10)
		for sent := 0; sent < x.size; {
			n := min(len(buf), x.size-sent)
			for i := 0; i < n; i += 8 {
				binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
			}
			h.Write(buf[:n])
			if _, err := x.conn.Write(buf[:n]); err != nil {
				x.writeErr = err
				return
			}
			sent += n
		}
		copy(x.sentSum[:], h.Sum(nil))
		x.closeErr = x.conn.(*actnet.Conn).CloseWrite()
	}()
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for {
		n, err := x.conn.Read(buf)
		h.Write(buf[:n])
		x.got += n
		if x.kill != nil && !x.triggered && x.got >= x.trigger {
			x.triggered = true
			x.kill()
		}
		if err != nil {
			if err != io.EOF {
				x.readErr = err
			}
			break
		}
	}
	copy(x.gotSum[:], h.Sum(nil))
	if x.readErr != nil {
		// The write side may be blocked on a window that never opens
		// again; closing the socket ends it.
		x.conn.Close()
	}
	wg.Wait()
	x.conn.Close()
}

// intact reports what is wrong with a transfer that should have completed.
func (x *echoTransfer) intact() error {
	switch {
	case x.writeErr != nil:
		return fmt.Errorf("write: %w", x.writeErr)
	case x.closeErr != nil:
		return fmt.Errorf("close write: %w", x.closeErr)
	case x.readErr != nil:
		return fmt.Errorf("read after %d bytes: %w", x.got, x.readErr)
	case x.got != x.size:
		return fmt.Errorf("%d bytes came back, want %d", x.got, x.size)
	case x.gotSum != x.sentSum:
		return fmt.Errorf("SHA-256 of the echo %x, of the data sent %x", x.gotSum[:8], x.sentSum[:8])
	}
	return nil
}

// chaosApps registers, by the client's port, the app actor and the
// connection actor of every connection a chaos echo service accepts.
type chaosApps struct {
	mu    sync.Mutex
	ready map[uint16]chan chaosAppPIDs
}

type chaosAppPIDs struct{ app, conn *actor.PID }

func (r *chaosApps) slot(port uint16) chan chaosAppPIDs {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready == nil {
		r.ready = make(map[uint16]chan chaosAppPIDs)
	}
	ch, ok := r.ready[port]
	if !ok {
		ch = make(chan chaosAppPIDs, 1)
		r.ready[port] = ch
	}
	return ch
}

// lookup waits for the app of the connection from port.
func (r *chaosApps) lookup(port uint16) (chaosAppPIDs, error) {
	select {
	case p := <-r.slot(port):
		return p, nil
	case <-time.After(time.Minute):
		return chaosAppPIDs{}, fmt.Errorf("no app registered for port %d", port)
	}
}

// panicApp is the test-only command a chaos echo app panics on.
type panicApp struct{}

// props returns the production echo app with a receiver middleware that
// registers it and panics on panicApp: test-only, nothing added to apps.
func (r *chaosApps) props() *actor.Props {
	return apps.Echo().Configure(actor.WithReceiverMiddleware(func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			switch m := env.Message.(type) {
			case *panicApp:
				panic("chaos: app told to panic")
			case *actnet.Connected:
				r.slot(m.Remote.Port()) <- chaosAppPIDs{app: c.Self(), conn: m.Conn.(*actor.PID)}
			}
			next(c, env)
		}
	}))
}

// Under load, random connection actors and app actors are made to panic or
// are stopped: each victim's user sees its connection fail, every other
// connection completes with its data intact, the crashes are counted, and
// the service goes on accepting.
func TestChaosKillConnectionsAndApps(t *testing.T) {
	seed := chaosSeed(t, 20261124)
	rng := rand.New(rand.NewPCG(seed, 1))
	const conns = 20
	size := 3 << 20
	if raceEnabled || testing.Short() {
		size = 1 << 20
	}
	quietLogs(t)
	a, b, _, _ := pair(t, device.MemoryConfig{})
	var reg chaosApps
	svc, err := b.Serve(7, reg.props())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	rootB := testhook.Running(b).Env.System.Root

	// Six victims, by seed: two of each kind (on the client, a connection
	// actor panics; on the server, the app panics, the app is stopped, or
	// the connection actor is stopped).
	const (
		alive = iota
		clientConnPanic
		appPanic
		appStop
		serverConnStop
	)
	kinds := make([]int, conns)
	for i, k := range rng.Perm(conns)[:8] {
		kinds[k] = 1 + i%4
	}
	xs := make([]*echoTransfer, conns)
	for i := range xs {
		c, err := a.Dial("tcp", "10.0.0.2:7")
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		// A hang fails instead of blocking the run; the bound is for a hang,
		// not for speed: on a loaded 2-core machine under -race the 20
		// transfers took over 30 s (CI run of 2026-11-28).
		c.SetDeadline(time.Now().Add(3 * time.Minute))
		x := &echoTransfer{conn: c, size: size, seed: rng.Uint64()}
		xs[i] = x
		if kinds[i] == alive {
			continue
		}
		x.trigger = size/10 + rng.IntN(size/4)
		port := c.LocalAddr().(*net.TCPAddr).AddrPort().Port()
		pids, err := reg.lookup(port)
		if err != nil {
			t.Fatal(err)
		}
		switch kinds[i] {
		case clientConnPanic:
			sock := testhook.Socket(c)
			x.kill = func() { sock.Configure(func(time.Time, *tcp.Conn) { panic("chaos: connection told to panic") }) }
		case appPanic:
			x.kill = func() { rootB.Send(pids.app, &panicApp{}) }
		case appStop:
			x.kill = func() { rootB.Stop(pids.app) }
		case serverConnStop:
			x.kill = func() { rootB.Stop(pids.conn) }
		}
	}
	var wg sync.WaitGroup
	for _, x := range xs {
		wg.Add(1)
		go func() { defer wg.Done(); x.run() }()
	}
	wg.Wait()

	names := []string{"", "client connection actor panicked", "app panicked", "app stopped", "server connection actor stopped"}
	for i, x := range xs {
		if kinds[i] == alive {
			if err := x.intact(); err != nil {
				t.Errorf("connection %d (no chaos): %v", i, err)
			}
			continue
		}
		if !x.triggered {
			t.Errorf("connection %d (%s): ended after %d bytes, before its chaos at %d", i, names[kinds[i]], x.got, x.trigger)
			continue
		}
		switch {
		case x.readErr == nil:
			t.Errorf("connection %d (%s): read ended cleanly after %d bytes, want an error", i, names[kinds[i]], x.got)
		case kinds[i] != clientConnPanic && !errors.Is(x.readErr, syscall.ECONNRESET):
			t.Errorf("connection %d (%s): read: %v, want connection reset", i, names[kinds[i]], x.readErr)
		default:
			t.Logf("connection %d (%s at %d bytes): %v", i, names[kinds[i]], x.trigger, x.readErr)
		}
	}
	waitIdle(t, a, b)
	sa, sb := a.Stats(), b.Stats()
	if got := sa.TCP.ConnCrashes; got != 2 {
		t.Errorf("client connection actor crashes: %d, want 2", got)
	}
	if got := sb.TCP.AppCrashes; got != 2 {
		t.Errorf("server app crashes: %d, want 2", got)
	}
	if got := sb.TCP.ConnCrashes; got != 0 {
		t.Errorf("server connection actor crashes: %d, want 0 (its actors were stopped, not crashed)", got)
	}
	if got := sb.TCP.AppGone; got < 2 {
		t.Errorf("server connections reset for an app that stopped without closing: %d, want at least 2", got)
	}
	// The service and the stacks go on.
	c, err := a.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		t.Fatalf("dial after the chaos: %v", err)
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	x := &echoTransfer{conn: c, size: 64 << 10, seed: seed}
	x.run()
	if err := x.intact(); err != nil {
		t.Errorf("connection after the chaos: %v", err)
	}
	for _, s := range []*actnet.Stack{a, b} {
		select {
		case <-s.Failed():
			t.Errorf("stack %v failed: %v", s.Addr(), s.Err())
		default:
		}
	}
}

// packetChaos panics in layer actors on a seeded pseudo-random share of
// packets, at most once per distinct packet (so a retransmission gets
// through) and at most max times per layer (under the layers' crash
// budget), and counts what it did.
type packetChaos struct {
	seed    uint64
	permil  uint64
	max     int
	mu      sync.Mutex
	hit     map[uint64]bool
	injured map[string]int
}

func (p *packetChaos) fault(layer string, packet []byte) {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], p.seed)
	h.Write(b[:])
	h.Write([]byte(layer))
	h.Write(packet)
	sum := h.Sum64()
	if sum%1000 >= p.permil {
		return
	}
	p.mu.Lock()
	if p.hit[sum] || p.injured[layer] >= p.max {
		p.mu.Unlock()
		return
	}
	p.hit[sum] = true
	p.injured[layer]++
	p.mu.Unlock()
	panic("chaos: injected packet fault in " + layer)
}

// Layer actors panic on random packets while bulk transfers run: each
// panic drops its packet and is counted, TCP retransmits what was lost,
// every connection completes with its data intact, and no layer spends its
// crash budget (the stacks do not fail).
func TestChaosLayerPanics(t *testing.T) {
	seed := chaosSeed(t, 97)
	rng := rand.New(rand.NewPCG(seed, 2))
	// Whether a packet is hit is a function of the seed and its bytes.
	chaos := &packetChaos{seed: seed, permil: 4, max: 40, hit: map[uint64]bool{}, injured: map[string]int{}}
	quietLogs(t)
	a, b, _, _ := pair(t, device.MemoryConfig{})
	svc, err := b.Serve(7, apps.Echo())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	udp, err := b.ListenUDP(netip.MustParseAddrPort("10.0.0.2:9"))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	// The stacks know each other before the faults start.
	if _, err := ping(a, addrB.Addr(), 56, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	defer faultinject.SetPacketFault(chaos.fault)()

	const conns = 8
	size := 4 << 20
	if raceEnabled || testing.Short() {
		size = 1 << 20
	}
	xs := make([]*echoTransfer, conns)
	for i := range xs {
		var c net.Conn
		// A dropped SYN or SYN-ACK is retransmitted; a dial times out
		// only if the handshake is lost for good.
		c, err = a.Dial("tcp", "10.0.0.2:7")
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Minute))
		xs[i] = &echoTransfer{conn: c, size: size, seed: rng.Uint64()}
	}
	var wg sync.WaitGroup
	for _, x := range xs {
		wg.Add(1)
		go func() { defer wg.Done(); x.run() }()
	}
	wg.Wait()
	faultinject.SetPacketFault(nil)
	for i, x := range xs {
		if err := x.intact(); err != nil {
			t.Errorf("connection %d: %v", i, err)
		}
	}
	waitIdle(t, a, b)
	for _, s := range []*actnet.Stack{a, b} {
		select {
		case <-s.Failed():
			t.Fatalf("stack %v failed: %v", s.Addr(), s.Err())
		default:
		}
	}
	chaos.mu.Lock()
	injured := chaos.injured
	chaos.mu.Unlock()
	sa, sb := a.Stats(), b.Stats()
	counted := map[string]uint64{
		"ethernet": sa.Ethernet.HandlerCrashes + sb.Ethernet.HandlerCrashes,
		"arp":      sa.ARP.HandlerCrashes + sb.ARP.HandlerCrashes,
		"ipv4":     sa.IPv4.HandlerCrashes + sb.IPv4.HandlerCrashes,
		"udp":      sa.UDP.HandlerCrashes + sb.UDP.HandlerCrashes,
		"tcp":      sa.TCP.HandlerCrashes + sb.TCP.HandlerCrashes,
	}
	total := 0
	for layer, n := range injured {
		total += n
		if counted[layer] != uint64(n) {
			t.Errorf("%s: %d panics injected, %d counted", layer, n, counted[layer])
		}
	}
	for layer, n := range counted {
		if _, ok := injured[layer]; !ok && n != 0 {
			t.Errorf("%s: no panic injected, %d counted", layer, n)
		}
	}
	if injured["ethernet"] == 0 || injured["ipv4"] == 0 {
		t.Errorf("too few packets hit: %v", injured)
	}
	t.Logf("panics injected: %v (total %d); retransmitted: %d + %d segments", injured, total,
		sa.TCP.Retransmits, sb.TCP.Retransmits)
}

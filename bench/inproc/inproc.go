// Package inproc compares two actnet stacks joined by actnet's memory link
// with two gVisor netstacks joined by channel endpoints, in one process:
// the cost of each stack alone, with no tap and no kernel in the path. Its
// benchmarks are in inproc_test.go; the runner runs the compiled test
// binary and puts the result in the table beside the tap loads.
package inproc

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/rs/zerolog"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/bench/internal/gvstack"
	"github.com/actnet/actnet/device"
)

var (
	clientAddr = netip.MustParsePrefix("10.0.0.1/24")
	serverAddr = netip.MustParsePrefix("10.0.0.2/24")
)

// Pair is two stacks on one link: a client that dials and a server that
// listens.
type Pair interface {
	Listen(port uint16) (net.Listener, error)
	Dial(ctx context.Context, port uint16) (net.Conn, error)
	Close()
}

// NewActnet returns two actnet stacks over a memory link with default
// settings. The stacks log warnings to standard error.
func NewActnet() (Pair, error) {
	a, b := device.NewMemoryPair(device.MemoryConfig{})
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	client, err := actnet.New(actnet.Config{Device: a, IPv4: clientAddr, Logger: &log})
	if err != nil {
		b.Close()
		return nil, err
	}
	server, err := actnet.New(actnet.Config{Device: b, IPv4: serverAddr, Logger: &log})
	if err != nil {
		client.Close()
		return nil, err
	}
	return &actnetPair{client: client, server: server}, nil
}

type actnetPair struct{ client, server *actnet.Stack }

func (p *actnetPair) Listen(port uint16) (net.Listener, error) {
	return p.server.Listen("tcp", fmt.Sprintf(":%d", port))
}

func (p *actnetPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return p.client.DialTCP(ctx, netip.AddrPortFrom(serverAddr.Addr(), port))
}

func (p *actnetPair) Close() {
	p.client.Close()
	p.server.Close()
}

// ringSize matches device.DefaultRingSize, the memory link's ring, so both
// links queue as many frames before dropping.
const ringSize = device.DefaultRingSize

// NewGVisor returns two gVisor stacks, each on an Ethernet endpoint over a
// channel endpoint, with one goroutine per direction moving frames from
// one channel's outbound queue into the other's inbound path: the same
// shape as actnet's memory link (Ethernet frames, ARP, a reader per end).
func NewGVisor() (Pair, error) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &gvisorPair{cancel: cancel}
	ca := channel.New(ringSize, 1500+14, tcpip.LinkAddress("\x02\x00\x00\x00\x00\x01"))
	cb := channel.New(ringSize, 1500+14, tcpip.LinkAddress("\x02\x00\x00\x00\x00\x02"))
	var err error
	if p.client, err = gvstack.New(ethernet.New(ca), clientAddr); err != nil {
		cancel()
		return nil, err
	}
	if p.server, err = gvstack.New(ethernet.New(cb), serverAddr); err != nil {
		cancel()
		p.client.Close()
		return nil, err
	}
	p.done = make(chan struct{}, 2)
	go p.pump(ctx, ca, cb)
	go p.pump(ctx, cb, ca)
	return p, nil
}

type gvisorPair struct {
	client, server *stack.Stack
	cancel         context.CancelFunc
	done           chan struct{}
}

// pump delivers every frame from's stack sends to to's stack. Each frame
// gets a fresh inbound packet buffer sharing the outbound one's bytes, as
// gVisor's own pipe link does.
func (p *gvisorPair) pump(ctx context.Context, from, to *channel.Endpoint) {
	defer func() { p.done <- struct{}{} }()
	for {
		pkt := from.ReadContext(ctx)
		if pkt == nil {
			return
		}
		in := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: pkt.ToBuffer()})
		pkt.DecRef()
		to.InjectInbound(0, in) // the Ethernet endpoint reads the EtherType itself
		in.DecRef()
	}
}

func (p *gvisorPair) Listen(port uint16) (net.Listener, error) {
	return gonet.ListenTCP(p.server, gvstack.FullAddress(serverAddr.Addr(), port), ipv4.ProtocolNumber)
}

func (p *gvisorPair) Dial(ctx context.Context, port uint16) (net.Conn, error) {
	return gonet.DialContextTCP(ctx, p.client, gvstack.FullAddress(serverAddr.Addr(), port), ipv4.ProtocolNumber)
}

func (p *gvisorPair) Close() {
	p.cancel()
	<-p.done
	<-p.done
	p.client.Close()
	p.server.Close()
	p.client.Wait()
	p.server.Wait()
}

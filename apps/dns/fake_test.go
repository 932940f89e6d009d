package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeNet is a Network whose servers are the test: every query sent, over
// UDP or TCP, arrives on sent, and the test answers it (or not) with
// sentQuery.reply or deliver.
type fakeNet struct {
	t    *testing.T
	sent chan *sentQuery
	// local is the stack address the fake sockets have.
	local netip.Addr
}

func newFakeNet(t *testing.T) *fakeNet {
	return &fakeNet{t: t, sent: make(chan *sentQuery, 16), local: netip.MustParseAddr("10.0.0.2")}
}

// sentQuery is one query as it left the resolver.
type sentQuery struct {
	to  netip.AddrPort
	msg []byte
	pc  *fakePC  // UDP
	tcp net.Conn // TCP: the server's end
}

// next waits for the next query.
func (f *fakeNet) next() *sentQuery {
	f.t.Helper()
	return <-f.sent
}

func (q *sentQuery) message(t *testing.T) *dnsmessage.Message {
	t.Helper()
	var m dnsmessage.Message
	if err := m.Unpack(q.msg); err != nil {
		t.Fatalf("query does not parse: %v", err)
	}
	return &m
}

// reply answers from the address the query went to.
func (q *sentQuery) reply(b []byte) {
	if q.tcp != nil {
		out := make([]byte, 2+len(b))
		binary.BigEndian.PutUint16(out, uint16(len(b)))
		copy(out[2:], b)
		go func() { q.tcp.Write(out); q.tcp.Close() }()
		return
	}
	q.pc.deliver(q.to, b)
}

func (f *fakeNet) ListenPacket(network, address string) (net.PacketConn, error) {
	_, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := net.LookupPort("udp", portText)
	if err != nil {
		return nil, err
	}
	pc := &fakePC{f: f, local: netip.AddrPortFrom(f.local, uint16(port)), inbox: make(chan datagram, 16), closed: make(chan struct{})}
	pc.cond = sync.NewCond(&pc.mu)
	return pc, nil
}

func (f *fakeNet) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	to, err := netip.ParseAddrPort(address)
	if err != nil || network != "tcp" {
		return nil, errors.New("fake: bad dial")
	}
	client, server := net.Pipe()
	go func() {
		var l [2]byte
		if _, err := io.ReadFull(server, l[:]); err != nil {
			server.Close()
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(server, msg); err != nil {
			server.Close()
			return
		}
		f.sent <- &sentQuery{to: to, msg: msg, tcp: server}
	}()
	return client, nil
}

type datagram struct {
	from netip.AddrPort
	b    []byte
}

// fakePC is a UDP socket of fakeNet.
type fakePC struct {
	f      *fakeNet
	local  netip.AddrPort
	inbox  chan datagram
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	cond  *sync.Cond
	reads int // ReadFrom calls so far
}

func (c *fakePC) deliver(from netip.AddrPort, b []byte) { c.inbox <- datagram{from, b} }

// waitReads waits until ReadFrom has been called n times: the reader has
// handled every datagram before the last call.
func (c *fakePC) waitReads(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.reads < n {
		c.cond.Wait()
	}
}

func (c *fakePC) ReadFrom(b []byte) (int, net.Addr, error) {
	c.mu.Lock()
	c.reads++
	c.cond.Broadcast()
	c.mu.Unlock()
	select {
	case d := <-c.inbox:
		return copy(b, d.b), net.UDPAddrFromAddrPort(d.from), nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *fakePC) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	to := addr.(*net.UDPAddr).AddrPort()
	c.f.sent <- &sentQuery{to: to, msg: append([]byte(nil), b...), pc: c}
	return len(b), nil
}

func (c *fakePC) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakePC) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.local) }

// The resolver times tries with its clock, never with socket deadlines.
func (c *fakePC) SetDeadline(time.Time) error      { return nil }
func (c *fakePC) SetReadDeadline(time.Time) error  { return nil }
func (c *fakePC) SetWriteDeadline(time.Time) error { return nil }

package actors

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/icmpv6"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/ipv6"
	"github.com/actnet/actnet/mailbox"
)

// pingWaiters matches ICMP echo replies to the Ping calls waiting for them.
type pingWaiters struct {
	mu      sync.Mutex
	nextSeq uint16
	waiting map[uint16]chan time.Time
}

// register reserves a sequence number and the channel its reply arrives on.
func (w *pingWaiters) register() (uint16, chan time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == nil {
		w.waiting = make(map[uint16]chan time.Time)
	}
	for {
		w.nextSeq++
		if _, busy := w.waiting[w.nextSeq]; !busy {
			break
		}
	}
	ch := make(chan time.Time, 1)
	w.waiting[w.nextSeq] = ch
	return w.nextSeq, ch
}

func (w *pingWaiters) forget(seq uint16) {
	w.mu.Lock()
	delete(w.waiting, seq)
	w.mu.Unlock()
}

// deliver wakes the caller waiting for seq; it reports whether one was.
func (w *pingWaiters) deliver(seq uint16, at time.Time) bool {
	w.mu.Lock()
	ch, ok := w.waiting[seq]
	delete(w.waiting, seq)
	w.mu.Unlock()
	if ok {
		ch <- at
	}
	return ok
}

// pingID is the ICMP identifier of the stack's own echo requests.
const pingID = 0xac7e

// Ping sends one ICMP echo request of size data bytes to dst and waits for
// the reply or ctx's end. It returns the round-trip time.
func (r *Running) Ping(ctx context.Context, dst netip.Addr, size int) (time.Duration, error) {
	dst = dst.Unmap()
	if dst.Is6() {
		return r.ping6(ctx, dst.WithZone(""), size)
	}
	if !dst.Is4() {
		return 0, errors.New("actnet: ping needs an IP address")
	}
	if size < 0 || icmpv4.HeaderLen+size > MaxIPv4Payload {
		return 0, ErrTooBig
	}
	seq, ch := r.Env.pings.register()
	defer r.Env.pings.forget(seq)
	sent, err := r.sendEcho(dst, seq, size)
	if err != nil {
		return 0, err
	}
	at, err := await(&r.Env.life, ctx, ch)
	if err != nil {
		return 0, err
	}
	return at.Sub(sent), nil
}

// sendEcho sends echo request seq with size bytes of data to dst and
// returns when it left. Close waits for it: it holds a buffer of the
// stack's pool until the device write returns.
func (r *Running) sendEcho(dst netip.Addr, seq uint16, size int) (time.Time, error) {
	if err := r.Env.life.enterSend(); err != nil {
		return time.Time{}, err
	}
	defer r.Env.life.leaveSend()
	buf := r.Output.Buffer(icmpv4.HeaderLen + size)
	data := buf.B[mailbox.Headroom+icmpv4.HeaderLen : mailbox.Headroom+icmpv4.HeaderLen+size]
	for i := range data {
		data[i] = byte(i)
	}
	// The data already sits where EmitEcho copies it to; copy is a memmove.
	n := icmpv4.EmitEcho(buf.B[mailbox.Headroom:], icmpv4.TypeEchoRequest, pingID, seq, data)
	sent := r.Env.Clock.Now()
	return sent, r.Output.Send(buf, n, NetSend{Dst: dst, Protocol: ipv4.ProtocolICMP})
}

// ping6 is Ping over ICMPv6 (RFC 4443 §4.1).
func (r *Running) ping6(ctx context.Context, dst netip.Addr, size int) (time.Duration, error) {
	out := r.Output6
	if out == nil {
		return 0, ErrNoIPv6
	}
	if size < 0 || icmpv6.HeaderLen+size > MaxIPv6Payload {
		return 0, ErrTooBig
	}
	if err := r.Env.life.err(); err != nil {
		return 0, err
	}
	src, ok := out.LocalAddr(dst)
	if !ok {
		return 0, ErrNoRoute
	}
	seq, ch := r.Env.pings.register()
	defer r.Env.pings.forget(seq)
	sent, err := r.sendEcho6(out, src, dst, seq, size)
	if err != nil {
		return 0, err
	}
	at, err := await(&r.Env.life, ctx, ch)
	if err != nil {
		return 0, err
	}
	return at.Sub(sent), nil
}

// sendEcho6 is sendEcho over ICMPv6; Close waits for it likewise.
func (r *Running) sendEcho6(out *IPv6Output, src, dst netip.Addr, seq uint16, size int) (time.Time, error) {
	if err := r.Env.life.enterSend(); err != nil {
		return time.Time{}, err
	}
	defer r.Env.life.leaveSend()
	buf := out.Buffer(icmpv6.HeaderLen + size)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	n := icmpv6.EmitEcho(buf.B[mailbox.Headroom:], icmpv6.TypeEchoRequest, pingID, seq, data, src, dst)
	sent := r.Env.Clock.Now()
	return sent, out.Send(buf, n, NetSend{Dst: dst, Src: src, Protocol: ipv6.ProtoICMPv6})
}

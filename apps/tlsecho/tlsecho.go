// Package tlsecho is the echo service (RFC 862) inside TLS (`actnet serve
// --app tls-echo:PORT`): every byte a client sends over its TLS session
// comes back over it. It is the simplest end-to-end check of a TLS stack
// (`openssl s_client`, `ncat --ssl`). It serves any net.Listener, actnet's
// included; the handshake, the idle time and a stalled write are each
// bounded, so a silent or hostile client cannot hold a goroutine forever,
// and failed handshakes are counted.
package tlsecho

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The bounds on one connection: the TLS handshake must finish within
// HandshakeTimeout, a client that sends nothing for IdleTimeout is closed,
// and a write that makes no progress for WriteStall (a client that does
// not read its echo) closes the connection.
const (
	HandshakeTimeout = 10 * time.Second
	IdleTimeout      = 2 * time.Minute
	WriteStall       = 30 * time.Second
)

// Stats are the server's counters.
type Stats struct {
	Accepted          uint64 // connections accepted
	HandshakeFailures uint64 // connections closed because their handshake failed or timed out
	Sessions          uint64 // handshakes completed
	BytesEchoed       uint64 // plaintext bytes sent back
}

// Server is a running tls-echo service.
type Server struct {
	l   net.Listener
	cfg *tls.Config

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted, failed, sessions, echoed atomic.Uint64
}

// Serve starts echoing on l, each accepted connection a TLS server
// connection with cfg, until Close.
func Serve(l net.Listener, cfg *tls.Config) *Server {
	s := &Server{l: l, cfg: cfg, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s
}

// Addr is the listener's address.
func (s *Server) Addr() net.Addr { return s.l.Addr() }

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{Accepted: s.accepted.Load(), HandshakeFailures: s.failed.Load(),
		Sessions: s.sessions.Load(), BytesEchoed: s.echoed.Load()}
}

// Close stops accepting, closes every connection and waits until their
// goroutines have ended.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.l.Close()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return // closed: the listener's or the stack's end
		}
		s.accepted.Add(1)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.echo(c)
	}
}

// echo runs one connection: the handshake, then reads answered by writes
// of the same bytes until the client closes, idles or stalls.
func (s *Server) echo(raw net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, raw)
		s.mu.Unlock()
		raw.Close()
	}()
	c := tls.Server(raw, s.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), HandshakeTimeout)
	err := c.HandshakeContext(ctx)
	cancel()
	if err != nil {
		s.failed.Add(1)
		return
	}
	s.sessions.Add(1)
	buf := make([]byte, 16<<10)
	for {
		c.SetReadDeadline(time.Now().Add(IdleTimeout))
		n, err := c.Read(buf)
		if n > 0 {
			c.SetWriteDeadline(time.Now().Add(WriteStall))
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
			s.echoed.Add(uint64(n))
		}
		if err != nil {
			// EOF: the client closed its side; answer with close_notify
			// and our FIN (Close does both).
			c.Close()
			return
		}
	}
}

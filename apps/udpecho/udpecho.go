// Package udpecho is the UDP echo service (RFC 862, "UDP Based Echo
// Service"): every datagram received is sent back to its sender, whole. It
// runs on any net.PacketConn, an actnet UDPConn or a kernel socket alike.
package udpecho

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// Server echoes datagrams on one PacketConn until Close.
type Server struct {
	conn   net.PacketConn
	done   chan struct{}
	once   sync.Once
	echoed atomic.Uint64
	failed atomic.Uint64
}

// Serve starts echoing on conn in a goroutine of its own. The server owns
// conn from now on and closes it in Close.
func Serve(conn net.PacketConn) *Server {
	s := &Server{conn: conn, done: make(chan struct{})}
	go s.loop()
	return s
}

func (s *Server) loop() {
	defer close(s.done)
	// One buffer of the largest UDP payload: datagrams come back whole.
	buf := make([]byte, 65536)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A socket error (an ICMP error, a deadline someone set) is
			// about one exchange, not the service: keep serving.
			s.failed.Add(1)
			continue
		}
		if _, err := s.conn.WriteTo(buf[:n], from); err != nil {
			s.failed.Add(1)
			continue
		}
		s.echoed.Add(1)
	}
}

// Echoed is the number of datagrams sent back so far.
func (s *Server) Echoed() uint64 { return s.echoed.Load() }

// Failed is the number of reads and writes that failed.
func (s *Server) Failed() uint64 { return s.failed.Load() }

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// Close stops the server, closes its connection and waits for its
// goroutine to end.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() { err = s.conn.Close() })
	<-s.done
	return err
}

package main

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// server is the memory-link check's SSH server: public-key authentication
// of one user, session channels whose exec request knows one command,
// echo. It exists to check the client; a real server is sshd.
type server struct {
	l        net.Listener
	cfg      *ssh.ServerConfig
	wg       sync.WaitGroup
	sessions atomic.Int64
}

func newServer(l net.Listener, hostKey ssh.Signer, user string, userKey ssh.PublicKey) *server {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if md.User() == user && bytes.Equal(key.Marshal(), userKey.Marshal()) {
				return &ssh.Permissions{}, nil
			}
			return nil, fmt.Errorf("unknown key for %q", md.User())
		},
	}
	cfg.AddHostKey(hostKey)
	s := &server{l: l, cfg: cfg}
	s.wg.Add(1)
	go s.accept()
	return s
}

// Sessions is how many commands the server ran.
func (s *server) Sessions() int64 { return s.sessions.Load() }

func (s *server) Close() {
	s.l.Close()
	s.wg.Wait()
}

func (s *server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.serve(c) }()
	}
}

// serve runs one connection: the handshake (bounded), then its channels.
func (s *server) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	conn, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		return // a refused key or host key ends here
	}
	c.SetDeadline(time.Time{})
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		s.session(ch, chReqs)
	}
}

// session answers the first exec request (RFC 4254 §6.5) and closes the
// channel with its exit status (§6.10).
func (s *server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			req.Reply(false, nil)
			continue
		}
		req.Reply(true, nil)
		s.sessions.Add(1)
		status := uint32(0)
		if rest, ok := strings.CutPrefix(payload.Command, "echo "); ok {
			fmt.Fprintln(ch, rest)
		} else {
			name, _, _ := strings.Cut(payload.Command, " ")
			fmt.Fprintf(ch.Stderr(), "%s: command not found\n", name)
			status = 127
		}
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
		return
	}
}

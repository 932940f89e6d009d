// Command lines serves a tiny key-value protocol, one command per line, with
// an app actor per connection; the connections share one store. Clients on
// another stack (over the memory link, with the net.Conn API) run a script
// of commands, pipelined and one at a time, and check every reply.
//
//	SET key value   -> OK
//	GET key         -> VALUE value | NOT_FOUND
//	DEL key         -> DELETED | NOT_FOUND
//	QUIT            -> BYE, then the server closes
//	anything else   -> ERR ...
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

const (
	maxLine        = 1024 // longer lines end the connection
	maxOutstanding = 4    // reply writes not yet Written before reading stops
)

// store is the data every connection shares. Its lock is held only for a
// map operation, so an app actor never waits long on it.
type store struct {
	mu sync.Mutex
	m  map[string]string
}

// KV is the app actor of one connection.
type KV struct {
	store       *store
	conn        *actor.PID
	partial     []byte // the start of a line not yet ended
	outstanding int
	suspended   bool
	quit        bool
}

func (kv *KV) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actnet.Connected:
		kv.conn = m.Conn.(*actor.PID)
	case *actnet.Received:
		kv.received(ctx, m.Data)
	case *actnet.Written:
		kv.outstanding--
		if kv.suspended && kv.outstanding < maxOutstanding {
			kv.suspended = false
			ctx.Send(kv.conn, &actnet.ResumeReading{})
		}
	case *actnet.PeerClosed:
		if !kv.quit {
			kv.quit = true
			ctx.Send(kv.conn, &actnet.Close{})
		}
	case *actnet.CommandFailed:
		fmt.Fprintf(os.Stderr, "lines: %T failed: %v\n", m.Cmd, m.Err)
	}
}

// received answers every complete line in data with one Write.
func (kv *KV) received(ctx actor.Context, data []byte) {
	if kv.quit {
		return
	}
	var reply []byte
	kv.partial = append(kv.partial, data...)
	for !kv.quit {
		line, rest, found := bytes.Cut(kv.partial, []byte("\n"))
		if !found {
			if len(kv.partial) > maxLine {
				reply = append(reply, "ERR line too long\n"...)
				kv.quit = true
			}
			break
		}
		reply = kv.answer(reply, string(bytes.TrimSuffix(line, []byte("\r"))))
		kv.partial = rest
	}
	kv.partial = append([]byte(nil), kv.partial...) // keep only the tail
	if len(reply) > 0 {
		ctx.Send(kv.conn, &actnet.Write{Data: reply})
		kv.outstanding++
	}
	if kv.quit {
		ctx.Send(kv.conn, &actnet.Close{}) // after the reply
		return
	}
	// A client that pipelines commands without reading the replies meets
	// a closed window, not an app that buffers replies without bound.
	if kv.outstanding >= maxOutstanding && !kv.suspended {
		kv.suspended = true
		ctx.Send(kv.conn, &actnet.SuspendReading{})
	}
}

// answer appends the reply to one command line.
func (kv *KV) answer(reply []byte, line string) []byte {
	cmd, args, _ := strings.Cut(line, " ")
	key, value, hasValue := strings.Cut(args, " ")
	s := kv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case cmd == "SET" && key != "" && hasValue:
		s.m[key] = value
		return append(reply, "OK\n"...)
	case cmd == "GET" && key != "" && !hasValue:
		if v, ok := s.m[key]; ok {
			return fmt.Appendf(reply, "VALUE %s\n", v)
		}
		return append(reply, "NOT_FOUND\n"...)
	case cmd == "DEL" && key != "" && !hasValue:
		if _, ok := s.m[key]; ok {
			delete(s.m, key)
			return append(reply, "DELETED\n"...)
		}
		return append(reply, "NOT_FOUND\n"...)
	case cmd == "QUIT" && args == "":
		kv.quit = true
		return append(reply, "BYE\n"...)
	}
	return fmt.Appendf(reply, "ERR bad command %q\n", cmd)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lines:", err)
		os.Exit(1)
	}
}

func run() error {
	a, b := device.NewMemoryPair(device.MemoryConfig{})
	client, err := actnet.New(actnet.Config{Device: a, IPv4: netip.MustParsePrefix("10.0.0.1/24")})
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := actnet.New(actnet.Config{Device: b, IPv4: netip.MustParsePrefix("10.0.0.2/24")})
	if err != nil {
		return err
	}
	defer server.Close()
	shared := &store{m: make(map[string]string)}
	if _, err := server.Serve(6379, actor.PropsFromProducer(func() actor.Actor { return &KV{store: shared} })); err != nil {
		return err
	}
	dial := func() (*session, error) {
		conn, err := client.Dial("tcp", "10.0.0.2:6379")
		if err != nil {
			return nil, err
		}
		conn.SetDeadline(time.Now().Add(time.Minute))
		return &session{conn: conn, r: bufio.NewReader(conn)}, nil
	}

	one, err := dial()
	if err != nil {
		return err
	}
	defer one.conn.Close()
	steps := [][2]string{
		{"SET greeting hello, world", "OK"},
		{"GET greeting", "VALUE hello, world"},
		{"GET nothing", "NOT_FOUND"},
		{"SET doomed 1", "OK"},
		{"DEL doomed", "DELETED"},
		{"GET doomed", "NOT_FOUND"},
		{"FLY away", `ERR bad command "FLY"`},
	}
	for _, s := range steps {
		if err := one.ask(s[0], s[1]); err != nil {
			return err
		}
	}
	// 2000 commands in one go, then their 2000 replies.
	const pipelined = 2000
	var batch strings.Builder
	for i := range pipelined {
		fmt.Fprintf(&batch, "SET key%d value%d\r\n", i, i)
	}
	if _, err := io.WriteString(one.conn, batch.String()); err != nil {
		return err
	}
	for range pipelined {
		if err := one.expect("OK"); err != nil {
			return err
		}
	}

	// A second connection sees what the first stored.
	two, err := dial()
	if err != nil {
		return err
	}
	defer two.conn.Close()
	for _, s := range [][2]string{{"GET greeting", "VALUE hello, world"}, {"GET key1999", "VALUE value1999"}, {"QUIT", "BYE"}} {
		if err := two.ask(s[0], s[1]); err != nil {
			return err
		}
	}
	// After BYE the server closes: EOF, not a reset.
	if rest, err := io.ReadAll(two.r); err != nil || len(rest) > 0 {
		return fmt.Errorf("after BYE: read %q, %v; want EOF", rest, err)
	}
	if err := one.ask("QUIT", "BYE"); err != nil {
		return err
	}
	if rest, err := io.ReadAll(one.r); err != nil || len(rest) > 0 {
		return fmt.Errorf("after BYE: read %q, %v; want EOF", rest, err)
	}
	fmt.Printf("lines: ok, %d commands on 2 connections sharing a store, every reply as expected\n", len(steps)+pipelined+4)
	return nil
}

// session is the client side of one connection.
type session struct {
	conn net.Conn
	r    *bufio.Reader
}

func (s *session) ask(command, want string) error {
	if _, err := io.WriteString(s.conn, command+"\n"); err != nil {
		return err
	}
	return s.expect(want)
}

func (s *session) expect(want string) error {
	line, err := s.r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("waiting for %q: %v", want, err)
	}
	if got := strings.TrimSuffix(line, "\n"); got != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

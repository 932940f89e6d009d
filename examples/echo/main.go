// Command echo serves an echo app actor on one stack and has eight clients
// on another stack (over the memory link, with the net.Conn API) each send
// 2 MiB and read it back at the same time, checking every byte by SHA-256.
// One app actor runs per connection.
package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

// maxOutstanding is how many echo writes an app lets wait for Written
// before it stops reading: a peer that sends without reading then meets a
// closed window instead of growing the app's memory.
const maxOutstanding = 8

// Echo is an app actor that sends back every byte it receives and closes
// once the peer has closed and everything is sent.
type Echo struct {
	conn        *actor.PID
	outstanding int
	suspended   bool
}

func (e *Echo) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actnet.Connected:
		e.conn = m.Conn.(*actor.PID)
	case *actnet.Received:
		// The app owns m.Data, so it can hand it straight to Write.
		ctx.Send(e.conn, &actnet.Write{Data: m.Data})
		e.outstanding++
		if e.outstanding >= maxOutstanding && !e.suspended {
			e.suspended = true
			ctx.Send(e.conn, &actnet.SuspendReading{})
		}
	case *actnet.Written:
		e.outstanding--
		if e.outstanding < maxOutstanding/2 && e.suspended {
			e.suspended = false
			ctx.Send(e.conn, &actnet.ResumeReading{})
		}
	case *actnet.PeerClosed:
		// Close waits for the writes queued before it.
		ctx.Send(e.conn, &actnet.Close{})
	case *actnet.CommandFailed:
		fmt.Fprintf(os.Stderr, "echo: %T failed: %v\n", m.Cmd, m.Err)
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func run() error {
	const clients, size = 8, 2 << 20
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
	if _, err := server.Serve(7, actor.PropsFromProducer(func() actor.Actor { return &Echo{} })); err != nil {
		return err
	}

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() { errs <- echoOnce(client, i, size) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	if st := server.Stats().TCP; st.PassiveOpens != clients || st.AppCrashes != 0 || st.AppGone != 0 {
		return fmt.Errorf("server: %d connections accepted, %d apps crashed, %d stopped without closing", st.PassiveOpens, st.AppCrashes, st.AppGone)
	}
	fmt.Printf("echo: ok, %d clients at once each got back the %d bytes it sent (SHA-256 equal)\n", clients, size)
	return nil
}

// echoOnce sends size bytes on a new connection while reading the echo,
// and checks that exactly those bytes came back.
func echoOnce(client *actnet.Stack, i, size int) error {
	conn, err := client.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(i)}).Read(data)
	// Send and read at once: the echo cannot take it all before
	// its replies are read.
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, bytes.NewReader(data))
		if err == nil {
			err = conn.(*actnet.Conn).CloseWrite()
		}
		sent <- err
	}()
	h := sha256.New()
	n, err := io.Copy(h, conn)
	if err := <-sent; err != nil {
		return fmt.Errorf("client %d: write: %v", i, err)
	}
	if err != nil {
		return fmt.Errorf("client %d: read %d bytes, then %v", i, n, err)
	}
	if [32]byte(h.Sum(nil)) != sha256.Sum256(data) {
		return fmt.Errorf("client %d: %d bytes came back, not the %d sent", i, n, size)
	}
	return nil
}

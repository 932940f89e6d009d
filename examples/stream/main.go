// Command stream runs the Stream app actor (app.go, the app the README
// shows): by default, two stacks in one process over the memory link, a
// client on the net.Conn API reading each reply to its end and checking
// its SHA-256, once for each way the app can end. With --tap it serves on
// a Linux tap device until SIGINT or SIGTERM instead.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

var endings = map[string]Ending{"close": EndClose, "closewrite": EndCloseWrite, "close-stop": EndCloseThenStop}

func main() {
	size := flag.Int64("size", 16<<20, "bytes the app sends on each connection")
	tap := flag.String("tap", "", "serve on this Linux tap device (created if missing) instead of the memory link")
	ipv4 := flag.String("ipv4", "", "with --tap: the stack's address, ADDR/PREFIX")
	port := flag.Uint("port", 9000, "with --tap: the TCP port to serve")
	end := flag.String("end", "close", "with --tap: how the app ends each connection: close, closewrite or close-stop")
	flag.Parse()
	if *size < 0 || *port == 0 || *port > 65535 || flag.NArg() > 0 {
		fail(2, "bad arguments (see -help)")
	}
	if *tap == "" {
		if err := overMemory(*size); err != nil {
			fail(1, err.Error())
		}
		return
	}
	prefix, err := netip.ParsePrefix(*ipv4)
	ending, ok := endings[*end]
	if err != nil || !ok {
		fail(2, "--tap needs --ipv4 ADDR/PREFIX, and --end close, closewrite or close-stop")
	}
	if err := overTap(*tap, prefix, uint16(*port), *size, ending); err != nil {
		fail(1, err.Error())
	}
}

func fail(code int, msg string) {
	fmt.Fprintln(os.Stderr, "stream:", msg)
	os.Exit(code)
}

// expectedSum is the SHA-256 of the first size bytes of Payload.
func expectedSum(size int64) [32]byte {
	h := sha256.New()
	io.CopyN(h, Payload(), size)
	return [32]byte(h.Sum(nil))
}

// overMemory serves Stream with each ending on the memory link and reads
// each reply with the net.Conn API.
func overMemory(size int64) error {
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

	want := expectedSum(size)
	for _, name := range []string{"close", "closewrite", "close-stop"} {
		closed := make(chan *actnet.Closed, 1)
		svc, err := server.Serve(0, actor.PropsFromProducer(func() actor.Actor {
			return &Stream{Size: size, End: endings[name], OnClosed: func(c *actnet.Closed) { closed <- c }}
		}))
		if err != nil {
			return err
		}
		conn, err := client.Dial("tcp", netip.AddrPortFrom(server.Addr(), svc.Port()).String())
		if err != nil {
			return err
		}
		conn.SetDeadline(time.Now().Add(2 * time.Minute))
		h := sha256.New()
		n, err := io.Copy(h, conn) // to EOF; a reset would be an error
		conn.Close()
		if err != nil {
			return fmt.Errorf("ending %s: read %d of %d bytes, then %v", name, n, size, err)
		}
		if got := [32]byte(h.Sum(nil)); n != size || got != want {
			return fmt.Errorf("ending %s: got %d bytes with SHA-256 %x, want %d with %x", name, n, got, size, want)
		}
		if name != "close-stop" { // that app stopped itself: it hears nothing more
			select {
			case c := <-closed:
				if c.Reason != actnet.ClosedOrderly || c.Err != nil {
					return fmt.Errorf("ending %s: the app heard Closed{%v, %v}, want an orderly close", name, c.Reason, c.Err)
				}
			case <-time.After(time.Minute):
				return fmt.Errorf("ending %s: the app never heard Closed", name)
			}
		}
		svc.Stop()
	}
	if st := server.Stats().TCP; st.AppGone != 0 || st.AppCrashes != 0 {
		return fmt.Errorf("%d apps stopped without closing, %d crashed", st.AppGone, st.AppCrashes)
	}
	fmt.Printf("stream: ok, 3 connections (close, closewrite, close-stop) of %d bytes each, SHA-256 %s… matches\n",
		size, hex.EncodeToString(want[:8]))
	return nil
}

// overTap serves Stream on a tap until SIGINT or SIGTERM. It prints the
// SHA-256 a peer must find, a line per connection that hears Closed, and
// the stack's counters at exit.
func overTap(name string, prefix netip.Prefix, port uint16, size int64, end Ending) error {
	dev, err := openTap(name)
	if err != nil {
		return err
	}
	stack, err := actnet.New(actnet.Config{Device: dev, IPv4: prefix})
	if err != nil {
		return err
	}
	defer stack.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	_, err = stack.Serve(port, actor.PropsFromProducer(func() actor.Actor {
		return &Stream{Size: size, End: end, OnClosed: func(c *actnet.Closed) {
			fmt.Printf("stream: connection ended: %v (err %v)\n", c.Reason, c.Err)
		}}
	}))
	if err != nil {
		return err
	}
	sum := expectedSum(size)
	fmt.Printf("stream: serving %d bytes on %v:%d, SHA-256 %x\n", size, prefix.Addr(), port, sum)
	select {
	case <-stop:
	case <-stack.Failed():
		return stack.Err()
	}
	fmt.Print(stack.Stats().String())
	return nil
}

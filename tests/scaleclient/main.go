// Command scaleclient is the Linux side of the scale acceptance tests
// (tests/scale_tap_test.go, `make scale`): a Go program on Linux's own
// TCP, run inside the test's network namespace. One process holds at
// most what its file limit allows, so the test starts several.
//
//	scaleclient -mode hold -addr A:P -conns N -source S
//	    opens N connections to an echo server from address S, echoes one
//	    byte on each (so the server has accepted and set up each), prints
//	    "held N", and holds them until its standard input closes; then
//	    resets them.
//	scaleclient -mode once -addr A:P
//	    one connection, one byte echoed; prints "ok".
//	scaleclient -mode churn -addr A:P -rate R -duration D -sources S1,S2
//	    starts R connections a second for D to a source server (which
//	    sends the bytes asked for and closes first), each asking for 100
//	    bytes and checking it got them and the server's FIN; prints
//	    "done ok=N failed=M" and the first error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	var (
		mode     = flag.String("mode", "hold", "hold, once or churn")
		addr     = flag.String("addr", "", "server address:port")
		conns    = flag.Int("conns", 1000, "hold: connections to open")
		source   = flag.String("source", "", "hold: local address to dial from")
		sources  = flag.String("sources", "", "churn: local addresses to dial from in turn, comma-separated")
		rate     = flag.Int("rate", 2000, "churn: connections started per second")
		duration = flag.Duration("duration", 2*time.Minute, "churn: how long to start connections")
		timeout  = flag.Duration("timeout", 10*time.Minute, "give up after this long")
	)
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	switch *mode {
	case "hold":
		err = hold(ctx, *addr, *source, *conns)
	case "once":
		var c net.Conn
		if c, err = dial(ctx, *addr, ""); err == nil {
			err = echo(c)
			c.Close()
		}
		if err == nil {
			fmt.Println("ok")
		}
	case "churn":
		err = churn(ctx, *addr, strings.Split(*sources, ","), *rate, *duration)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleclient:", err)
		os.Exit(1)
	}
}

// dial connects from source (any address when empty), without Go's
// keep-alive probes, which would make idle connections busy.
func dial(ctx context.Context, addr, source string) (net.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: -1}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	return d.DialContext(ctx, "tcp4", addr)
}

// echo writes one byte and reads it back.
func echo(c net.Conn) error {
	c.SetDeadline(time.Now().Add(time.Minute))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte{'x'}); err != nil {
		return err
	}
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	return err
}

func hold(ctx context.Context, addr, source string, n int) error {
	conns := make([]net.Conn, n)
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dial(ctx, addr, source)
				if err == nil {
					conns[i] = c
					err = echo(c)
				}
				if err != nil {
					once.Do(func() { first = fmt.Errorf("connection %d: %w", i+1, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	fmt.Printf("held %d\n", n)
	io.Copy(io.Discard, os.Stdin) // until the test closes it
	// Reset, not closed: the server's drop counters then show only what
	// happened at the connections' start (a FIN exchange at this scale
	// adds retransmitted FINs, rightly dropped as old and counted).
	for _, c := range conns {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	return nil
}

func churn(ctx context.Context, addr string, sources []string, rate int, d time.Duration) error {
	var (
		ok, failed atomic.Int64
		once       sync.Once
		first      error
		wg         sync.WaitGroup
	)
	// At most this many in flight: a server that falls behind slows the
	// load instead of piling up goroutines.
	slots := make(chan struct{}, 4096)
	// Paced by count, not by a ticker per connection: a ticker drops the
	// ticks a busy loop misses (at 500 µs a tick, a third of them on this
	// project's 2-core machine), so the rate fell to 1,370 a second.
	// Every millisecond, as many start as the rate owes by then.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	end := start.Add(d)
	for i := 0; time.Now().Before(end); i++ {
		for int64(i) >= int64(time.Since(start).Seconds()*float64(rate)) {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := fetch(ctx, addr, sources[i%len(sources)]); err != nil {
				failed.Add(1)
				once.Do(func() { first = err })
				return
			}
			ok.Add(1)
		})
	}
	wg.Wait()
	fmt.Printf("done ok=%d failed=%d\n", ok.Load(), failed.Load())
	if first != nil {
		fmt.Printf("first error: %v\n", first)
	}
	return nil
}

// fetch asks a source server for 100 bytes and reads them and its FIN.
func fetch(ctx context.Context, addr, source string) error {
	c, err := dial(ctx, addr, source)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write([]byte("100\n")); err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, bufio.NewReader(c))
	if err != nil {
		return err
	}
	if n != 100 {
		return errors.New("short answer: " + fmt.Sprint(n) + " bytes")
	}
	return nil
}

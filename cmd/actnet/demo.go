package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps"
	"github.com/actnet/actnet/device"
)

// maxDemoLoss is the most loss --loss allows, in percent each way. A ping
// needs four frames through (ARP both ways once, then request and reply),
// and the TCP exchange must finish within 5 s of retransmissions: beyond
// a quarter of the frames each way the demo would mostly show failures.
const maxDemoLoss = 25

// demoLink is the demo's memory link, dropping loss percent of the frames
// in each direction (each with its own seeded pattern, so runs repeat).
func demoLink(loss float64) (a, b *device.Memory) {
	return device.NewMemoryPair(device.MemoryConfig{
		FaultsAToB: device.Faults{Seed: 1, DropPercent: loss},
		FaultsBToA: device.Faults{Seed: 2, DropPercent: loss},
	})
}

// demo runs two stacks in one process joined by the in-memory link and
// shows them reaching each other: what `make demo` runs without root.
func demo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("actnet demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int("count", 5, "echo requests to send")
	size := fs.Int("size", 56, "bytes of data in each echo request")
	loss := fs.Float64("loss", 0, fmt.Sprintf("percent of frames the link drops, each way (0 to %d)", maxDemoLoss))
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: actnet demo [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *count < 1 || *count > 10000 || *size < 0 || *size > 65507 || !(*loss >= 0 && *loss <= maxDemoLoss) {
		fmt.Fprintf(stderr, "actnet demo: --count must be 1..10000, --size 0..65507, --loss 0..%d\n", maxDemoLoss)
		return 2
	}
	a, b := demoLink(*loss)
	left, err := actnet.New(actnet.Config{Device: a, IPv4: netip.MustParsePrefix("10.0.0.1/24")})
	if err != nil {
		fmt.Fprintf(stderr, "actnet demo: %v\n", err)
		return 1
	}
	defer left.Close()
	right, err := actnet.New(actnet.Config{Device: b, IPv4: netip.MustParsePrefix("10.0.0.2/24")})
	if err != nil {
		fmt.Fprintf(stderr, "actnet demo: %v\n", err)
		return 1
	}
	defer right.Close()

	fmt.Fprintf(stdout, "two stacks over a memory link: %s (%s) and %s (%s)\n",
		left.Addr(), left.HardwareAddr(), right.Addr(), right.HardwareAddr())
	fmt.Fprintf(stdout, "PING %s from %s: %d data bytes\n", right.Addr(), left.Addr(), *size)
	received := 0
	for i := 1; i <= *count; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		rtt, err := left.Ping(ctx, right.Addr(), *size)
		cancel()
		if err != nil {
			fmt.Fprintf(stdout, "seq=%d: %v\n", i, err)
			continue
		}
		received++
		fmt.Fprintf(stdout, "%d bytes from %s: seq=%d time=%v\n", *size+8, right.Addr(), i, rtt.Round(time.Microsecond))
	}
	fmt.Fprintf(stdout, "--- %s ping statistics ---\n%d transmitted, %d received, %.0f%% loss\n",
		right.Addr(), *count, received, 100*float64(*count-received)/float64(*count))
	if received == 0 {
		fmt.Fprintf(stderr, "actnet demo: no echo reply came back in %d tries (the link drops %v%% of frames each way)\n", *count, *loss)
		return 1
	}

	// TCP: the right stack serves echo with one supervised app actor per
	// connection; the left one dials it through the net.Conn API.
	if _, err := right.Serve(9000, apps.Echo()); err != nil {
		fmt.Fprintf(stderr, "actnet demo: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := left.DialContext(ctx, "tcp", netip.AddrPortFrom(right.Addr(), 9000).String())
	if err != nil {
		fmt.Fprintf(stderr, "actnet demo: dial: %v\n", err)
		return 1
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	line := "hello through two actnet stacks\n"
	fmt.Fprintf(stdout, "TCP %s -> %s:9000 (echo app): %q\n", conn.LocalAddr(), right.Addr(), line)
	conn.Write([]byte(line))
	conn.(*actnet.Conn).CloseWrite()
	reply, err := io.ReadAll(conn)
	if err != nil || string(reply) != line {
		fmt.Fprintf(stderr, "actnet demo: echo: %q, %v\n", reply, err)
		return 1
	}
	fmt.Fprintf(stdout, "echoed back: %q\n", reply)
	return 0
}

// Command linux-server runs the echo, discard and source servers on the
// Linux kernel's own TCP through Go's net package. It is the ceiling of
// the benchmark: the runner puts it in the peer namespace of a veth pair.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/actnet/actnet/bench/internal/servers"
)

func main() {
	var (
		host    = flag.String("host", "10.0.0.2", "IPv4 address to listen on")
		host6   = flag.String("host6", "", "IPv6 address to listen on as well (none if empty)")
		echo    = flag.Int("echo", 9000, "echo port")
		discard = flag.Int("discard", 9001, "discard port")
		source  = flag.Int("source", 9002, "source port")
	)
	flag.Parse()
	raiseFileLimit()
	addrs := map[string]string{"tcp4": *host}
	if *host6 != "" {
		addrs["tcp6"] = *host6
	}
	for port, h := range map[int]servers.Handler{*echo: servers.Echo, *discard: servers.Discard, *source: servers.Source} {
		for network, a := range addrs {
			l, err := net.Listen(network, net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				fmt.Fprintln(os.Stderr, "linux-server:", err)
				os.Exit(1)
			}
			defer l.Close()
			go servers.Serve(l, h)
		}
	}
	fmt.Fprintf(os.Stderr, "linux-server: serving at %s %s\n", *host, *host6)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}

// raiseFileLimit lets the server hold the idle load's 100,000 sockets:
// as root (the runner's case) the limit goes to the kernel's fs.nr_open
// cap of 1,048,576 when the hard limit is lower; otherwise the soft
// limit goes to the hard one, as Go's runtime already does.
func raiseFileLimit() {
	const want = 1 << 20
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil || l.Max >= want {
		return
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err != nil {
		fmt.Fprintln(os.Stderr, "linux-server: raising the file limit:", err)
	}
}

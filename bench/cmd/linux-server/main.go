// Command linux-server runs the echo, discard and source servers on the
// Linux kernel's own TCP through Go's net package. It is the ceiling of
// the benchmark: the runner puts it in the peer namespace of a veth pair.
//
// It must hold the idle load's connections (-conns) at once. Where it
// cannot raise its file limit that far (a hard limit that root may not
// raise, without CAP_SYS_RESOURCE), it serves from worker processes
// instead: it starts copies of itself with -worker, each listening on the
// same addresses with SO_REUSEPORT, so that the kernel spreads the
// connections over them, each within the limit. The workers die with it.
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
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/actnet/actnet/bench/internal/servers"
	"golang.org/x/sys/unix"
)

// spareFiles are the descriptors a process keeps for everything but
// accepted connections.
const spareFiles = 256

type config struct {
	host, host6           string
	echo, discard, source int
	conns                 int
	worker, reusePort     bool
}

func main() {
	var c config
	flag.StringVar(&c.host, "host", "10.0.0.2", "IPv4 address to listen on")
	flag.StringVar(&c.host6, "host6", "", "IPv6 address to listen on as well (none if empty)")
	flag.IntVar(&c.echo, "echo", 9000, "echo port")
	flag.IntVar(&c.discard, "discard", 9001, "discard port")
	flag.IntVar(&c.source, "source", 9002, "source port")
	flag.IntVar(&c.conns, "conns", 100000, "connections to be able to hold at once; past the file limit it cannot raise, they are spread over worker processes")
	flag.BoolVar(&c.worker, "worker", false, "internal: serve as one of several workers sharing the ports with SO_REUSEPORT")
	flag.Parse()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if c.worker {
		c.reusePort = true
		listenAll(c)
		fmt.Println("listening") // the parent waits for this line
		<-sig
		return
	}
	perProcess := raiseFileLimit(c.conns) - spareFiles
	if perProcess <= 0 || c.conns <= perProcess {
		listenAll(c)
		fmt.Fprintf(os.Stderr, "linux-server: serving at %s %s\n", c.host, c.host6)
		<-sig
		return
	}
	// The kernel picks a listener by a hash of the connection's
	// addresses, so the workers' shares differ; a fifth of headroom
	// keeps each well within the limit.
	n := (c.conns*5/4 + perProcess - 1) / perProcess
	workers, died, err := startWorkers(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "linux-server:", err)
		stopWorkers(workers)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "linux-server: serving at %s %s from %d worker processes (the file limit allows %d connections each)\n",
		c.host, c.host6, n, perProcess)
	select {
	case <-sig:
		stopWorkers(workers)
	case err := <-died:
		fmt.Fprintln(os.Stderr, "linux-server: a worker exited:", err)
		stopWorkers(workers)
		os.Exit(1)
	}
}

// listenAll starts the three servers on every address; a listener that
// cannot be opened ends the process.
func listenAll(c config) {
	addrs := map[string]string{"tcp4": c.host}
	if c.host6 != "" {
		addrs["tcp6"] = c.host6
	}
	var lc net.ListenConfig
	if c.reusePort {
		lc.Control = setReusePort
	}
	for port, h := range map[int]servers.Handler{c.echo: servers.Echo, c.discard: servers.Discard, c.source: servers.Source} {
		for network, a := range addrs {
			l, err := lc.Listen(context.Background(), network, net.JoinHostPort(a, strconv.Itoa(port)))
			if err != nil {
				fmt.Fprintln(os.Stderr, "linux-server:", err)
				os.Exit(1)
			}
			go servers.Serve(l, h)
		}
	}
}

// setReusePort lets several processes listen on the same address, the
// kernel spreading incoming connections over them.
func setReusePort(network, address string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}

// startWorkers starts n copies of this program with -worker and the same
// flags, and waits until each listens. Each gets SIGKILL when this
// process dies, however it dies. died reports the first worker to exit.
func startWorkers(n int) (workers []*exec.Cmd, died <-chan error, err error) {
	exited := make(chan error, n)
	self, err := os.Executable()
	if err != nil {
		return nil, exited, err
	}
	for i := range n {
		cmd := exec.Command(self, append([]string{"-worker"}, os.Args[1:]...)...)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return workers, exited, err
		}
		if err := cmd.Start(); err != nil {
			return workers, exited, fmt.Errorf("starting worker %d: %w", i+1, err)
		}
		workers = append(workers, cmd)
		r := bufio.NewReader(out)
		line, err := r.ReadString('\n')
		if line != "listening\n" {
			return workers, exited, fmt.Errorf("worker %d did not start listening (%v); its errors are above", i+1, err)
		}
		go func() {
			io.Copy(io.Discard, r)
			exited <- errors.Join(fmt.Errorf("worker %d", i+1), cmd.Wait())
		}()
	}
	return workers, exited, nil
}

// stopWorkers asks the workers to exit. Should this process die first,
// the kernel kills them anyway (Pdeathsig).
func stopWorkers(workers []*exec.Cmd) {
	for _, w := range workers {
		w.Process.Signal(syscall.SIGTERM)
	}
}

// raiseFileLimit tries to let this process hold conns sockets and
// returns the soft limit it ends with. As root (the runner's case) the
// limit goes past conns when the hard limit is lower, which needs
// CAP_SYS_RESOURCE; otherwise the soft limit goes to the hard one.
func raiseFileLimit(conns int) int {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	if want := uint64(conns + spareFiles); l.Max < want {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
			return int(want)
		}
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
		}
	}
	return int(min(l.Cur, 1<<30))
}

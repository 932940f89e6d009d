//go:build linux

// Command hvtcheck is the Linux side of make test-hvt (scripts/test-hvt.sh):
// it runs as root next to solo5-hvt, in a network namespace or in the
// test's QEMU VM, and is built static so it runs in the VM's busybox
// initramfs too.
//
//	hvtcheck mktap NAME
//	    creates a persistent tap NAME (busybox's ip cannot).
//	hvtcheck run [flags] -- SOLO5-HVT ARGS...
//	    starts the guest, measures the time to its first ping reply, then
//	    checks 50 pings with 0% loss (the system's ping), a 1 MiB TCP echo
//	    (SHA-256), UDP echo, and the guest's exit after a shutdown request
//	    with its counters on the console.
//
// Every wait is bounded; the first failure ends the run with status 1
// (status 3 when the guest died before answering at all, so the script can
// tell a KVM that cannot run it from a broken guest).
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hvtcheck mktap NAME | hvtcheck run [flags] -- SOLO5-HVT ARGS...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "mktap":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: hvtcheck mktap NAME")
			os.Exit(2)
		}
		if err := mktap(os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "hvtcheck mktap: %v\n", err)
			os.Exit(1)
		}
	case "run":
		os.Exit(run(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "hvtcheck: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

// mktap creates a persistent tap interface, as ip tuntap add does.
func mktap(name string) error {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("/dev/net/tun: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETPERSIST, 1); errno != 0 {
		return fmt.Errorf("TUNSETPERSIST %s: %w", name, errno)
	}
	return nil
}

type checker struct {
	addr     string
	tcpPort  int
	udpPort  int
	downPort int
	size     int
	pings    int
	logPath  string
	guest    *exec.Cmd
	exited   chan error
}

func run(args []string) int {
	fs := flag.NewFlagSet("hvtcheck run", flag.ContinueOnError)
	c := &checker{}
	fs.StringVar(&c.addr, "addr", "10.0.0.2", "the guest's IPv4 address")
	fs.IntVar(&c.tcpPort, "tcp", 7, "the guest's TCP echo port")
	fs.IntVar(&c.udpPort, "udp", 7, "the guest's UDP echo port")
	fs.IntVar(&c.downPort, "shutdown", 9, "the guest's --shutdown-port")
	fs.IntVar(&c.size, "bytes", 1<<20, "bytes of the TCP echo")
	fs.IntVar(&c.pings, "pings", 50, "pings that must all be answered")
	fs.StringVar(&c.logPath, "log", "guest.log", "file for the guest's console")
	boot := fs.Duration("boot-timeout", 3*time.Minute, "how long the guest may take to answer its first ping")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "hvtcheck run: no solo5-hvt command after --")
		return 2
	}
	if err := c.start(fs.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "hvtcheck: starting the guest: %v\n", err)
		return 1
	}
	defer c.guest.Process.Kill()
	start := time.Now()
	if err := c.firstPing(*boot); err != nil {
		fmt.Fprintf(os.Stderr, "hvtcheck: FAIL first ping: %v\n", err)
		c.dumpLog()
		if errors.Is(err, errGuestDied) {
			return 3
		}
		return 1
	}
	fmt.Printf("hvtcheck: first ping answered %d ms after solo5-hvt started\n", time.Since(start).Milliseconds())
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"ping", c.ping},
		{"tcp echo", c.tcpEcho},
		{"udp echo", c.udpEcho},
		{"shutdown", c.shutdown},
	} {
		if err := step.fn(); err != nil {
			fmt.Fprintf(os.Stderr, "hvtcheck: FAIL %s: %v\n", step.name, err)
			c.dumpLog()
			return 1
		}
	}
	fmt.Println("hvtcheck: PASS")
	return 0
}

var errGuestDied = errors.New("the guest exited")

func (c *checker) start(argv []string) error {
	log, err := os.Create(c.logPath)
	if err != nil {
		return err
	}
	c.guest = exec.Command(argv[0], argv[1:]...)
	c.guest.Stdout, c.guest.Stderr = log, log
	if err := c.guest.Start(); err != nil {
		log.Close()
		return err
	}
	c.exited = make(chan error, 1)
	go func() { c.exited <- c.guest.Wait(); log.Close() }()
	return nil
}

func (c *checker) dumpLog() {
	b, _ := os.ReadFile(c.logPath)
	fmt.Fprintf(os.Stderr, "--- guest console (%s)\n%s--- end of guest console\n", c.logPath, b)
}

// firstPing sends an ICMP echo request every 10 ms until the guest answers
// one.
func (c *checker) firstPing(timeout time.Duration) error {
	conn, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return err
	}
	defer conn.Close()
	dst := &net.IPAddr{IP: net.ParseIP(c.addr)}
	id := uint16(os.Getpid())
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for seq := uint16(1); time.Now().Before(deadline); seq++ {
		select {
		case err := <-c.exited:
			return fmt.Errorf("%w (%v)", errGuestDied, err)
		default:
		}
		if _, err := conn.WriteTo(echoRequest(id, seq), dst); err != nil && !errors.Is(err, unix.EHOSTUNREACH) {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				break // nothing yet: send the next one
			}
			if from.String() == c.addr && n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id {
				return nil
			}
		}
	}
	return fmt.Errorf("no answer within %v", timeout)
}

// echoRequest is an ICMP echo request (RFC 792) with a 16-byte payload.
func echoRequest(id, seq uint16) []byte {
	b := make([]byte, 8+16)
	b[0] = 8
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], "actnet hvt probe")
	var sum uint32
	for i := 0; i < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[2:], ^uint16(sum))
	return b
}

// ping runs the system's ping (iputils on a host, busybox in the VM) and
// wants every request answered.
func (c *checker) ping() error {
	cmd := exec.Command("ping", "-c", fmt.Sprint(c.pings), "-i", "0.2", "-W", "5", c.addr)
	out, err := cmd.CombinedOutput()
	fmt.Printf("%s", lastLines(out, 2))
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	if !bytes.Contains(out, []byte(" 0% packet loss")) {
		return fmt.Errorf("loss: %s", lastLines(out, 2))
	}
	return nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// tcpEcho sends size random bytes to the echo app and checks what comes
// back by SHA-256.
func (c *checker) tcpEcho() error {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(c.addr, fmt.Sprint(c.tcpPort)), 30*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	data := make([]byte, c.size)
	r := rand.NewChaCha8([32]byte{'h', 'v', 't'})
	r.Read(data)
	sent := sha256.Sum256(data)
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(data)
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	h := sha256.New()
	n, err := io.Copy(h, conn)
	if err != nil {
		return fmt.Errorf("reading the echo after %d bytes: %w", n, err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	if n != int64(c.size) || !bytes.Equal(h.Sum(nil), sent[:]) {
		return fmt.Errorf("%d bytes back, SHA-256 %x, want %d bytes, %x", n, h.Sum(nil), c.size, sent)
	}
	fmt.Printf("hvtcheck: tcp echo: %d bytes back, SHA-256 %x matches\n", n, sent[:8])
	return nil
}

// udpEcho sends datagrams of several sizes and wants each back; a lost one
// is sent again, at most three times.
func (c *checker) udpEcho() error {
	conn, err := net.Dial("udp", net.JoinHostPort(c.addr, fmt.Sprint(c.udpPort)))
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 2048)
	sizes := []int{1, 64, 512, 1400, 1472}
	for i, size := range sizes {
		msg := bytes.Repeat([]byte{byte('a' + i)}, size)
		ok := false
		for try := 0; try < 3 && !ok; try++ {
			if _, err := conn.Write(msg); err != nil {
				return err
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(buf)
			ok = err == nil && bytes.Equal(buf[:n], msg)
		}
		if !ok {
			return fmt.Errorf("no echo of a %d-byte datagram in three tries", size)
		}
	}
	fmt.Printf("hvtcheck: udp echo: %d datagrams (1 to 1472 bytes) echoed\n", len(sizes))
	return nil
}

// shutdown asks the guest to end and wants it to exit 0 with its counters
// on the console.
func (c *checker) shutdown() error {
	conn, err := net.Dial("udp", net.JoinHostPort(c.addr, fmt.Sprint(c.downPort)))
	if err != nil {
		return err
	}
	defer conn.Close()
	timeout := time.After(2 * time.Minute)
	for {
		if _, err := conn.Write([]byte("shutdown")); err != nil {
			return err
		}
		select {
		case err := <-c.exited:
			if err != nil {
				return fmt.Errorf("solo5-hvt: %v", err)
			}
			log, _ := os.ReadFile(c.logPath)
			if !bytes.Contains(log, []byte("device: ")) || !bytes.Contains(log, []byte("tcp")) {
				return fmt.Errorf("no counters on the guest's console")
			}
			fmt.Printf("hvtcheck: guest exited 0 and printed its counters\n")
			return nil
		case <-time.After(2 * time.Second):
			// the request may have been lost: send it again
		case <-timeout:
			return errors.New("the guest did not exit within 2 minutes of the shutdown request")
		}
	}
}

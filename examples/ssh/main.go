// Command ssh runs a command over SSH (golang.org/x/crypto/ssh) on an
// actnet connection. By default it checks itself on the memory link: one
// stack runs a small SSH server from the same library (host key and user
// key made at start, public-key authentication, an exec request that
// knows only echo), the other connects over IPv4 and over IPv6, verifies
// the host key, runs a command and checks its output and exit status.
//
// With --tap it starts a stack on a Linux tap device and runs --command on
// a real sshd at --server, authenticating as --user with --key and
// verifying the server with --host-key or --known-hosts; it prints the
// command's output and exits with 0 when the command succeeded:
//
//	ssh --tap tap0 --ipv4 10.0.0.2/24 --server 10.0.0.1:22 --user me \
//	    --key ~/.ssh/id_ed25519 --known-hosts ~/.ssh/known_hosts --command 'uname -a'
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

// handshakeTimeout bounds the TCP connect and the SSH handshake together.
const handshakeTimeout = 30 * time.Second

func main() {
	tap := flag.String("tap", "", "connect through a stack on this Linux tap device (created if missing) instead of checking itself on the memory link")
	ipv4 := flag.String("ipv4", "", "with --tap: the stack's IPv4 address, ADDR/PREFIX (required)")
	gw4 := flag.String("ipv4-gateway", "", "with --tap: the IPv4 default router, for an off-link server")
	ipv6 := flag.String("ipv6", "", "with --tap: a static IPv6 address of the stack, ADDR/PREFIX (IPv6 is autoconfigured without it)")
	server := flag.String("server", "", "with --tap: the sshd, HOST:PORT (an IPv6 address in brackets)")
	user := flag.String("user", os.Getenv("USER"), "with --tap: the user to log in as")
	keyFile := flag.String("key", "", "with --tap: the user's private key file (OpenSSH or PEM, not encrypted)")
	hostKey := flag.String("host-key", "", "with --tap: the server's public host key file (as in /etc/ssh/ssh_host_*_key.pub)")
	knownHosts := flag.String("known-hosts", "", "with --tap: a known_hosts file that lists the server")
	command := flag.String("command", "echo hello; uname -s", "with --tap: the command to run")
	flag.Parse()
	if flag.NArg() > 0 {
		fail(2, "unexpected argument %q (see -help)", flag.Arg(0))
	}
	if *tap == "" {
		if err := overMemory(); err != nil {
			fail(1, "%v", err)
		}
		return
	}
	opts, err := tapOptions(*ipv4, *gw4, *ipv6, *server, *user, *keyFile, *hostKey, *knownHosts)
	if err != nil {
		fail(2, "%v", err)
	}
	code, err := overTap(*tap, opts, *command)
	if err != nil {
		fail(1, "%v", err)
	}
	os.Exit(code)
}

func fail(code int, format string, a ...any) {
	fmt.Fprintf(os.Stderr, "ssh: "+format+"\n", a...)
	os.Exit(code)
}

// run connects through d to addr, authenticates with cfg, runs command in
// a session and returns what it wrote to stdout and stderr. A command that
// exits non-zero returns an *ssh.ExitError.
func run(ctx context.Context, d interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}, addr string, cfg *ssh.ClientConfig, command string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	// ssh.NewClientConn has no context: a deadline bounds the handshake.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		// A refused handshake (a host key that does not match) hangs up
		// in order too, so the server's pre-authentication process sees
		// the end at once rather than at its login grace time.
		hangUpRaw(conn)
		return nil, nil, fmt.Errorf("SSH handshake with %s: %w", addr, err)
	}
	conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	defer hangUp(conn, client)
	session, err := client.NewSession()
	if err != nil {
		return nil, nil, fmt.Errorf("opening a session: %w", err)
	}
	defer session.Close()
	var out, errOut bytes.Buffer
	session.Stdout, session.Stderr = &out, &errOut
	err = session.Run(command)
	return out.Bytes(), errOut.Bytes(), err
}

// hangUp ends the connection in order: our FIN first, then up to
// hangUpWait for the server's, so that the server's side of the session
// sees the end and exits. Closing at once could leave what the server
// sent last unread, and a connection closed with unread data is reset,
// which a program that exits right after may never send.
func hangUp(conn net.Conn, client *ssh.Client) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		conn.SetReadDeadline(time.Now().Add(hangUpWait))
		client.Wait() // the server's FIN (or the deadline) ends the client's reader
	}
	client.Close()
}

// hangUpRaw is hangUp for a connection with no SSH client on it: our FIN,
// then whatever the server still sends is read and dropped until its FIN
// or hangUpWait.
func hangUpRaw(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		conn.SetReadDeadline(time.Now().Add(hangUpWait))
		io.Copy(io.Discard, conn)
	}
	conn.Close()
}

// hangUpWait bounds the wait for the server's FIN.
const hangUpWait = 5 * time.Second

// overMemory checks the client against the library's own server on the
// memory link, over both families.
func overMemory() error {
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	quiet := actnet.DefaultLogger(io.Discard)
	mk := func(dev device.Device, v4, v6 string) (*actnet.Stack, error) {
		return actnet.New(actnet.Config{Device: dev, IPv4: netip.MustParsePrefix(v4), Logger: &quiet,
			IPv6: actnet.IPv6Config{Mode: actnet.IPv6Static, Addr: netip.MustParsePrefix(v6)}})
	}
	client, err := mk(da, "10.0.0.1/24", "2001:db8::1/64")
	if err != nil {
		return err
	}
	defer client.Close()
	server, err := mk(db, "10.0.0.2/24", "2001:db8::2/64")
	if err != nil {
		return err
	}
	defer server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range []*actnet.Stack{client, server} {
		if _, err := s.WaitIPv6(ctx, true); err != nil {
			return fmt.Errorf("IPv6 address: %w", err)
		}
	}

	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	_, userPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return err
	}
	userSigner, err := ssh.NewSignerFromKey(userPriv)
	if err != nil {
		return err
	}
	l, err := server.Listen("tcp", ":22")
	if err != nil {
		return err
	}
	srv := newServer(l, hostSigner, "gopher", userSigner.PublicKey())
	defer srv.Close()

	cfg := &ssh.ClientConfig{
		User:            "gopher",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(userSigner)},
		HostKeyCallback: ssh.FixedHostKey(hostSigner.PublicKey()),
	}
	for _, addr := range []string{"10.0.0.2:22", "[2001:db8::2]:22"} {
		out, errOut, err := run(ctx, client, addr, cfg, "echo hello over actnet")
		if err != nil || string(out) != "hello over actnet\n" || len(errOut) != 0 {
			return fmt.Errorf("%s: echo: stdout %q, stderr %q, %v", addr, out, errOut, err)
		}
	}
	// An unknown command fails with the shell's status 127.
	_, errOut, err := run(ctx, client, "10.0.0.2:22", cfg, "frobnicate")
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 127 || !strings.Contains(string(errOut), "not found") {
		return fmt.Errorf("an unknown command: stderr %q, %v; want exit status 127", errOut, err)
	}
	// A server whose host key is not the one expected is refused.
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(otherPriv)
	wrong := *cfg
	wrong.HostKeyCallback = ssh.FixedHostKey(other.PublicKey())
	if _, _, err := run(ctx, client, "10.0.0.2:22", &wrong, "echo no"); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		return fmt.Errorf("a wrong host key was accepted: %v", err)
	}
	// A user key the server does not know is refused.
	bad := *cfg
	bad.Auth = []ssh.AuthMethod{ssh.PublicKeys(other)}
	if _, _, err := run(ctx, client, "10.0.0.2:22", &bad, "echo no"); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		return fmt.Errorf("an unknown user key was accepted: %v", err)
	}
	if n := srv.Sessions(); n != 3 {
		return fmt.Errorf("the server ran %d sessions, want 3", n)
	}
	fmt.Println("ssh: ok, a command over IPv4 and IPv6 with a verified host key; a wrong host key and an unknown user key refused")
	return nil
}

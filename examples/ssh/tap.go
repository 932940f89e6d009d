package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/actnet/actnet"
)

// tapConfig is what --tap mode needs, checked.
type tapConfig struct {
	stack  actnet.Config
	server string
	client *ssh.ClientConfig
}

// tapOptions checks the flags of --tap mode and loads the key files.
func tapOptions(ipv4, gw4, ipv6, server, user, keyFile, hostKey, knownHostsFile string) (*tapConfig, error) {
	var cfg tapConfig
	p, err := netip.ParsePrefix(ipv4)
	if err != nil || !p.Addr().Is4() {
		return nil, errors.New("--tap needs --ipv4 ADDR/PREFIX, e.g. 10.0.0.2/24")
	}
	cfg.stack.IPv4 = p
	if gw4 != "" {
		if cfg.stack.IPv4Gateway, err = netip.ParseAddr(gw4); err != nil || !cfg.stack.IPv4Gateway.Is4() {
			return nil, fmt.Errorf("--ipv4-gateway %q is not an IPv4 address", gw4)
		}
	}
	if ipv6 != "" {
		p6, err := netip.ParsePrefix(ipv6)
		if err != nil || !p6.Addr().Is6() || p6.Addr().Is4In6() {
			return nil, fmt.Errorf("--ipv6 %q: want an IPv6 ADDR/PREFIX, e.g. 2001:db8:1::2/64", ipv6)
		}
		cfg.stack.IPv6 = actnet.IPv6Config{Mode: actnet.IPv6Static, Addr: p6}
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		return nil, fmt.Errorf("--server %q: want HOST:PORT, e.g. 10.0.0.1:22 or [2001:db8::1]:22", server)
	}
	cfg.server = server
	if user == "" || keyFile == "" {
		return nil, errors.New("--tap needs --user and --key")
	}
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", keyFile, err)
	}
	var check ssh.HostKeyCallback
	switch {
	case (hostKey == "") == (knownHostsFile == ""):
		return nil, errors.New("give the server's host key: --host-key FILE or --known-hosts FILE (one of them)")
	case hostKey != "":
		data, err := os.ReadFile(hostKey)
		if err != nil {
			return nil, fmt.Errorf("--host-key: %w", err)
		}
		key, _, _, _, err := ssh.ParseAuthorizedKey(data)
		if err != nil {
			return nil, fmt.Errorf("--host-key %s: %w", hostKey, err)
		}
		check = ssh.FixedHostKey(key)
	default:
		if check, err = knownhosts.New(knownHostsFile); err != nil {
			return nil, fmt.Errorf("--known-hosts: %w", err)
		}
	}
	cfg.client = &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: check}
	return &cfg, nil
}

// overTap starts a stack on the tap, runs command on the server, prints
// its output and returns the exit code to leave with: 0 when the command
// succeeded, 1 when it did not.
func overTap(tap string, cfg *tapConfig, command string) (int, error) {
	dev, err := openTap(tap)
	if err != nil {
		return 0, err
	}
	cfg.stack.Device = dev
	quiet := actnet.DefaultLogger(os.Stderr)
	cfg.stack.Logger = &quiet
	stack, err := actnet.New(cfg.stack)
	if err != nil {
		dev.Close()
		return 0, err
	}
	defer stack.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if cfg.stack.IPv6.Mode == actnet.IPv6Static {
		// Duplicate address detection must clear the address first.
		wait, cancelWait := context.WithTimeout(ctx, 10*time.Second)
		_, err := stack.WaitIPv6(wait, true)
		cancelWait()
		if err != nil {
			return 0, fmt.Errorf("the IPv6 address %s: %w", cfg.stack.IPv6.Addr.Addr(), err)
		}
	}
	out, errOut, err := run(ctx, stack, cfg.server, cfg.client, command)
	os.Stdout.Write(out)
	os.Stderr.Write(errOut)
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		fmt.Fprintf(os.Stderr, "ssh: the command exited with status %d\n", exit.ExitStatus())
		return 1, nil
	}
	return 0, err
}

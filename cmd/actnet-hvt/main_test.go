package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/syncbuf"
)

func TestParseConfig(t *testing.T) {
	cfg, err := parseConfig(strings.Fields("--ipv4=10.0.0.2/24 --ipv4-gateway 10.0.0.1 --ipv6 none --app echo:7 --app udp-echo:7 --shutdown-port 9"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ipv4 != netip.MustParsePrefix("10.0.0.2/24") || cfg.gateway != netip.MustParseAddr("10.0.0.1") ||
		cfg.ipv6.Mode != actnet.IPv6Off || cfg.shutdown != 9 || cfg.net != "service" ||
		len(cfg.apps) != 2 || cfg.apps[0] != (appSpec{"echo", 7}) || cfg.apps[1] != (appSpec{"udp-echo", 7}) {
		t.Fatalf("parsed %+v", cfg)
	}
	cfg, err = parseConfig([]string{"--ipv4=10.0.0.2/24", "--ipv6=2001:db8::2/64", "--ipv6-gateway=fe80::1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ipv6.Mode != actnet.IPv6Static || cfg.ipv6.Addr != netip.MustParsePrefix("2001:db8::2/64") ||
		cfg.ipv6.Gateway != netip.MustParseAddr("fe80::1") || len(cfg.apps) != 1 || cfg.apps[0] != (appSpec{"echo", 9000}) {
		t.Fatalf("parsed %+v", cfg)
	}
	if _, err := parseConfig([]string{"--help"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
}

func TestParseConfigRejects(t *testing.T) {
	for _, args := range []string{
		"",
		"--ipv4 10.0.0.2",
		"--ipv4 2001:db8::2/64",
		"--ipv4 10.0.0.2/24 --ipv4-gateway 10.1.0.1",
		"--ipv4 10.0.0.2/24 --ipv4-gateway 10.0.0.2",
		"--ipv4 10.0.0.2/24 --ipv6 10.0.0.3/24",
		"--ipv4 10.0.0.2/24 --ipv6-gateway fe80::1",
		"--ipv4 10.0.0.2/24 --app http:80",
		"--ipv4 10.0.0.2/24 --app echo:0",
		"--ipv4 10.0.0.2/24 --app echo",
		"--ipv4 10.0.0.2/24 --app echo:7 --app discard:7",
		"--ipv4 10.0.0.2/24 --app udp-echo:9 --shutdown-port 9",
		"--ipv4 10.0.0.2/24 --log-level loud",
		"--ipv4 10.0.0.2/24 extra",
	} {
		if _, err := parseConfig(strings.Fields(args), io.Discard); err == nil {
			t.Errorf("%q: accepted", args)
		}
	}
	// A TCP and a UDP app may share a port number.
	if _, err := parseConfig(strings.Fields("--ipv4 10.0.0.2/24 --app echo:7 --app udp-echo:7"), io.Discard); err != nil {
		t.Errorf("echo:7 with udp-echo:7: %v", err)
	}
}

// TestGuestOnMemoryLink runs the whole guest but its Solo5 device on one
// end of a memory link, with a client stack on the other: TCP echo, UDP
// echo, then the shutdown request, after which the guest prints its
// counters and returns 0.
func TestGuestOnMemoryLink(t *testing.T) {
	guestDev, clientDev := device.NewMemoryPair(device.MemoryConfig{})
	cfg, err := parseConfig(strings.Fields("--ipv4 10.9.0.2/24 --ipv6 none --log-level warn --app echo:7 --app udp-echo:7 --shutdown-port 9"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- runGuest(guestDev, cfg, &out) }()

	client, err := actnet.New(actnet.Config{Device: clientDev, IPv4: netip.MustParsePrefix("10.9.0.1/24"), IPv6: actnet.IPv6Config{Mode: actnet.IPv6Off}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The guest's apps may not listen yet: retry the connection until
	// they do (a refused connect answers at once).
	var conn *actnet.Conn
	for conn == nil {
		conn, err = client.DialTCP(ctx, netip.MustParseAddrPort("10.9.0.2:7"))
		if ctx.Err() != nil {
			t.Fatalf("dialing the guest's echo: %v", err)
		}
	}
	msg := bytes.Repeat([]byte("actnet on hvt "), 1000)
	go func() { conn.Write(msg); conn.CloseWrite() }()
	got, err := io.ReadAll(conn)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("TCP echo: %d of %d bytes back, err %v", len(got), len(msg), err)
	}
	conn.Close()

	u, err := client.DialUDP(ctx, netip.AddrPort{}, netip.MustParseAddrPort("10.9.0.2:7"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	u.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := u.Read(buf); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("UDP echo: %q, %v", buf[:n], err)
	}

	s, err := client.DialUDP(ctx, netip.AddrPort{}, netip.MustParseAddrPort("10.9.0.2:9"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("not yet")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte(shutdownRequest + "\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("guest exited %d:\n%s", code, out.String())
		}
	case <-ctx.Done():
		t.Fatal("the guest did not end after the shutdown request")
	}
	for _, want := range []string{"tcp", "udp", "device: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("counters lack %q:\n%s", want, out.String())
		}
	}
}

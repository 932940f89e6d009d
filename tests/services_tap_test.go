package tests

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/actnet/actnet/internal/syncbuf"
)

// Issue 11's acceptance for the resolver, Happy Eyeballs and the client
// commands: in a namespace, tap0's Linux end runs dnsmasq (svc.test with
// an A and an AAAA record, big.test with 100 A records), Python's
// http.server on both families and openssl s_server -WWW with a
// certificate made here; `actnet resolve` and `actnet get` each start
// their own stack on tap0 with a static IPv6 address.
const (
	svcStack6  = "2001:db8:1::2" // the client stack's static IPv6 address
	svcHTTP    = "8000"
	svcHTTPS   = "8443"
	svcFile    = "file.bin"
	svcFileLen = 300 * 1024
)

// servicesLink makes tap0 in n with Linux at 10.77.0.1/24 and
// 2001:db8:1::1/64 (no DAD on Linux's side), and starts dnsmasq, the
// HTTP and the HTTPS servers there. It returns the folder holding the
// served file and the certificate (cert.pem).
func servicesLink(t *testing.T, n *netns) (dir string) {
	t.Helper()
	webLink(t, n)

	dir = t.TempDir()
	// dnsmasq answers from a hosts file only (--no-hosts leaves
	// /etc/hosts out, --no-resolv any upstream), bound to tap0 alone;
	// --local=/test/ makes every other name under test. NXDOMAIN.
	hosts := fmt.Sprintf("%s svc.test\n%s svc.test\n", tapLinux, v6Linux)
	for i := 1; i <= 100; i++ {
		hosts += fmt.Sprintf("10.78.0.%d big.test\n", i)
	}
	write(t, filepath.Join(dir, "hosts"), []byte(hosts))
	dnsmasq := n.start("dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--addn-hosts="+filepath.Join(dir, "hosts"), "--local=/test/", "--interface=tap0", "--bind-interfaces",
		"--except-interface=lo", "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--user=root", "--log-facility=-",
		// DHCP too, for the client that learns its DNS server from its
		// lease (dnsmasq names itself).
		"--dhcp-range=10.77.0.100,10.77.0.100,255.255.255.0,2m", "--dhcp-leasefile="+filepath.Join(dir, "leases"))

	body := make([]byte, svcFileLen)
	rand.Read(body)
	write(t, filepath.Join(dir, svcFile), body)
	certPEM, keyPEM := selfSignedPEM(t, "svc.test", []string{"svc.test"}, tapLinux, v6Linux)
	write(t, filepath.Join(dir, "cert.pem"), certPEM)
	write(t, filepath.Join(dir, "key.pem"), keyPEM)
	// --bind :: serves both families (Python's http.server clears
	// IPV6_V6ONLY); s_server -WWW serves files from its folder.
	httpd := n.start("python3", "-m", "http.server", svcHTTP, "--bind", "::", "--directory", dir)
	tlsd := n.start("sh", "-c", "cd "+dir+" && exec openssl s_server -quiet -WWW -accept [::]:"+svcHTTPS+" -cert cert.pem -key key.pem")
	for _, l := range []struct {
		p     *process
		proto string
		port  string
	}{{dnsmasq, "u", "53"}, {httpd, "t", svcHTTP}, {tlsd, "t", svcHTTPS}} {
		eventually(t, 20*time.Second, "a listener on port "+l.port, func() bool {
			select {
			case <-l.p.done:
				t.Fatalf("%v exited: %v\n%s%s", l.p.cmd.Args, l.p.err, l.p.stdout.String(), l.p.stderr.String())
			default:
			}
			out, _ := n.cmd(t.Context(), "ss", "-Hln"+l.proto, "sport = :"+l.port).Output()
			return strings.TrimSpace(string(out)) != ""
		})
	}
	return dir
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// client runs `actnet resolve` or `actnet get` on tap0 with the stack
// flags of these tests, bounded in time, and returns its exit code and
// output.
func client(t *testing.T, n *netns, command string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return clientOn(t, n, []string{"--ipv4", tapStack + "/24", "--mac", v6MAC,
		"--ipv6", svcStack6 + "/64", "--nameserver", tapLinux}, command, args...)
}

// clientOn is client with the given stack flags (besides --tap tap0).
func clientOn(t *testing.T, n *netns, stackFlags []string, command string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	all := append(append([]string{command, "--tap", "tap0"}, stackFlags...), args...)
	cmd := n.cmd(ctx, actnetBinary(t), all...)
	var out, errOut syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("actnet %s did not end within 90 s\n%s", strings.Join(all, " "), errOut.String())
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("actnet %s: %v", command, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func TestTapResolveAndGet(t *testing.T) {
	requireNetns(t, "dnsmasq", "openssl", "python3", "nft", "ss", "sysctl")
	n := newNetns(t)
	dir := servicesLink(t, n)

	t.Run("resolve", func(t *testing.T) {
		code, out, errOut := client(t, n, "resolve", "-v", "svc.test", "big.test")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || lines[0] != "svc.test: "+tapLinux+" "+v6Linux {
			t.Fatalf("output %q, want svc.test: %s %s first", out, tapLinux, v6Linux)
		}
		got := strings.Fields(strings.TrimPrefix(lines[1], "big.test:"))
		var want []string
		for i := 1; i <= 100; i++ {
			want = append(want, fmt.Sprintf("10.78.0.%d", i))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !strings.HasPrefix(lines[1], "big.test: ") || !slices.Equal(got, want) {
			t.Fatalf("big.test gave %d addresses, want the 100: %q", len(got), lines[1])
		}
		// The 100 records do not fit 1232 bytes: the UDP reply came
		// truncated and the query went again over TCP.
		if !strings.Contains(errOut, "1 truncated, 1 TCP queries") {
			t.Errorf("resolver counters %q, want one truncated reply retried over TCP", errOut)
		}
	})

	t.Run("resolve with the DNS server of a DHCP lease", func(t *testing.T) {
		// No --nameserver and no static address: the stack leases
		// 10.77.0.100 and learns dnsmasq as its DNS server (RFC 2131
		// option 6), which answers.
		code, out, errOut := clientOn(t, n, []string{"--ipv4", "dhcp", "--ipv6", "none", "--mac", "02:00:00:00:01:99"}, "resolve", "svc.test")
		if code != 0 || strings.TrimSpace(out) != "svc.test: "+tapLinux+" "+v6Linux {
			t.Fatalf("exit %d, output %q, want svc.test: %s %s\n%s", code, out, tapLinux, v6Linux, errOut)
		}
	})

	t.Run("missing name", func(t *testing.T) {
		code, out, errOut := client(t, n, "resolve", "nope.test")
		t.Logf("stderr: %s", errOut)
		if code != 1 || out != "" || !strings.Contains(errOut, "resolving nope.test failed") || !strings.Contains(errOut, "no such host") {
			t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and a clear message", code, out, errOut)
		}
	})

	sum := sha256.Sum256(mustRead(t, filepath.Join(dir, svcFile)))
	want := hex.EncodeToString(sum[:])
	check := func(t *testing.T, path string) {
		t.Helper()
		b := mustRead(t, path)
		s := sha256.Sum256(b)
		if got := hex.EncodeToString(s[:]); got != want || len(b) != svcFileLen {
			t.Fatalf("fetched %d bytes with SHA-256 %s, want %d bytes with %s", len(b), got, svcFileLen, want)
		}
	}
	for _, c := range []struct {
		name string
		url  string
		args []string
	}{
		{"http", "http://svc.test:" + svcHTTP + "/" + svcFile, nil},
		{"https", "https://svc.test:" + svcHTTPS + "/" + svcFile, []string{"--ca", filepath.Join(dir, "cert.pem")}},
	} {
		t.Run("get "+c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, errOut := client(t, n, "get", append(c.args, "-v", "-o", out, c.url)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, errOut)
			}
			check(t, out)
			// Both families work: IPv6 wins.
			if !strings.Contains(errOut, "connected to ["+v6Linux+"]:") || !strings.Contains(errOut, "(IPv6)") {
				t.Errorf("-v says %q, want a connection over IPv6", errOut)
			}
		})
	}

	t.Run("https without the CA", func(t *testing.T) {
		code, _, errOut := client(t, n, "get", "-o", filepath.Join(t.TempDir(), "out"), "https://svc.test:"+svcHTTPS+"/"+svcFile)
		if code != 5 || !strings.Contains(errOut, "TLS handshake with svc.test:"+svcHTTPS+" failed") {
			t.Fatalf("exit %d, %q; want 5 and the TLS handshake named", code, errOut)
		}
	})

	t.Run("get with IPv6 blackholed", func(t *testing.T) {
		// Linux drops every TCP segment to its IPv6 address on the
		// servers' ports (neighbour discovery still works): the IPv6
		// attempt hangs, and IPv4 starts 250 ms later and wins.
		n.mustRun("nft", "add table inet actnet_bh")
		n.mustRun("nft", "add chain inet actnet_bh in { type filter hook input priority 0 ; }")
		n.mustRun("nft", "add rule inet actnet_bh in ip6 daddr "+v6Linux+" tcp dport { "+svcHTTP+", "+svcHTTPS+" } drop")
		defer n.mustRun("nft", "delete table inet actnet_bh")
		out := filepath.Join(t.TempDir(), "out")
		// --timeout 3s bounds the fetch (resolution, both attempts and
		// the transfer): exit 0 means it took less.
		code, stdout, errOut := client(t, n, "get", "-v", "--timeout", "3s", "-o", out, "http://svc.test:"+svcHTTP+"/"+svcFile)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, errOut)
		}
		check(t, out)
		if !strings.Contains(errOut, "connected to "+tapLinux+":"+svcHTTP+" (IPv4)") || !strings.Contains(errOut, "attempt ["+v6Linux+"]:"+svcHTTP) {
			t.Errorf("-v says %q, want an IPv6 attempt, then IPv4 connected", errOut)
		}
	})

	t.Run("get connect refused", func(t *testing.T) {
		code, _, errOut := client(t, n, "get", "http://svc.test:9/")
		t.Logf("stderr: %s", errOut)
		if code != 4 || !strings.Contains(errOut, "connecting to svc.test:9 failed") || !strings.Contains(errOut, tapLinux+":9") || !strings.Contains(errOut, v6Linux) {
			t.Fatalf("exit %d, %q; want 4 naming both addresses", code, errOut)
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

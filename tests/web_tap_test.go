package tests

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
)

// Issue 11's HTTPS acceptance, on a tap in a namespace of its own: the
// stack has 10.77.0.2 and the static 2001:db8:1::2, Linux 10.77.0.1 and
// 2001:db8:1::1.
const webStack6 = "2001:db8:1::2"

// webLink makes tap0 in n with Linux's IPv4 and IPv6 addresses on it (no
// DAD on Linux's side: the stack is its only neighbour).
func webLink(t *testing.T, n *netns) {
	t.Helper()
	n.mustRun("ip", "tuntap", "add", "tap0", "mode", "tap")
	n.mustRun("ip", "addr", "add", tapLinux+"/24", "dev", "tap0")
	n.mustRun("sysctl", "-qw", "net.ipv6.conf.tap0.accept_dad=0")
	n.mustRun("ip", "-6", "addr", "add", v6Linux+"/64", "dev", "tap0", "nodad")
	n.mustRun("ip", "link", "set", "tap0", "up")
}

// serveWeb starts actnet serve on tap0 with a static IPv6 address and
// args, and waits until both of its addresses answer ping.
func serveWeb(t *testing.T, n *netns, args ...string) *process {
	t.Helper()
	all := append([]string{"serve", "--tap", "tap0", "--ipv4", tapStack + "/24", "--ipv6", webStack6 + "/64",
		"--log-level", "info"}, args...)
	stack := n.start(actnetBinary(t), all...)
	waitReachable(t, n, stack)
	waitPing6(t, n, stack, 20*time.Second, webStack6)
	return stack
}

// writeTestCert writes a self-signed certificate for the stack's two
// addresses, and its key, as PEM files in dir. It is made here, not by
// apps/tlsutil, so the stack is checked with a certificate of a stranger's
// making.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM := selfSignedPEM(t, "web tap test", nil, tapStack, webStack6)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// curl runs Linux's curl in n with args and returns its output; a
// transfer that fails fails the test.
func curl(t *testing.T, n *netns, args ...string) string {
	t.Helper()
	return n.mustRun("curl", append([]string{"-sS", "--max-time", "60"}, args...)...)
}

// TestTapHTTPS: Linux curl, trusting the certificate the stack was given
// with --cert/--key, gets 200 and the greeting from the https app over
// IPv4 and IPv6, 300000 bytes from /bytes byte for byte, a 400 for a bad
// n, and a /metrics page that parses as Prometheus text and counts the
// connections curl made.
func TestTapHTTPS(t *testing.T) {
	requireNetns(t, "curl", "ping", "sysctl")
	ns := newNetns(t)
	webLink(t, ns)
	dir := t.TempDir()
	certFile, keyFile := writeTestCert(t, dir)
	stack := serveWeb(t, ns, "--app", "https:8443", "--cert", certFile, "--key", keyFile)

	want := make([]byte, 300000)
	for i := range want {
		want[i] = byte(i) // apps/web's pattern: byte k is k mod 256
	}
	for _, host := range []string{tapStack, "[" + webStack6 + "]"} {
		base := "https://" + host + ":8443"
		t.Run("hello "+host, func(t *testing.T) {
			out := curl(t, ns, "--cacert", certFile, "-w", "\n%{http_code}", base+"/")
			i := strings.LastIndex(out, "\n")
			body, code := out[:i], out[i+1:]
			linux := tapLinux
			if strings.HasPrefix(host, "[") {
				linux = "[" + v6Linux + "]"
			}
			if code != "200" || !strings.HasPrefix(body, "hello from actnet at "+host+":8443; you are "+linux+":") {
				t.Errorf("GET /: %s %q", code, body)
			}
		})
		t.Run("300000 bytes from "+host, func(t *testing.T) {
			file := filepath.Join(dir, "bytes")
			code := curl(t, ns, "--cacert", certFile, "-o", file, "-w", "%{http_code}", base+"/bytes?n=300000")
			got, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if code != "200" || !bytes.Equal(got, want) {
				t.Errorf("status %s, %d bytes (equal: %v)", code, len(got), bytes.Equal(got, want))
			}
		})
	}
	t.Run("bad n", func(t *testing.T) {
		out := curl(t, ns, "--cacert", certFile, "-w", "\n%{http_code}", "https://"+tapStack+":8443/bytes?n=lots")
		if !strings.HasSuffix(out, "\n400") || !strings.Contains(out, "whole number of bytes") {
			t.Errorf("got %q, want a 400 with the reason", out)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		out := curl(t, ns, "--fail", "--cacert", certFile, "https://["+webStack6+"]:8443/metrics")
		var p expfmt.TextParser
		fams, err := p.TextToMetricFamilies(strings.NewReader(out))
		if err != nil {
			t.Fatalf("/metrics does not parse as Prometheus text: %v\n%s", err, out)
		}
		// Two greetings, two streams and a bad n came before.
		if f := fams["actnet_tcp_passive_connection_openings_total"]; f == nil || f.GetMetric()[0].GetCounter().GetValue() < 5 {
			t.Errorf("passive openings: %v, want at least 5", f)
		}
		if f := fams["actnet_tcp_open_connections"]; f == nil || f.GetMetric()[0].GetGauge().GetValue() < 1 {
			t.Errorf("open connections: %v, want this one at least", f)
		}
	})
	if code := stack.stop(t, syscall.SIGINT, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT\n%s", code, stack.stderr.String())
	}
}

// TestTapHTTPSSelfSigned: without --cert/--key the stack makes its own
// certificate and logs its SHA-256 fingerprint; the certificate openssl
// receives in a handshake over each family has that fingerprint, names
// the stack's addresses, and curl trusting it alone gets 200.
func TestTapHTTPSSelfSigned(t *testing.T) {
	requireNetns(t, "curl", "ping", "sysctl", "openssl", "sh")
	ns := newNetns(t)
	webLink(t, ns)
	stack := serveWeb(t, ns, "--app", "https:443", "--app", "http:80")
	m := regexp.MustCompile(`sha256_fingerprint=([0-9A-F:]{95})`).FindStringSubmatch(stack.stderr.String())
	if m == nil {
		t.Fatalf("no fingerprint logged:\n%s", stack.stderr.String())
	}
	logged := m[1]
	dir := t.TempDir()
	for i, host := range []string{tapStack, "[" + webStack6 + "]"} {
		out := ns.mustRun("sh", "-c", "openssl s_client -connect "+host+":443 </dev/null 2>/dev/null | openssl x509")
		block, _ := pem.Decode([]byte(out))
		if block == nil {
			t.Fatalf("%s: no certificate from openssl s_client:\n%s", host, out)
		}
		sum := sha256.Sum256(block.Bytes)
		var hex []string
		for _, b := range sum {
			hex = append(hex, fmt.Sprintf("%02X", b))
		}
		if got := strings.Join(hex, ":"); got != logged {
			t.Errorf("%s: the certificate's fingerprint is %s, the log says %s", host, got, logged)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := cert.VerifyHostname(strings.Trim(host, "[]")); err != nil {
			t.Errorf("the self-signed certificate does not name %s: %v", host, err)
		}
		ca := filepath.Join(dir, fmt.Sprintf("ca%d.pem", i))
		os.WriteFile(ca, []byte(out), 0o600)
		if code := curl(t, ns, "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", "https://"+host+"/"); code != "200" {
			t.Errorf("https://%s/: %s", host, code)
		}
		if code := curl(t, ns, "-o", "/dev/null", "-w", "%{http_code}", "http://"+host+"/metrics"); code != "200" {
			t.Errorf("http://%s/metrics: %s", host, code)
		}
	}
}

package tlsutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/actnet/actnet/internal/stacktest"
)

var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestSelfSigned(t *testing.T) {
	v4, v6 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fe80::1%tap0")
	cert, err := SelfSigned([]netip.Addr{v4, v6, v4, {}}, []string{"svc.test", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if got := strings.Join(leaf.DNSNames, " "); got != "localhost svc.test" {
		t.Errorf("DNS names %q, want localhost and svc.test once each", got)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("10.0.0.2")) || !leaf.IPAddresses[1].Equal(net.ParseIP("fe80::1")) {
		t.Errorf("IP addresses %v, want 10.0.0.2 and fe80::1 (zone dropped)", leaf.IPAddresses)
	}
	if !leaf.NotBefore.Before(now) || !leaf.NotAfter.Equal(now.Add(SelfSignedValidity)) {
		t.Errorf("valid %v to %v, want from before %v for %v", leaf.NotBefore, leaf.NotAfter, now, SelfSignedValidity)
	}
	if leaf.SerialNumber.Sign() <= 0 || len(leaf.SerialNumber.Bytes()) > 20 {
		t.Errorf("serial %v: RFC 5280 wants a positive number of at most 20 octets", leaf.SerialNumber)
	}
	// It verifies against itself, for every name and address it carries,
	// at the time it was made, and for no other name.
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, name := range []string{"localhost", "svc.test", "10.0.0.2", "fe80::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, CurrentTime: now}); err != nil {
			t.Errorf("verify as %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "other.test", CurrentTime: now}); err == nil {
		t.Error("verified for a name it does not carry")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", CurrentTime: now.Add(SelfSignedValidity + time.Hour)}); err == nil {
		t.Error("verified after it expired")
	}
}

func TestFingerprint(t *testing.T) {
	// SHA-256("abc") from FIPS 180-2's examples.
	want := "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
	if got := Fingerprint([]byte("abc")); got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
}

// The fingerprint reads as openssl prints it, when openssl is there to ask.
func TestFingerprintMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("needs openssl")
	}
	cert, err := SelfSigned(nil, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(file, CertPEM(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	_, printed, _ := strings.Cut(strings.TrimSpace(string(out)), "=")
	if got := Fingerprint(cert.Certificate[0]); got != printed {
		t.Errorf("Fingerprint = %s, openssl printed %s", got, printed)
	}
}

// writePair writes a certificate and its key as PEM files.
func writePair(t *testing.T, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, CertPEM(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestServerConfig(t *testing.T) {
	cert, err := SelfSigned(nil, []string{"files.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writePair(t, cert)

	cfg, fp, self, err := ServerConfig(ServerOptions{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if self || fp != Fingerprint(cert.Certificate[0]) || cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("from files: self-signed %v, fingerprint %s, min version %x", self, fp, cfg.MinVersion)
	}

	cfg, fp, self, err = ServerConfig(ServerOptions{Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	made := cfg.Certificates[0]
	if !self || fp != Fingerprint(made.Certificate[0]) || !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fp) {
		t.Errorf("self-signed: %v, fingerprint %s", self, fp)
	}
	if !made.Leaf.NotAfter.Equal(now.Add(SelfSignedValidity)) {
		t.Errorf("Now was not used: valid until %v", made.Leaf.NotAfter)
	}

	for _, bad := range []ServerOptions{
		{CertFile: certFile},
		{KeyFile: keyFile},
		{CertFile: certFile, KeyFile: certFile},
		{CertFile: filepath.Join(t.TempDir(), "missing.pem"), KeyFile: keyFile},
	} {
		if _, _, _, err := ServerConfig(bad); err == nil {
			t.Errorf("ServerConfig(%+v) succeeded", bad)
		}
	}
}

func TestClientConfig(t *testing.T) {
	cert, err := SelfSigned(nil, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writePair(t, cert)
	cfg, err := ClientConfig(ClientOptions{CAFile: certFile, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || cfg.InsecureSkipVerify || cfg.ServerName != "localhost" {
		t.Errorf("config %+v", cfg)
	}
	if _, err := ClientConfig(ClientOptions{CAFile: keyFile}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a key file as CA file: %v", err)
	}
	if _, err := ClientConfig(ClientOptions{CAFile: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("a missing CA file was accepted")
	}
	if cfg, err := ClientConfig(ClientOptions{Insecure: true}); err != nil || !cfg.InsecureSkipVerify || cfg.RootCAs != nil {
		t.Errorf("insecure: %+v, %v", cfg, err)
	}
}

// A client dials a TLS server on the other stack over both families,
// verifying the self-signed certificate by the address it dialed; without
// the CA it refuses the server, and insecurely it accepts it.
func TestHandshakeOverActnet(t *testing.T) {
	a, b := stacktest.Pair(t)
	srvCfg, _, _, err := ServerConfig(ServerOptions{Addrs: []netip.Addr{stacktest.B4, stacktest.B6}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.Listen("tcp", ":8443")
	if err != nil {
		t.Fatal(err)
	}
	tl := NewListener(l, srvCfg)
	defer tl.Close()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	certFile, _ := writePair(t, srvCfg.Certificates[0])
	trusting, err := ClientConfig(ClientOptions{CAFile: certFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, addr := range []string{"10.0.0.2:8443", "[2001:db8::2]:8443"} {
		c, err := DialContext(ctx, a, "tcp", addr, trusting)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if _, err := io.WriteString(c, "ping over "+addr); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len("ping over "+addr))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping over "+addr {
			t.Fatalf("%s: echoed %q, %v", addr, got, err)
		}
		if v := c.ConnectionState().Version; v < tls.VersionTLS12 {
			t.Errorf("TLS version %x", v)
		}
		c.Close()
	}
	system, _ := ClientConfig(ClientOptions{})
	if _, err := DialContext(ctx, a, "tcp", "10.0.0.2:8443", system); err == nil || !strings.Contains(err.Error(), "TLS handshake with 10.0.0.2:8443") {
		t.Errorf("an unknown self-signed certificate: %v", err)
	}
	insecure, _ := ClientConfig(ClientOptions{Insecure: true})
	c, err := DialContext(ctx, a, "tcp", "[2001:db8::2]:8443", insecure)
	if err != nil {
		t.Fatalf("insecure: %v", err)
	}
	c.Close()
	if _, err := DialContext(ctx, a, "tcp", "10.0.0.2", trusting); err == nil {
		t.Error("an address without a port was dialed")
	}
}

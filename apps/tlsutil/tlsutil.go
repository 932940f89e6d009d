// Package tlsutil sets up TLS (crypto/tls) over actnet's connections: a
// server configuration from certificate and key files, or from a
// self-signed certificate made at start; a client configuration that
// trusts a CA file, the system's roots, or (on request) anything; and
// dialing and listening helpers that wrap any net.Conn or net.Listener,
// actnet's included. It holds no protocol code of its own: crypto/tls does
// the handshake and the records.
package tlsutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// SelfSignedValidity is how long a self-signed certificate made by
// SelfSigned is valid: long enough for a server that runs for weeks, short
// enough that a stray copy does not outlive its use by years.
const SelfSignedValidity = 90 * 24 * time.Hour

// clockSkew backdates a new certificate's NotBefore, so that a client whose
// clock runs a little behind the server's does not reject it as not yet
// valid.
const clockSkew = time.Hour

// SelfSigned makes a self-signed server certificate with an ECDSA P-256
// key, valid from now (less an hour of allowed clock skew) for
// SelfSignedValidity. Its subject alternative names are addrs (IP
// addresses, zones dropped) and names (DNS names); "localhost" is always
// among the names. The certificate is its own issuer and may be given to a
// client as a CA (curl --cacert), as it is marked as one.
func SelfSigned(addrs []netip.Addr, names []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating a P-256 key: %w", err)
	}
	// RFC 5280 §4.1.2.2: a positive serial number of at most 20 octets.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("drawing a serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: "actnet self-signed", Organization: []string{"actnet"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(SelfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	seen := map[string]bool{}
	for _, n := range append([]string{"localhost"}, names...) {
		if n != "" && !seen[n] {
			seen[n] = true
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	for _, a := range addrs {
		if !a.IsValid() || seen[a.WithZone("").String()] {
			continue
		}
		a = a.WithZone("")
		seen[a.String()] = true
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("signing the certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("reading back the certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Fingerprint is the SHA-256 fingerprint of a DER certificate written as
// `openssl x509 -noout -fingerprint -sha256` writes it after its "=":
// upper-case hex bytes joined by colons.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// CertPEM is the PEM encoding of a certificate chain, leaf first, as a
// client's CA file or curl --cacert wants it.
func CertPEM(cert tls.Certificate) []byte {
	var b []byte
	for _, der := range cert.Certificate {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return b
}

// ServerOptions says where a server's certificate comes from.
type ServerOptions struct {
	// CertFile and KeyFile are PEM files of the certificate chain and its
	// private key; both or neither.
	CertFile, KeyFile string
	// Without files, a self-signed certificate is made for these
	// addresses and names (see SelfSigned).
	Addrs []netip.Addr
	Names []string
	// Now is the time the self-signed certificate starts from; zero means
	// time.Now().
	Now time.Time
}

// ServerConfig builds a server configuration (TLS 1.2 at least) from
// opts, and returns with it the SHA-256 fingerprint of the leaf
// certificate, for the log: a user compares it with what the client sees.
// selfSigned tells whether the certificate was made here.
func ServerConfig(opts ServerOptions) (cfg *tls.Config, fingerprint string, selfSigned bool, err error) {
	var cert tls.Certificate
	switch {
	case (opts.CertFile == "") != (opts.KeyFile == ""):
		return nil, "", false, errors.New("a certificate file needs its key file and a key file its certificate file")
	case opts.CertFile != "":
		cert, err = tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, "", false, fmt.Errorf("loading %s and %s: %w", opts.CertFile, opts.KeyFile, err)
		}
	default:
		now := opts.Now
		if now.IsZero() {
			now = time.Now()
		}
		cert, err = SelfSigned(opts.Addrs, opts.Names, now)
		if err != nil {
			return nil, "", false, err
		}
		selfSigned = true
	}
	cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return cfg, Fingerprint(cert.Certificate[0]), selfSigned, nil
}

// ClientOptions says whom a client trusts.
type ClientOptions struct {
	// CAFile is a PEM file of the certificates to trust instead of the
	// system's roots.
	CAFile string
	// Insecure skips verifying the server's certificate (curl -k): the
	// connection is encrypted but its peer unknown.
	Insecure bool
	// ServerName is the name to verify and send in SNI; DialContext fills
	// it from the address when empty.
	ServerName string
}

// ClientConfig builds a client configuration (TLS 1.2 at least) from opts.
func ClientConfig(opts ClientOptions) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: opts.ServerName, InsecureSkipVerify: opts.Insecure, MinVersion: tls.VersionTLS12}
	if opts.CAFile != "" {
		data, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("%s holds no PEM certificate", opts.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// ContextDialer dials a stream connection; *actnet.Stack is one, and so
// is *net.Dialer.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// DialContext connects through d to address and completes a TLS
// handshake within ctx. Without a ServerName in cfg, the host part of
// address is verified (an IP address against the certificate's IP
// addresses). A failed handshake closes the connection and says so.
func DialContext(ctx context.Context, d ContextDialer, network, address string, cfg *tls.Config) (*tls.Conn, error) {
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			conn.Close()
			return nil, err
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", address, err)
	}
	return tc, nil
}

// NewListener wraps l so that each connection it accepts is a TLS server
// connection with cfg; the handshake runs on the first Read or Write (or
// an explicit Handshake), so Accept never blocks on a slow client.
func NewListener(l net.Listener, cfg *tls.Config) net.Listener { return tls.NewListener(l, cfg) }

package tlsecho

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet/apps/tlsutil"
	"github.com/actnet/actnet/internal/stacktest"
)

// Over the memory link, on both families: a verified TLS client's bytes
// come back byte for byte (a stream larger than a TLS record and a TCP
// window); a client that is not TLS at all is counted as a failed
// handshake; Close ends every session.
func TestEchoOverActnet(t *testing.T) {
	a, b := stacktest.Pair(t)
	cfg, _, _, err := tlsutil.ServerConfig(tlsutil.ServerOptions{Addrs: []netip.Addr{stacktest.B4, stacktest.B6}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.Listen("tcp", ":7443")
	if err != nil {
		t.Fatal(err)
	}
	srv := Serve(l, cfg)
	pool := x509.NewCertPool()
	pool.AddCert(cfg.Certificates[0].Leaf)
	client := &tls.Config{RootCAs: pool}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	want := make([]byte, 200000)
	for i := range want {
		want[i] = byte(i * 7)
	}
	for _, addr := range []string{"10.0.0.2:7443", "[2001:db8::2]:7443"} {
		c, err := tlsutil.DialContext(ctx, a, "tcp", addr, client)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		go func() { c.Write(want); c.CloseWrite() }()
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d of %d bytes came back equal, %v", addr, len(got), len(want), err)
		}
		c.Close()
	}

	// Plain text where a ClientHello belongs.
	raw, err := a.DialContext(ctx, "tcp", "10.0.0.2:7443")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(raw, "GET / HTTP/1.0\r\n\r\n")
	io.ReadAll(raw) // the server answers with an alert and closes
	raw.Close()

	// A session left open is closed by Close.
	open, err := tlsutil.DialContext(ctx, a, "tcp", "[2001:db8::2]:7443", client)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(open, "x")
	io.ReadFull(open, make([]byte, 1))
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Error("a session survived Close")
	}
	st := srv.Stats()
	if st.Accepted != 4 || st.Sessions != 3 || st.HandshakeFailures != 1 || st.BytesEchoed != 2*uint64(len(want))+1 {
		t.Errorf("stats %+v, want 4 accepted, 3 sessions, 1 failed handshake, %d bytes", st, 2*len(want)+1)
	}
}

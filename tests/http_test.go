package tests

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/actnet/actnet/device"
)

// net/http and crypto/tls run on actnet unchanged: a TLS HTTP server on
// one stack's net.Listener, a client whose transport dials through the
// other stack.
func TestHTTPSOverActnet(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	l, err := b.Listen("tcp", ":443")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, "hello "+r.RemoteAddr+" "+strings.ToUpper(string(body)))
	}))
	srv.Listener = l
	srv.StartTLS()
	defer srv.Close()

	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return a.DialContext(ctx, network, netip.AddrPortFrom(b.Addr(), 443).String())
		},
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
	}}
	for i := 0; i < 3; i++ {
		resp, err := client.Post("https://example.com/", "text/plain", strings.NewReader("over actnet"))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := "hello " + a.Addr().String() + ":"; !strings.HasPrefix(string(body), want) || !strings.HasSuffix(string(body), "OVER ACTNET") {
			t.Fatalf("got %q", body)
		}
	}
}

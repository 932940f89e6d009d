package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps/tlsutil"
	"github.com/actnet/actnet/internal/stacktest"
	"github.com/actnet/actnet/internal/syncbuf"
)

// serve's http, https and tls-echo apps, started as serve starts them,
// answer a client on the other end of a memory link; the TLS apps share
// one self-signed certificate, whose fingerprint is logged, that names
// the stack's addresses.
func TestWebApps(t *testing.T) {
	a, b := stacktest.Pair(t)
	var logged syncbuf.Buffer
	log := actnet.DefaultLogger(&logged).Level(zerolog.InfoLevel)
	tlsf := &tlsFlags{static6: stacktest.B6}
	stop, err := startApps(b, appList{{"http", 80}, {"https", 443}, {"tls-echo", 7443}}, log, tlsf)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	leaf := tlsf.cfg.Certificates[0].Leaf
	m := regexp.MustCompile(`sha256_fingerprint=([0-9A-F:]+)`).FindAllStringSubmatch(logged.String(), -1)
	if len(m) != 1 || m[0][1] != tlsutil.Fingerprint(leaf.Raw) {
		t.Fatalf("want the certificate's fingerprint logged once:\n%s", logged.String())
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	client := &http.Client{Transport: &http.Transport{DialContext: a.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, url := range []string{"http://10.0.0.2/", "https://10.0.0.2/", "https://[2001:db8::2]/", "http://[2001:db8::2]/"} {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello from actnet") {
			t.Errorf("%s: %d %q", url, resp.StatusCode, body)
		}
	}
	resp, err := client.Get("https://10.0.0.2/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\nactnet_tcp_passive_connection_openings_total ") {
		t.Errorf("/metrics on the stack lacks the TCP counters:\n%.500s", body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := tlsutil.DialContext(ctx, a, "tcp", "[2001:db8::2]:7443", &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello tls-echo"))
	got := make([]byte, len("hello tls-echo"))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, []byte("hello tls-echo")) {
		t.Errorf("tls-echo: %q, %v", got, err)
	}
}

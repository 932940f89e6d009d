package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps/metrics"
	"github.com/actnet/actnet/apps/tlsutil"
	"github.com/actnet/actnet/internal/stacktest"
)

// serveOn runs the service on b's port 443 (both families) over TLS with a
// self-signed certificate, and returns a client on a that trusts it and
// dials whatever host its URL names through a.
func serveOn(t *testing.T, a, b *actnet.Stack) *http.Client {
	t.Helper()
	cfg, _, _, err := tlsutil.ServerConfig(tlsutil.ServerOptions{Addrs: []netip.Addr{stacktest.B4, stacktest.B6}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.Listen("tcp", ":443")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Handler(Options{Name: "test", Metrics: metrics.Handler(b.Stats, b.Gauges)}), nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tlsutil.NewListener(l, cfg)) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(cfg.Certificates[0].Leaf)
	return &http.Client{Transport: &http.Transport{
		DialContext:     a.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
}

func get(t *testing.T, c *http.Client, method, url string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, body
}

func TestRoutesOverActnet(t *testing.T) {
	a, b := stacktest.Pair(t)
	c := serveOn(t, a, b)
	for _, fam := range []struct{ host, client, server string }{
		{"10.0.0.2", "10.0.0.1:", "10.0.0.2:443"},
		{"[2001:db8::2]", "[2001:db8::1]:", "[2001:db8::2]:443"},
	} {
		base := "https://" + fam.host
		t.Run("hello "+fam.host, func(t *testing.T) {
			code, _, body := get(t, c, "GET", base+"/")
			want := "hello from test at " + fam.server + "; you are " + fam.client
			if code != 200 || !strings.HasPrefix(string(body), want) {
				t.Errorf("GET /: %d %q, want 200 %q...", code, body, want)
			}
		})
		t.Run("bytes "+fam.host, func(t *testing.T) {
			for _, n := range []int{0, 1, 255, 256, chunk + 1, 300000} {
				code, h, body := get(t, c, "GET", fmt.Sprintf("%s/bytes?n=%d", base, n))
				if code != 200 || len(body) != n || h.Get("Content-Length") != strconv.Itoa(n) {
					t.Fatalf("n=%d: status %d, %d bytes, Content-Length %q", n, code, len(body), h.Get("Content-Length"))
				}
				for k, got := range body {
					if got != byte(k%256) {
						t.Fatalf("n=%d: byte %d is %d, want %d", n, k, got, k%256)
					}
				}
			}
		})
	}
	t.Run("bad n", func(t *testing.T) {
		for _, q := range []string{"", "?n=", "?n=abc", "?n=-1", "?n=1.5", "?n=0x10", fmt.Sprintf("?n=%d", MaxBytes+1), "?n=99999999999999999999"} {
			code, _, body := get(t, c, "GET", "https://10.0.0.2/bytes"+q)
			if code != http.StatusBadRequest || !strings.Contains(string(body), "wants a whole number of bytes from 0 to 1073741824") {
				t.Errorf("/bytes%s: %d %q, want 400 with the reason", q, code, body)
			}
		}
	})
	t.Run("HEAD of the largest stream", func(t *testing.T) {
		code, h, body := get(t, c, "HEAD", fmt.Sprintf("https://10.0.0.2/bytes?n=%d", MaxBytes))
		if code != 200 || h.Get("Content-Length") != strconv.Itoa(MaxBytes) || len(body) != 0 {
			t.Errorf("HEAD: %d, Content-Length %q, %d bytes", code, h.Get("Content-Length"), len(body))
		}
	})
	t.Run("not found and not allowed", func(t *testing.T) {
		if code, _, _ := get(t, c, "GET", "https://10.0.0.2/nothing"); code != http.StatusNotFound {
			t.Errorf("GET /nothing: %d", code)
		}
		if code, _, _ := get(t, c, "POST", "https://10.0.0.2/"); code != http.StatusMethodNotAllowed {
			t.Errorf("POST /: %d", code)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		code, h, body := get(t, c, "GET", "https://[2001:db8::2]/metrics")
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET /metrics: %d %s", code, h.Get("Content-Type"))
		}
		var p expfmt.TextParser
		fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics is not Prometheus text: %v\n%s", err, body)
		}
		opens := fams["actnet_tcp_passive_connection_openings_total"]
		if opens == nil || opens.GetMetric()[0].GetCounter().GetValue() < 2 {
			t.Errorf("passive openings: %v (two families' connections came in)", opens)
		}
		if conns := fams["actnet_tcp_open_connections"]; conns == nil || conns.GetMetric()[0].GetGauge().GetValue() < 1 {
			t.Errorf("open connections: %v (this one is open)", conns)
		}
		if len(fams) < len(b.Stats().Values()) {
			t.Errorf("%d metric families, fewer than the stack's %d counters", len(fams), len(b.Stats().Values()))
		}
	})
}

// Without a metrics handler there is no /metrics page.
func TestNoMetrics(t *testing.T) {
	a, b := stacktest.Pair(t)
	l, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Handler(Options{}), nil)
	go srv.Serve(l)
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DialContext: a.DialContext}}
	if code, _, _ := get(t, c, "GET", "http://10.0.0.2/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics without Metrics: %d", code)
	}
	if code, _, body := get(t, c, "GET", "http://10.0.0.2/"); code != 200 || !strings.HasPrefix(string(body), "hello from actnet at 10.0.0.2:80") {
		t.Errorf("GET /: %d %q", code, body)
	}
}

// A client that resets its connection in the middle of a long stream ends
// the handler: its next write fails and it returns, instead of writing a
// gigabyte into the void.
func TestBytesEndsWhenClientLeaves(t *testing.T) {
	a, b := stacktest.Pair(t)
	l, err := b.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	h := Handler(Options{})
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(ended)
		h.ServeHTTP(w, r)
	}), nil)
	go srv.Serve(l)
	defer srv.Close()
	conn, err := a.DialContext(context.Background(), "tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /bytes?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", MaxBytes)
	if _, err := io.ReadFull(conn, make([]byte, 100000)); err != nil {
		t.Fatal(err)
	}
	conn.(interface{ SetLinger(int) error }).SetLinger(0)
	conn.Close() // a reset: the server's next write fails
	select {
	case <-ended:
	case <-time.After(time.Minute):
		t.Fatal("the /bytes handler still runs a minute after its client reset")
	}
}

func TestServerTimeouts(t *testing.T) {
	srv := NewServer(http.NotFoundHandler(), nil)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Errorf("a server without a bound: %+v", srv)
	}
}

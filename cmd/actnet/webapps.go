package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	stdlog "log"
	"net/http"
	"net/netip"
	"strings"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps/metrics"
	"github.com/actnet/actnet/apps/tlsecho"
	"github.com/actnet/actnet/apps/tlsutil"
	"github.com/actnet/actnet/apps/web"
)

// The HTTP, HTTPS and TLS echo app kinds, started through otherApps. Each
// listens on :PORT of the stack, so it serves both families.
func init() {
	appKinds["http"] = "HTTP: / says hello, /bytes?n=N streams N bytes, /metrics the stack's counters (Prometheus text)"
	appKinds["https"] = "the http app over TLS (--cert/--key, or a self-signed certificate)"
	appKinds["tls-echo"] = "TCP echo inside TLS (--cert/--key, or a self-signed certificate)"
	otherApps["http"] = func(env appEnv, port uint16) (func(), error) { return startWeb(env, port, false) }
	otherApps["https"] = func(env appEnv, port uint16) (func(), error) { return startWeb(env, port, true) }
	otherApps["tls-echo"] = startTLSEcho
	for _, kind := range []string{"http", "https", "tls-echo"} {
		availableApps[kind] = true
	}
}

// tlsFlags are serve's --cert and --key, for the apps that speak TLS. All
// of them share one server configuration, made once.
type tlsFlags struct {
	cert, key string
	// static6 is the static --ipv6 address, which the self-signed
	// certificate names although duplicate address detection may not
	// have cleared it yet when the certificate is made.
	static6 netip.Addr
	cfg     *tls.Config
}

func (f *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.cert, "cert", "", "PEM certificate (or chain) of the https and tls-echo apps, with --key; without them a self-signed certificate is made at start and its SHA-256 fingerprint logged")
	fs.StringVar(&f.key, "key", "", "PEM private key of --cert")
}

// usesTLS reports whether an app kind needs the TLS configuration.
func usesTLS(kind string) bool { return kind == "https" || kind == "tls-echo" }

// check refuses --cert without --key and the reverse, and files for no
// TLS app; it loads the files, so a bad one is found before the tap is
// opened.
func (f *tlsFlags) check(apps appList, log zerolog.Logger) error {
	if f.cert == "" && f.key == "" {
		return nil
	}
	if f.cert == "" || f.key == "" {
		return errors.New("--cert and --key go together")
	}
	need := false
	for _, a := range apps {
		need = need || usesTLS(a.Kind)
	}
	if !need {
		return errors.New("--cert and --key are of no use without an https or tls-echo app")
	}
	cfg, fp, _, err := tlsutil.ServerConfig(tlsutil.ServerOptions{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		return fmt.Errorf("--cert/--key: %w", err)
	}
	f.cfg = cfg
	log.Info().Str("cert", f.cert).Str("sha256_fingerprint", fp).Msg("TLS certificate loaded")
	return nil
}

// config returns the TLS configuration: the files', or a self-signed
// certificate made now for the stack's addresses (IPv4, the static IPv6
// address, and the IPv6 addresses usable by now; SLAAC addresses formed
// later are not in it: give --cert/--key for those, or check the
// fingerprint) and localhost.
func (f *tlsFlags) config(s *actnet.Stack, log zerolog.Logger) (*tls.Config, error) {
	if f.cfg != nil {
		return f.cfg, nil
	}
	addrs := []netip.Addr{s.Addr(), f.static6}
	for _, p := range s.IPv6Addrs() {
		addrs = append(addrs, p.Addr())
	}
	cfg, fp, _, err := tlsutil.ServerConfig(tlsutil.ServerOptions{Addrs: addrs})
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	f.cfg = cfg
	leaf := cfg.Certificates[0].Leaf
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	log.Info().Str("sha256_fingerprint", fp).Strs("dns", leaf.DNSNames).Strs("ips", ips).
		Time("not_after", leaf.NotAfter).
		Msg("TLS: self-signed certificate made (compare with: openssl x509 -noout -fingerprint -sha256)")
	return cfg, nil
}

// debugWriter hands net/http's complaints (failed handshakes, broken
// connections) to the log at debug level: a scanner's noise is no warning.
type debugWriter struct{ log zerolog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startWeb serves apps/web on :port, over TLS when secure, with the
// stack's own metrics at /metrics.
func startWeb(env appEnv, port uint16, secure bool) (func(), error) {
	kind := "http"
	var cfg *tls.Config
	if secure {
		kind = "https"
		var err error
		if cfg, err = env.tls.config(env.stack, env.log); err != nil {
			return nil, err
		}
	}
	l, err := env.stack.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, err
	}
	if secure {
		l = tlsutil.NewListener(l, cfg)
	}
	log := env.log.With().Str("app", kind).Uint16("port", port).Logger()
	h := web.Handler(web.Options{Metrics: metrics.Handler(env.stack.Stats, env.stack.Gauges)})
	srv := web.NewServer(h, stdlog.New(debugWriter{log}, "", 0))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("server stopped")
		}
	}()
	return func() {
		// Requests in flight get a moment to finish; then every connection
		// is closed.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}, nil
}

// startTLSEcho serves apps/tlsecho on :port.
func startTLSEcho(env appEnv, port uint16) (func(), error) {
	cfg, err := env.tls.config(env.stack, env.log)
	if err != nil {
		return nil, err
	}
	l, err := env.stack.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, err
	}
	srv := tlsecho.Serve(l, cfg)
	return func() {
		srv.Close()
		st := srv.Stats()
		env.log.Info().Str("app", "tls-echo").Uint16("port", port).Uint64("sessions", st.Sessions).
			Uint64("handshake_failures", st.HandshakeFailures).Uint64("bytes_echoed", st.BytesEchoed).Msg("stopped")
	}, nil
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/actnet/actnet/apps/happyeyeballs"
)

// get's exit codes, one per step that can fail (documented in the
// README and in `actnet help get`).
const (
	getOK         = 0
	getFailed     = 1 // the stack could not start, the output could not be written, or another failure
	getUsage      = 2 // bad command line
	getResolve    = 3 // the host's name did not resolve
	getConnect    = 4 // no address of the host accepted a connection
	getTLS        = 5 // the TLS handshake failed (certificate, protocol)
	getHTTPStatus = 6 // the server answered with a status other than 2xx
	getTransfer   = 7 // the request or the body's transfer broke off (or --timeout passed)
)

const getExitCodes = `Exit codes: 0 fetched; 1 the stack could not start, no --nameserver, or
the output could not be written; 2 bad command line; 3 resolution failed;
4 connect failed (every address); 5 TLS handshake failed; 6 HTTP status
not 2xx (the body is not written); 7 the transfer broke off or --timeout
passed.`

// get fetches one URL over the stack with the resolver and Happy Eyeballs.
func get(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("actnet get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addClientFlags(fs)
	var (
		caFile   = fs.String("ca", "", "PEM file of the certificate authorities to trust for https (default: the system's)")
		insecure = fs.Bool("k", false, "https: do not verify the server's certificate")
		outFile  = fs.String("o", "", "write the body to this file (default: standard output)")
		verbose  = fs.Bool("v", false, "tell on standard error how the name resolved, which address won and the timings")
		timeout  = fs.Duration("timeout", 5*time.Minute, "give up when the whole fetch takes longer")
	)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: actnet get --tap NAME --ipv4 ADDR/PREFIX --nameserver IP [--ca FILE] [-k] [-o FILE] [-v] [flags] URL")
		fmt.Fprintln(fs.Output(), getExitCodes)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return getOK
		}
		return getUsage
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "actnet get: "+format+"\n", a...)
		return getUsage
	}
	if err := cf.check(fs); err != nil {
		return bad("%v", err)
	}
	if fs.NArg() != 1 {
		return bad("give one URL (got %d arguments)", fs.NArg())
	}
	u, err := url.Parse(fs.Arg(0))
	switch {
	case err != nil:
		return bad("%v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("URL %q: want an http:// or https:// URL", fs.Arg(0))
	case u.Host == "":
		return bad("URL %q has no host", fs.Arg(0))
	case *timeout <= 0:
		return bad("--timeout must be positive")
	}
	tlsConfig := &tls.Config{InsecureSkipVerify: *insecure}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return bad("--ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return bad("--ca %s holds no PEM certificate", *caFile)
		}
		tlsConfig.RootCAs = pool
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "actnet get: "+format+"\n", a...)
		return code
	}

	log := cf.stack.logger(stderr)
	stack, err := cf.start(&log)
	if err != nil {
		return fail(getFailed, "%v", err)
	}
	defer stack.Close()
	servers, err := nameservers(cf.nameservers, stack.DNSServers)
	if err != nil {
		return fail(getFailed, "%v", err)
	}
	resolver, err := newResolver(stack, servers)
	if err != nil {
		return fail(getFailed, "%v", err)
	}
	dialer := &happyeyeballs.Dialer{Resolver: resolver, Dial: stack.DialContext}
	if *verbose {
		dialer.Report = func(r *happyeyeballs.Report) { printReport(stderr, r) }
	}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 30 * time.Second,
		Proxy:               nil, // the host's proxy settings are not the stack's
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	// The trace tells a failed TLS handshake from other failures: the
	// error http returns does not always say which step it came from.
	var mu sync.Mutex
	var tlsErr error
	start := time.Now()
	trace := &httptrace.ClientTrace{
		TLSHandshakeDone: func(st tls.ConnectionState, err error) {
			mu.Lock()
			tlsErr = err
			mu.Unlock()
			if err == nil && *verbose {
				fmt.Fprintf(stderr, "* TLS %s, %s, server name %s, after %v\n", tls.VersionName(st.Version),
					tls.CipherSuiteName(st.CipherSuite), st.ServerName, ms(time.Since(start)))
			}
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, u.String(), nil)
	if err != nil {
		return bad("%v", err)
	}
	req.Header.Set("User-Agent", "actnet-get")
	resp, err := client.Do(req)
	if err != nil {
		mu.Lock()
		herr := tlsErr
		mu.Unlock()
		code, msg := classify(err, herr, u)
		return fail(code, "%s", msg)
	}
	defer resp.Body.Close()
	if *verbose {
		fmt.Fprintf(stderr, "* %s %s, %s after %v\n", resp.Proto, resp.Status, sizeText(resp.ContentLength), ms(time.Since(start)))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(getHTTPStatus, "HTTP status %s from %s", resp.Status, u.Redacted())
	}

	var out io.Writer = stdout
	var file *os.File
	if *outFile != "" {
		file, err = os.Create(*outFile)
		if err != nil {
			return fail(getFailed, "-o: %v", err)
		}
		out = file
	}
	body := io.Reader(resp.Body)
	var bar *progress
	if isTerminal(stderr) {
		bar = &progress{w: stderr, total: resp.ContentLength, start: time.Now()}
		body = io.TeeReader(body, bar)
	}
	n, err := copyBody(out, body)
	if bar != nil {
		bar.finish()
	}
	if file != nil {
		if cerr := file.Close(); err == nil && cerr != nil {
			err = &writeError{cerr}
		}
	}
	if err != nil {
		if file != nil {
			os.Remove(*outFile) // no half file left behind
		}
		var we *writeError
		if errors.As(err, &we) {
			return fail(getFailed, "writing the body: %v", we.err)
		}
		return fail(getTransfer, "the transfer from %s broke off after %d bytes: %v", u.Redacted(), n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fail(getTransfer, "the transfer from %s ended after %d of %d bytes", u.Redacted(), n, resp.ContentLength)
	}
	if *verbose {
		el := time.Since(start)
		fmt.Fprintf(stderr, "* %d bytes in %v (%.1f KiB/s)\n", n, ms(el), float64(n)/1024/el.Seconds())
	}
	return getOK
}

// classify names the step a failed request failed at, with its exit code.
func classify(err, handshakeErr error, u *url.URL) (int, string) {
	var re *happyeyeballs.ResolveError
	var ce *happyeyeballs.ConnectError
	switch {
	case errors.As(err, &re):
		return getResolve, re.Error()
	case errors.As(err, &ce):
		return getConnect, ce.Error()
	case handshakeErr != nil:
		return getTLS, fmt.Sprintf("TLS handshake with %s failed: %v", u.Host, handshakeErr)
	case errors.Is(err, context.DeadlineExceeded):
		return getTransfer, fmt.Sprintf("fetching %s: --timeout passed: %v", u.Redacted(), err)
	}
	return getTransfer, fmt.Sprintf("fetching %s failed: %v", u.Redacted(), err)
}

// writeError marks a failure to write the output, as against reading.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// copyBody copies like io.Copy, telling write errors from read errors.
func copyBody(dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, rerr := src.Read(buf)
		if k > 0 {
			w, werr := dst.Write(buf[:k])
			n += int64(w)
			if werr != nil {
				return n, &writeError{werr}
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// printReport is -v's account of one dial.
func printReport(w io.Writer, r *happyeyeballs.Report) {
	for _, l := range []struct {
		name string
		l    *happyeyeballs.Lookup
	}{{"AAAA", r.AAAA}, {"A", r.A}} {
		switch {
		case l.l == nil:
		case l.l.At < 0:
			fmt.Fprintf(w, "* %s %s: no answer before the connection was made\n", l.name, r.Host)
		case l.l.Err != nil:
			fmt.Fprintf(w, "* %s %s: %v (after %v)\n", l.name, r.Host, l.l.Err, ms(l.l.At))
		default:
			fmt.Fprintf(w, "* %s %s: %v (after %v)\n", l.name, r.Host, l.l.Addrs, ms(l.l.At))
		}
	}
	for _, a := range r.Attempts {
		switch {
		case a.Err == nil:
			fmt.Fprintf(w, "* attempt %s: started at %v, connected at %v\n", a.Addr, ms(a.Start), ms(a.End))
		case errors.Is(a.Err, happyeyeballs.ErrCancelled):
			fmt.Fprintf(w, "* attempt %s: started at %v, cancelled\n", a.Addr, ms(a.Start))
		default:
			fmt.Fprintf(w, "* attempt %s: started at %v, failed at %v: %v\n", a.Addr, ms(a.Start), ms(a.End), a.Err)
		}
	}
	if r.Winner.IsValid() {
		family := "IPv4"
		if r.Winner.Addr().Is6() {
			family = "IPv6"
		}
		fmt.Fprintf(w, "* connected to %s (%s) in %v\n", r.Winner, family, ms(r.Elapsed))
	}
}

// ms rounds a duration for display.
func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }

func sizeText(n int64) string {
	if n < 0 {
		return "length unknown"
	}
	return fmt.Sprintf("%d bytes", n)
}

// isTerminal reports whether w is a terminal (a character device), where
// a progress bar belongs.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line progress bar, at most ten times a second.
type progress struct {
	w     io.Writer
	total int64
	done  int64
	start time.Time
	last  time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	const width = 30
	if p.total > 0 {
		filled := int(int64(width) * min(p.done, p.total) / p.total)
		fmt.Fprintf(p.w, "\r[%s%s] %3d%% %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			100*min(p.done, p.total)/p.total, kib(p.done))
		return
	}
	fmt.Fprintf(p.w, "\r%s", kib(p.done))
}

func (p *progress) finish() {
	p.draw()
	fmt.Fprintln(p.w)
}

func kib(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/1024) }

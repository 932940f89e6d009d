// Package web is the HTTP service actnet serves on its own network
// (`actnet serve --app http:PORT` and `https:PORT`): a greeting at /, a
// byte stream of any length at /bytes?n=N for throughput and integrity
// checks, and the stack's metrics at /metrics. It is a plain
// http.Handler, so a library user mounts it on any server, on any
// listener (an actnet Listener for both families), and NewServer gives it
// timeouts that keep a silent or stalled client from holding a goroutine
// forever.
package web

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

// MaxBytes is the largest n /bytes serves (1 GiB): enough for any
// throughput test, small enough that one request cannot keep a server
// busy for hours.
const MaxBytes = 1 << 30

// The server's timeouts. A request has ReadHeaderTimeout to send its
// headers and ReadTimeout for the whole of it (the service takes no
// bodies); a response that makes no progress for WriteStall is cut (the
// /bytes stream extends its deadline at each chunk, so a long stream to a
// reader that keeps up is never cut); a kept-alive connection is closed
// after IdleTimeout without a request. TLS handshakes fall under the read
// deadlines (net/http sets them before the handshake).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteStall        = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 16 << 10
)

// chunk is how much /bytes writes between deadline extensions.
const chunk = 32 << 10

// Options configures the handler.
type Options struct {
	// Name is the server's name in the greeting; "actnet" when empty.
	Name string
	// Metrics serves /metrics (apps/metrics.Handler for a stack); without
	// it, /metrics is not found.
	Metrics http.Handler
}

// Handler returns the service's routes: GET (and HEAD) of /, /bytes and
// /metrics; other paths are 404 and other methods 405.
func Handler(opts Options) http.Handler {
	name := opts.Name
	if name == "" {
		name = "actnet"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		local := "?"
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			local = a.String()
		}
		fmt.Fprintf(w, "hello from %s at %s; you are %s\n", name, local, r.RemoteAddr)
	})
	mux.HandleFunc("GET /bytes", serveBytes)
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	return mux
}

// PatternByte is byte k of every /bytes body: k mod 256, so a client
// checks a stream byte for byte and finds where it went wrong.
func PatternByte(k int64) byte { return byte(k) }

// serveBytes streams n bytes of the pattern, n from the query.
func serveBytes(w http.ResponseWriter, r *http.Request) {
	text := r.URL.Query().Get("n")
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 || n > MaxBytes {
		http.Error(w, fmt.Sprintf("bad n=%q: /bytes?n=N wants a whole number of bytes from 0 to %d", text, MaxBytes), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	var buf [chunk]byte
	for i := range buf {
		buf[i] = PatternByte(int64(i))
	}
	// chunk is a multiple of 256, so every chunk starts the pattern over.
	for sent := int64(0); sent < n; {
		// A server whose writer cannot extend deadlines (a test recorder)
		// still streams, under its server's WriteTimeout.
		_ = rc.SetWriteDeadline(time.Now().Add(WriteStall))
		m := min(int64(chunk), n-sent)
		if _, err := w.Write(buf[:m]); err != nil {
			return // the client went away or stalled; net/http closes the connection
		}
		sent += m
	}
}

// NewServer returns a server for h with the timeouts above. errorLog
// receives net/http's own complaints (failed TLS handshakes, broken
// connections); nil means the standard logger.
func NewServer(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteStall,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps/metrics"
)

// serveMetrics listens on addr on the host's own network (not the stack's:
// a scraper reaches it like any other exporter, whatever the stack is
// doing) and serves /metrics until stop is called. It returns the address
// it listens on, which tells a caller the port when addr asked for port 0.
func serveMetrics(addr string, stats func() actnet.Stats, gauges func() actnet.Gauges, log zerolog.Logger) (bound net.Addr, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(stats, gauges))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics server stopped")
		}
	}()
	return ln.Addr(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}

// printStatsOn prints the counters to w, in the format of the print at
// exit, each time a signal arrives on sig, until done is closed.
func printStatsOn(sig <-chan os.Signal, done <-chan struct{}, w io.Writer, stats func() actnet.Stats) {
	for {
		select {
		case <-sig:
			fmt.Fprint(w, stats().String())
		case <-done:
			return
		}
	}
}

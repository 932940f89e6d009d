package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"

	"github.com/actnet/actnet"
)

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("actnet serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addStackFlags(fs)
	var (
		cpuProf = fs.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
		traceTo = fs.String("trace", "", "write a Go execution trace of the whole run to this file (go tool trace): where a packet waits between goroutines")
		idle    = fs.Duration("idle-timeout", 5*time.Minute, "close a connection that moved no data either way for this long (reset it if the peer is not reading); 0 disables")
		metrics = fs.String("metrics", "", "serve the counters in the Prometheus text format at http://ADDR/metrics, on the host's network (e.g. 127.0.0.1:9464)")
		maxConn = fs.Int("max-connections", 0, "cap on TCP connections (any state but TIME-WAIT, whose compact entries have their own cap, Limits.MaxTimeWait); 0 sizes it from the memory available (16 KiB each)")
		apps    appList
		tlsf    tlsFlags
	)
	fs.Var(&apps, "app", "serve an app, KIND:PORT; repeatable (kinds: "+knownKinds()+"; default echo:9000)")
	tlsf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: actnet serve --tap NAME --ipv4 ADDR/PREFIX|dhcp [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "actnet serve: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if err := sf.check(fs); err != nil {
		return bad("%v", err)
	}
	if *idle < 0 {
		return bad("--idle-timeout %v is negative", *idle)
	}
	if len(apps) == 0 {
		apps = defaultApps
	}
	if err := checkApps(apps); err != nil {
		return bad("%v", err)
	}
	tcpConfig := sf.tcpConfig()
	tcpConfig.IdleTimeout = *idle
	log := sf.logger(stderr)
	if err := tlsf.check(apps, log); err != nil {
		return bad("%v", err)
	}
	tlsf.static6 = sf.ipv6.addr.Addr()

	sf.limits = actnet.Limits{MaxConns: maxConnections(*maxConn)}
	stack, err := sf.open(tcpConfig, &log)
	if err != nil {
		fmt.Fprintf(stderr, "actnet serve: %v\n", err)
		return 1
	}
	tap, ipv4, ipv6, mtu := sf.tap, sf.ipv4, sf.ipv6, sf.mtu
	log.Info().Str("tap", *tap).Str("ipv4", ipv4.String()).Str("ipv6", ipv6.String()).
		Str("mac", stack.HardwareAddr()).Int("mtu", *mtu).Str("offload", sf.offloads).Msg("actnet serving")
	// The IPv6 addresses are logged once duplicate address detection lets
	// them be used, by a goroutine that ends with the stack's life here.
	v6ctx, v6cancel := context.WithCancel(context.Background())
	v6done := make(chan struct{})
	go func() { defer close(v6done); logIPv6Ready(v6ctx, stack, ipv6.mode, log) }()
	stopV6 := func() { v6cancel(); <-v6done }
	defer stopV6()
	stopApps, err := startApps(stack, apps, log, &tlsf)
	if err != nil {
		stack.Close()
		fmt.Fprintf(stderr, "actnet serve: %v\n", err)
		return 1
	}

	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "actnet serve: --cpuprofile: %v\n", err)
			stack.Close()
			return 1
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *traceTo != "" {
		f, err := os.Create(*traceTo)
		if err == nil {
			err = trace.Start(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "actnet serve: --trace: %v\n", err)
			stack.Close()
			return 1
		}
		defer func() { trace.Stop(); f.Close() }()
	}
	if *metrics != "" {
		addr, stopMetrics, err := serveMetrics(*metrics, stack.Stats, stack.Gauges, log)
		if err != nil {
			fmt.Fprintf(stderr, "actnet serve: --metrics: %v\n", err)
			stopApps()
			stack.Close()
			return 1
		}
		defer stopMetrics()
		log.Info().Str("addr", addr.String()).Msg("serving metrics at /metrics")
	}
	// SIGUSR1 prints the counters while the stack runs, as the exit does.
	usr1 := make(chan os.Signal, 1)
	if len(statsSignals) > 0 { // Notify with no signals would relay them all
		signal.Notify(usr1, statsSignals...)
	}
	usr1Done := make(chan struct{})
	defer func() { signal.Stop(usr1); close(usr1Done) }()
	go printStatsOn(usr1, usr1Done, stderr, stack.Stats)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	code := 0
	select {
	case <-ctx.Done():
		log.Info().Msg("signal received; closing the stack")
	case <-stack.Failed():
		log.Error().Err(stack.Err()).Msg("stack failed")
		code = 1
	}
	stopV6()
	stopApps()
	stats := stack.Stats()
	if err := stack.Close(); err != nil {
		log.Warn().Err(err).Msg("closing the stack")
	}
	fmt.Fprint(stdout, stats.String())
	return code
}

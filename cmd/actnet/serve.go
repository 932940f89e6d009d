package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/tcp"
)

func serve(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("actnet serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		tap     = fs.String("tap", "", "tap device to attach to; created if missing (required)")
		ipv4    prefixFlag
		gateway addrFlag
		ipv6    ipv6Flag
		gw6     addr6Flag
		iid     iidFlag
		macText = fs.String("mac", "", "the stack's MAC address (default: random, locally administered)")
		mtu     = fs.Int("mtu", 1500, "link MTU")
		pcap    = fs.String("pcap", "", "write every frame, both directions, to this pcap file")
		level   = levelFlag{l: zerolog.InfoLevel}
		cpuProf = fs.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
		cc      = fs.String("tcp-cc", "cubic", "TCP congestion control: cubic (RFC 9438) or newreno (RFC 5681/6582)")
		noSACK  = fs.Bool("tcp-no-sack", false, "turn selective acknowledgments (RFC 2018/6675) off")
		noTS    = fs.Bool("tcp-no-timestamps", false, "turn TCP timestamps (RFC 7323) off")
		idle    = fs.Duration("idle-timeout", 5*time.Minute, "close a connection that moved no data either way for this long (reset it if the peer is not reading); 0 disables")
		metrics = fs.String("metrics", "", "serve the counters in the Prometheus text format at http://ADDR/metrics, on the host's network (e.g. 127.0.0.1:9464)")
		maxConn = fs.Int("max-connections", 0, "cap on TCP connections (any state, TIME-WAIT included); 0 sizes it from the memory available (16 KiB each)")
		apps    appList
	)
	fs.Var(&ipv4, "ipv4", "the stack's IPv4 address and prefix, e.g. 10.0.0.2/24 (required)")
	fs.Var(&gateway, "ipv4-gateway", "default IPv4 router for off-link destinations")
	fs.Var(&ipv6, "ipv6", "IPv6: auto (the default: a link-local address, plus SLAAC addresses and default routers from router advertisements), none (IPv6 off), or a static ADDR/PREFIX such as 2001:db8:1::2/64 (besides the link-local address)")
	fs.Var(&gw6, "ipv6-gateway", "default IPv6 router, link-local or on the --ipv6 prefix; only with a static --ipv6 (router advertisements may add others)")
	fs.Var(&iid, "ipv6-iid", "interface identifiers of the link-local and SLAAC addresses: eui64 (the default: from the MAC, RFC 4291), stable (RFC 7217; its secret is drawn at start, so stable while the process runs) or random")
	fs.Var(&level, "log-level", "log level: trace, debug, info, warn, error")
	fs.Var(&apps, "app", "serve an app, KIND:PORT; repeatable (kinds: echo, discard, source, crash, udp-echo; default echo:9000)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: actnet serve --tap NAME --ipv4 ADDR/PREFIX [flags]")
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
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case *tap == "":
		return bad("--tap is required")
	case !ipv4.p.IsValid():
		return bad("--ipv4 is required")
	case *idle < 0:
		return bad("--idle-timeout %v is negative", *idle)
	case *mtu < 576 || *mtu > 65535:
		return bad("--mtu %d is out of range (576 to 65535)", *mtu)
	case gateway.a.IsValid() && !ipv4.p.Contains(gateway.a):
		return bad("--ipv4-gateway %s is not on the link %s", gateway.a, ipv4.p.Masked())
	case gateway.a == ipv4.p.Addr():
		return bad("--ipv4-gateway %s is the stack's own address", gateway.a)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := checkIPv6(ipv6, gw6, set); err != nil {
		return bad("%v", err)
	}
	if *pcap != "" {
		if err := checkPcapPath(*pcap); err != nil {
			return bad("%v", err)
		}
	}
	if len(apps) == 0 {
		apps = defaultApps
	}
	if err := checkApps(apps); err != nil {
		return bad("%v", err)
	}
	tcpConfig := actnet.TCPConfig{NoSACK: *noSACK, NoTimestamps: *noTS, IdleTimeout: *idle}
	switch *cc {
	case "cubic":
		tcpConfig.Congestion = tcp.NewCubic
	case "newreno":
		tcpConfig.Congestion = tcp.NewNewReno
	default:
		return bad("--tcp-cc %q: want cubic or newreno", *cc)
	}
	var mac net.HardwareAddr
	if *macText != "" {
		var err error
		mac, err = net.ParseMAC(*macText)
		if err != nil || len(mac) != 6 || mac[0]&1 != 0 {
			return bad("--mac %q is not a unicast Ethernet address", *macText)
		}
	}
	log := actnet.DefaultLogger(stderr).Level(level.l)

	var dev device.Device
	dev, err := openTap(*tap, *mtu, mac)
	if err != nil {
		fmt.Fprintf(stderr, "actnet serve: opening tap %s: %v\n", *tap, err)
		return 1
	}
	if *pcap != "" {
		wrapped, err := device.OpenPcapFile(dev, *pcap)
		if err != nil {
			dev.Close()
			fmt.Fprintf(stderr, "actnet serve: %v\n", err)
			return 1
		}
		dev = wrapped
	}
	stack, err := actnet.New(actnet.Config{
		Device:      dev,
		IPv4:        ipv4.p,
		IPv4Gateway: gateway.a,
		Logger:      &log,
		TCP:         tcpConfig,
		IPv6:        ipv6Config(ipv6, gw6, iid),
		Limits:      actnet.Limits{MaxConns: maxConnections(*maxConn)},
	})
	if err != nil {
		fmt.Fprintf(stderr, "actnet serve: %v\n", err)
		return 1
	}
	log.Info().Str("tap", *tap).Str("ipv4", ipv4.p.String()).Str("ipv6", ipv6.String()).
		Str("mac", stack.HardwareAddr()).Int("mtu", *mtu).Msg("actnet serving")
	// The IPv6 addresses are logged once duplicate address detection lets
	// them be used, by a goroutine that ends with the stack's life here.
	v6ctx, v6cancel := context.WithCancel(context.Background())
	v6done := make(chan struct{})
	go func() { defer close(v6done); logIPv6Ready(v6ctx, stack, ipv6.mode, log) }()
	stopV6 := func() { v6cancel(); <-v6done }
	defer stopV6()
	stopApps, err := startApps(stack, apps, log)
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

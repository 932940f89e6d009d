// Command actnet-hvt is actnet as a Solo5 hvt unikernel: the stack and the
// apps of `actnet serve` in one guest that solo5-hvt boots, its network
// device a host tap given with --net:service=TAP. It is built with the
// tamago-go compiler (`make hvt`); on any other target it only explains
// that.
//
// The guest takes its configuration from the Solo5 command line, the
// arguments after the binary:
//
//	solo5-hvt --mem=512 --net:service=tap0 -- actnet.hvt --ipv4=10.0.0.2/24 --app=echo:7
//
// It prints its log and, when it ends, its counters on the console. It ends
// on a stack failure or, with --shutdown-port, when a UDP datagram reading
// "shutdown" reaches that port (there are no signals to send a guest).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
)

// config is the guest's command line, parsed.
type config struct {
	net      string // the manifest's network device
	ipv4     netip.Prefix
	gateway  netip.Addr
	ipv6     actnet.IPv6Config
	apps     []appSpec
	level    zerolog.Level
	shutdown uint16 // UDP port of the shutdown request; 0: none
}

type appSpec struct {
	kind string
	port uint16
}

// parseConfig reads the guest's arguments. It returns flag.ErrHelp for
// --help, having printed the usage to out.
func parseConfig(args []string, out io.Writer) (config, error) {
	cfg := config{level: zerolog.InfoLevel}
	fs := flag.NewFlagSet("actnet-hvt", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.net, "net", "service", "the manifest's network device (solo5-hvt --net:NAME=TAP)")
	fs.Func("ipv4", "the guest's IPv4 address and prefix, e.g. 10.0.0.2/24 (required)", func(v string) error {
		p, err := netip.ParsePrefix(v)
		if err != nil || !p.Addr().Is4() || p.Bits() == 0 || p.Addr() != p.Addr().Unmap() {
			return errors.New("want an IPv4 address with its prefix length, e.g. 10.0.0.2/24")
		}
		cfg.ipv4 = p
		return nil
	})
	fs.Func("ipv4-gateway", "default IPv4 router for off-link destinations", func(v string) error {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return errors.New("want an IPv4 address, e.g. 10.0.0.1")
		}
		cfg.gateway = a
		return nil
	})
	ipv6Text := "auto"
	fs.Func("ipv6", "IPv6: auto (link-local plus SLAAC from router advertisements; the default), none, or a static ADDR/PREFIX", func(v string) error {
		switch v {
		case "auto":
			cfg.ipv6.Mode = actnet.IPv6Auto
		case "none":
			cfg.ipv6.Mode = actnet.IPv6Off
		default:
			p, err := netip.ParsePrefix(v)
			if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Addr().IsMulticast() || p.Addr().IsUnspecified() {
				return errors.New("want auto, none or an IPv6 address with its prefix length, e.g. 2001:db8::2/64")
			}
			cfg.ipv6 = actnet.IPv6Config{Mode: actnet.IPv6Static, Addr: p}
		}
		ipv6Text = v
		return nil
	})
	var gw6 netip.Addr
	fs.Func("ipv6-gateway", "default IPv6 router (only with a static --ipv6)", func(v string) error {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is6() || a.Is4In6() {
			return errors.New("want an IPv6 address, e.g. fe80::1")
		}
		gw6 = a
		return nil
	})
	fs.Func("app", "serve an app, KIND:PORT; repeatable (kinds: "+strings.Join(appKindNames(), ", ")+"; default echo:9000)", func(v string) error {
		kind, portText, ok := strings.Cut(v, ":")
		if !ok {
			return errors.New("want KIND:PORT, e.g. echo:9000")
		}
		if _, known := appKinds[kind]; !known {
			return fmt.Errorf("unknown app kind %q (known: %s)", kind, strings.Join(appKindNames(), ", "))
		}
		port, err := strconv.ParseUint(portText, 10, 16)
		if err != nil || port == 0 {
			return fmt.Errorf("port %q is not a number from 1 to 65535", portText)
		}
		cfg.apps = append(cfg.apps, appSpec{kind: kind, port: uint16(port)})
		return nil
	})
	fs.Func("log-level", "log level: trace, debug, info, warn, error", func(v string) error {
		l, err := zerolog.ParseLevel(v)
		if err != nil || v == "" {
			return errors.New("want one of trace, debug, info, warn, error")
		}
		cfg.level = l
		return nil
	})
	fs.Func("shutdown-port", "end the guest (printing its counters) when a UDP datagram reading \"shutdown\" reaches this port", func(v string) error {
		port, err := strconv.ParseUint(v, 10, 16)
		if err != nil || port == 0 {
			return fmt.Errorf("port %q is not a number from 1 to 65535", v)
		}
		cfg.shutdown = uint16(port)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: solo5-hvt --mem=512 --net:service=TAP -- actnet.hvt --ipv4 ADDR/PREFIX [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	switch {
	case fs.NArg() > 0:
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case !cfg.ipv4.IsValid():
		return config{}, errors.New("--ipv4 is required")
	case cfg.gateway.IsValid() && !cfg.ipv4.Contains(cfg.gateway):
		return config{}, fmt.Errorf("--ipv4-gateway %s is not on the link %s", cfg.gateway, cfg.ipv4.Masked())
	case cfg.gateway == cfg.ipv4.Addr():
		return config{}, fmt.Errorf("--ipv4-gateway %s is the guest's own address", cfg.gateway)
	case gw6.IsValid() && cfg.ipv6.Mode != actnet.IPv6Static:
		return config{}, fmt.Errorf("--ipv6-gateway needs a static --ipv6, not %s", ipv6Text)
	}
	cfg.ipv6.Gateway = gw6
	if len(cfg.apps) == 0 {
		cfg.apps = []appSpec{{kind: "echo", port: 9000}}
	}
	seen := map[string]appSpec{}
	if cfg.shutdown != 0 {
		seen["udp/"+strconv.Itoa(int(cfg.shutdown))] = appSpec{kind: "shutdown", port: cfg.shutdown}
	}
	for _, a := range cfg.apps {
		key := appKinds[a.kind].transport + "/" + strconv.Itoa(int(a.port))
		if prev, dup := seen[key]; dup {
			return config{}, fmt.Errorf("%s:%d and %s:%d both want %s", prev.kind, prev.port, a.kind, a.port, key)
		}
		seen[key] = a
	}
	return cfg, nil
}

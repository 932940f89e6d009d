package main

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

// shutdownRequest is the datagram that ends the guest on --shutdown-port.
const shutdownRequest = "shutdown"

// runGuest runs the stack on dev with cfg's apps until the stack fails or a
// shutdown request arrives, then prints the counters to out and returns the
// exit status. It is the whole guest but the device, so tests run it on a
// memory link.
func runGuest(dev device.Device, cfg config, out io.Writer) int {
	log := actnet.DefaultLogger(out).Level(cfg.level)
	stack, err := actnet.New(actnet.Config{
		Device:      dev,
		IPv4:        cfg.ipv4,
		IPv4Gateway: cfg.gateway,
		IPv6:        cfg.ipv6,
		Logger:      &log,
	})
	if err != nil {
		fmt.Fprintf(out, "actnet-hvt: %v\n", err)
		return 1
	}
	log.Info().Str("ipv4", cfg.ipv4.String()).Str("mac", stack.HardwareAddr()).
		Int("mtu", dev.MTU()).Msg("actnet guest up")
	stopApps, err := startApps(stack, cfg.apps, log)
	if err != nil {
		stack.Close()
		fmt.Fprintf(out, "actnet-hvt: %v\n", err)
		return 1
	}
	shutdown := make(chan netip.AddrPort, 1)
	if cfg.shutdown != 0 {
		c, err := stack.ListenUDP(netip.AddrPortFrom(netip.Addr{}, cfg.shutdown))
		if err != nil {
			stopApps()
			stack.Close()
			fmt.Fprintf(out, "actnet-hvt: --shutdown-port %d: %v\n", cfg.shutdown, err)
			return 1
		}
		defer c.Close()
		go awaitShutdown(c, shutdown)
		log.Info().Uint16("port", cfg.shutdown).Msg("a UDP datagram \"shutdown\" to this port ends the guest")
	}
	code := 0
	select {
	case from := <-shutdown:
		log.Info().Str("from", from.String()).Msg("shutdown requested")
	case <-stack.Failed():
		log.Error().Err(stack.Err()).Msg("stack failed")
		code = 1
	}
	stopApps()
	stats := stack.Stats()
	if err := stack.Close(); err != nil {
		log.Warn().Err(err).Msg("closing the stack")
	}
	fmt.Fprint(out, stats.String())
	if sr, ok := dev.(device.StatsReporter); ok {
		s := sr.Stats()
		fmt.Fprintf(out, "device: %d frames (%d bytes) in, %d frames (%d bytes) out, %d too long, %d invalid, %d read errors, %d write errors\n",
			s.FramesIn, s.BytesIn, s.FramesOut, s.BytesOut, s.DropsTooLong, s.DropsInvalid, s.ReadErrors, s.WriteErrors)
	}
	return code
}

// awaitShutdown reads c until a shutdown request arrives and reports its
// sender; other datagrams are ignored. It ends when c is closed.
func awaitShutdown(c interface {
	ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error)
}, shutdown chan<- netip.AddrPort) {
	buf := make([]byte, 64)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if bytes.Equal(bytes.TrimSpace(buf[:n]), []byte(shutdownRequest)) {
			shutdown <- from
			return
		}
	}
}

// Package hvt runs actnet as a Solo5 hvt guest built with TamaGo
// (GOOS=tamago): the board that boots the Go runtime under solo5-hvt and
// the network device behind device.Device.
//
// The board (board_tamago.go) supplies the runtime hooks TamaGo asks of a
// machine: the entry point, the console (the PUTS hypercall), the clock (the
// TSC, scaled by the frequency the tender reports and offset to the host's
// wall clock), idling (the POLL hypercall until the next timer, which also
// wakes the network reader) and exit (HALT). The network device
// (net_tamago.go) reads and writes frames with the NET_READ and NET_WRITE
// hypercalls on a device the binary's manifest names.
//
// The ABI (abi.go: hypercall numbers and argument layouts, boot
// information, the manifest and the ELF notes) is plain data that builds on
// every target, so cmd/hvtnote and the tests use it on Linux. The tamago
// parts need the tamago-go compiler and the build tags linkcpuinit and
// linkramstart (the Makefile's hvt target): the board replaces TamaGo's
// amd64 start-up, which writes page tables where hvt maps nothing.
package hvt

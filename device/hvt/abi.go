package hvt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
)

// The Solo5 hvt ABI as this package uses it: hypercall numbers, the boot
// information the tender hands the guest, the ELF notes that mark a binary as
// an hvt guest and its manifest of devices. Everything here is plain data
// and builds on every target, so the note writer (cmd/hvtnote) and the tests
// run on Linux; only the board and the network device need the tamago
// compiler.

// ABIVersion is the hvt ABI version a guest declares in its ABI1 note.
const ABIVersion = 2

// ABITargetHVT is the hvt target in the ABI1 note.
const ABITargetHVT = 1

// Hypercall numbers. On x86-64 a hypercall is a 32-bit OUT to port
// HypercallPortBase+n carrying the (below 4 GiB) guest address of the
// hypercall's argument struct.
const (
	HypercallPortBase = 0x500

	HypercallWalltime = 1
	HypercallPuts     = 2
	HypercallPoll     = 3
	HypercallNetWrite = 6
	HypercallNetRead  = 7
	HypercallHalt     = 8
)

// NetReadAgain is the ret of a NET_READ that found no frame waiting.
const NetReadAgain = 1

// Argument structs of the hypercalls, laid out as the tender reads them
// (every field 8 bytes wide or padded to it, so Go's layout is the C one).
type (
	// PutsArgs writes Len bytes at Data to the console.
	PutsArgs struct {
		Data uint64
		Len  uint64
	}
	// PollArgs waits up to TimeoutNs for a device to have input. On return
	// ReadySet has bit h set for each ready device handle h.
	PollArgs struct {
		TimeoutNs uint64
		ReadySet  uint64
		Ret       int64
	}
	// NetArgs is the argument of NET_WRITE and NET_READ. On a read, Len is
	// the buffer's size going in and the frame's size coming out.
	NetArgs struct {
		Handle uint64
		Data   uint64
		Len    uint64
		Ret    int64
	}
	// WalltimeArgs receives the host's wall clock, in nanoseconds since
	// the Unix epoch.
	WalltimeArgs struct {
		Nsecs uint64
	}
	// HaltArgs ends the guest with Status; Cookie, if not zero, points at
	// up to 512 bytes the tender may dump.
	HaltArgs struct {
		Cookie uint64
		Status int64
	}
)

// BootInfo is what the tender puts at the address it passes the guest in
// %rdi: guest memory size, end of the loaded image, TSC frequency, and the
// guest addresses of the command line (a C string) and of the manifest,
// which the tender has filled in with each attached device's MAC and MTU.
type BootInfo struct {
	MemSize      uint64
	KernelEnd    uint64
	CPUCycleFreq uint64
	Cmdline      uint64
	Manifest     uint64
}

// Manifest device types (Solo5's mft_type).
const (
	DevBlockBasic    = 1
	DevNetBasic      = 2
	DevReservedFirst = 1 << 30
)

// Manifest layout: a header of version and entry count, then fixed-size
// entries. Each entry is a 68-byte NUL-terminated name, a 32-bit type, a
// 16-byte union of device properties (for a network device its MAC and MTU),
// an 8-byte union the tender uses privately, and an "attached" byte, padded
// to 8-byte alignment.
const (
	ManifestVersion   = 1
	ManifestMaxDevs   = 64
	manifestHeaderLen = 8
	nameSize          = 68
	entryLen          = 104
	entryTypeOff      = 68
	entryPropsOff     = 72
	entryAttachedOff  = 96
)

// MaxNameLen is the longest device name a manifest holds.
const MaxNameLen = nameSize - 1

// Device is one entry of a manifest.
type Device struct {
	Name string
	Type uint32
	// MAC and MTU of a network device, as the tender filled them in; zero
	// in the manifest a binary carries.
	MAC net.HardwareAddr
	MTU uint16
	// Attached is set by the tender for a device it connected.
	Attached bool
}

// ManifestLen is the size in bytes of a manifest of n devices plus the
// reserved first entry.
func ManifestLen(n int) int { return manifestHeaderLen + (n+1)*entryLen }

// EncodeManifest lays out the manifest a binary declares: the reserved first
// entry Solo5 requires, then devs (names only; the tender fills in the
// rest). The handle of devs[i] in hypercalls is i+1.
func EncodeManifest(devs []Device) ([]byte, error) {
	if len(devs)+1 > ManifestMaxDevs {
		return nil, fmt.Errorf("hvt: %d devices, at most %d fit a manifest", len(devs), ManifestMaxDevs-1)
	}
	b := make([]byte, ManifestLen(len(devs)))
	le := binary.LittleEndian
	le.PutUint32(b[0:], ManifestVersion)
	le.PutUint32(b[4:], uint32(len(devs)+1))
	le.PutUint32(b[manifestHeaderLen+entryTypeOff:], DevReservedFirst)
	seen := map[string]bool{}
	for i, d := range devs {
		switch {
		case d.Name == "" || len(d.Name) > MaxNameLen:
			return nil, fmt.Errorf("hvt: device name %q: want 1 to %d bytes", d.Name, MaxNameLen)
		case strings.IndexByte(d.Name, 0) >= 0:
			return nil, fmt.Errorf("hvt: device name %q holds a NUL byte", d.Name)
		case d.Type != DevNetBasic && d.Type != DevBlockBasic:
			return nil, fmt.Errorf("hvt: device %q: unknown type %d", d.Name, d.Type)
		case seen[d.Name]:
			return nil, fmt.Errorf("hvt: device name %q twice", d.Name)
		}
		seen[d.Name] = true
		e := b[manifestHeaderLen+(i+1)*entryLen:]
		copy(e[:MaxNameLen], d.Name)
		le.PutUint32(e[entryTypeOff:], d.Type)
	}
	return b, nil
}

// ManifestCount reads the entry count from a manifest's header, so a guest
// knows how many bytes of guest memory the manifest spans before parsing
// it. It returns -1 for a header that is short or out of range.
func ManifestCount(hdr []byte) int {
	if len(hdr) < manifestHeaderLen || binary.LittleEndian.Uint32(hdr) != ManifestVersion {
		return -1
	}
	n := binary.LittleEndian.Uint32(hdr[4:])
	if n < 1 || n > ManifestMaxDevs {
		return -1
	}
	return int(n)
}

// ErrManifest reports a manifest that does not parse.
var ErrManifest = errors.New("hvt: malformed manifest")

// ParseManifest reads a manifest (as encoded by EncodeManifest, or as the
// tender hands it to the guest) and returns its devices; Devices[i] has
// handle i+1. The reserved first entry is checked and left out.
func ParseManifest(b []byte) ([]Device, error) {
	n := ManifestCount(b)
	if n < 0 || len(b) < ManifestLen(n-1) {
		return nil, ErrManifest
	}
	le := binary.LittleEndian
	first := b[manifestHeaderLen:]
	if le.Uint32(first[entryTypeOff:]) != DevReservedFirst || first[0] != 0 {
		return nil, fmt.Errorf("%w: first entry is not the reserved one", ErrManifest)
	}
	devs := make([]Device, 0, n-1)
	for i := 1; i < n; i++ {
		e := b[manifestHeaderLen+i*entryLen:][:entryLen]
		end := strings.IndexByte(string(e[:nameSize]), 0)
		if end < 0 {
			return nil, fmt.Errorf("%w: entry %d has an unterminated name", ErrManifest, i)
		}
		d := Device{
			Name:     string(e[:end]),
			Type:     le.Uint32(e[entryTypeOff:]),
			Attached: e[entryAttachedOff] != 0,
		}
		if d.Type == DevNetBasic {
			d.MAC = net.HardwareAddr(append([]byte(nil), e[entryPropsOff:entryPropsOff+6]...))
			d.MTU = le.Uint16(e[entryPropsOff+6:])
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// FindNet returns the handle and entry of the network device called name.
func FindNet(devs []Device, name string) (handle uint64, d Device, err error) {
	for i, d := range devs {
		if d.Name == name {
			if d.Type != DevNetBasic {
				return 0, Device{}, fmt.Errorf("hvt: manifest device %q is not a network device", name)
			}
			return uint64(i + 1), d, nil
		}
	}
	return 0, Device{}, fmt.Errorf("hvt: the manifest has no network device %q", name)
}

// Note names and types of the two ELF notes solo5-hvt requires.
const (
	NoteName     = "Solo5"
	NoteTypeABI1 = 0x31494241 // "ABI1" read as a little-endian word
	NoteTypeMFT1 = 0x3154464d // "MFT1"
)

// ABINote is the complete ABI1 note for an hvt guest: header, name, and a
// descriptor of target, ABI version and two reserved words.
func ABINote() []byte {
	desc := make([]byte, 16)
	binary.LittleEndian.PutUint32(desc[0:], ABITargetHVT)
	binary.LittleEndian.PutUint32(desc[4:], ABIVersion)
	return note(NoteTypeABI1, desc, 4)
}

// ManifestNote wraps an encoded manifest in an MFT1 note. The manifest's
// 64-bit fields make Solo5 read it at an 8-byte aligned offset from the
// note's start, and the padding before it counts in the descriptor size.
func ManifestNote(manifest []byte) []byte {
	return note(NoteTypeMFT1, manifest, 8)
}

// note builds an ELF note whose descriptor starts at a multiple of align
// from the note's start; the padding is part of the descriptor, which is how
// Solo5 lays its notes out and reads them back.
func note(typ uint32, desc []byte, align int) []byte {
	name := NoteName + "\x00"
	nameLen := (len(name) + 3) &^ 3
	hdr := 12 + nameLen
	off := (hdr + align - 1) &^ (align - 1)
	total := (off + len(desc) + 3) &^ 3
	b := make([]byte, total)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(len(name)))
	le.PutUint32(b[4:], uint32(off-hdr+len(desc)))
	le.PutUint32(b[8:], typ)
	copy(b[12:], name)
	copy(b[off:], desc)
	return b
}

// SplitCmdline splits the command line the tender passes (the arguments
// after the binary on solo5-hvt's command line, joined by spaces) into
// arguments. Runs of spaces and tabs separate arguments; there is no
// quoting, as Solo5 keeps none.
func SplitCmdline(s string) []string {
	return strings.Fields(s)
}

package hvt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func TestManifestRoundTrip(t *testing.T) {
	b, err := EncodeManifest([]Device{{Name: "service", Type: DevNetBasic}, {Name: "disk", Type: DevBlockBasic}})
	if err != nil {
		t.Fatal(err)
	}
	// Solo5 checks the exact size: header plus 104-byte entries, the
	// reserved first entry included.
	if len(b) != 8+3*104 {
		t.Fatalf("manifest is %d bytes, want %d", len(b), 8+3*104)
	}
	devs, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || devs[0].Name != "service" || devs[0].Type != DevNetBasic ||
		devs[1].Name != "disk" || devs[1].Type != DevBlockBasic {
		t.Fatalf("parsed %+v", devs)
	}
	h, _, err := FindNet(devs, "service")
	if err != nil || h != 1 {
		t.Fatalf("FindNet(service) = %d, %v; want handle 1", h, err)
	}
	if _, _, err := FindNet(devs, "disk"); err == nil {
		t.Fatal("FindNet found a block device")
	}
	if _, _, err := FindNet(devs, "other"); err == nil {
		t.Fatal("FindNet found a device the manifest lacks")
	}
}

// The tender fills in each attached network device's MAC and MTU in the
// copy it hands the guest; ParseManifest reads them back.
func TestManifestTenderFields(t *testing.T) {
	b, err := EncodeManifest([]Device{{Name: "service", Type: DevNetBasic}})
	if err != nil {
		t.Fatal(err)
	}
	e := b[8+104:]
	mac := net.HardwareAddr{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee}
	copy(e[72:], mac)
	binary.LittleEndian.PutUint16(e[78:], 1500)
	e[96] = 1
	devs, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := devs[0]; !bytes.Equal(d.MAC, mac) || d.MTU != 1500 || !d.Attached {
		t.Fatalf("parsed %+v, want MAC %s MTU 1500 attached", d, mac)
	}
}

func TestEncodeManifestRejects(t *testing.T) {
	many := make([]Device, ManifestMaxDevs)
	for i := range many {
		many[i] = Device{Name: strings.Repeat("n", i+1), Type: DevNetBasic}
	}
	for name, devs := range map[string][]Device{
		"empty name":   {{Name: "", Type: DevNetBasic}},
		"long name":    {{Name: strings.Repeat("x", MaxNameLen+1), Type: DevNetBasic}},
		"NUL in name":  {{Name: "a\x00b", Type: DevNetBasic}},
		"unknown type": {{Name: "a", Type: 9}},
		"duplicate":    {{Name: "a", Type: DevNetBasic}, {Name: "a", Type: DevNetBasic}},
		"too many":     many,
	} {
		if _, err := EncodeManifest(devs); err == nil {
			t.Errorf("%s: EncodeManifest accepted it", name)
		}
	}
	if _, err := EncodeManifest([]Device{{Name: strings.Repeat("x", MaxNameLen), Type: DevNetBasic}}); err != nil {
		t.Errorf("a %d-byte name: %v", MaxNameLen, err)
	}
}

func TestParseManifestRejects(t *testing.T) {
	good, err := EncodeManifest([]Device{{Name: "service", Type: DevNetBasic}})
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       good[:len(good)-1],
		"version":     mutate(func(b []byte) []byte { b[0] = 2; return b }),
		"no entries":  mutate(func(b []byte) []byte { b[4] = 0; return b }),
		"too many":    mutate(func(b []byte) []byte { b[4] = ManifestMaxDevs + 1; return b }),
		"first type":  mutate(func(b []byte) []byte { b[8+68+3] = 0; return b }),
		"first named": mutate(func(b []byte) []byte { b[8] = 'x'; return b }),
		"unterminated": mutate(func(b []byte) []byte {
			copy(b[8+104:8+104+68], strings.Repeat("y", 68))
			return b
		}),
	} {
		if _, err := ParseManifest(b); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: ParseManifest = %v, want ErrManifest", name, err)
		}
	}
}

// The notes are laid out as Solo5 reads them: a 20-byte header (sizes,
// type, "Solo5" padded to 8), the descriptor at the note's alignment, the
// padding counted in the descriptor size.
func TestNotes(t *testing.T) {
	abi := ABINote()
	le := binary.LittleEndian
	if le.Uint32(abi[0:]) != 6 || le.Uint32(abi[4:]) != 16 || le.Uint32(abi[8:]) != NoteTypeABI1 ||
		string(abi[12:18]) != "Solo5\x00" || len(abi) != 36 {
		t.Fatalf("ABI1 note header % x", abi[:20])
	}
	if le.Uint32(abi[20:]) != ABITargetHVT || le.Uint32(abi[24:]) != ABIVersion {
		t.Fatalf("ABI1 descriptor % x", abi[20:])
	}
	m, err := EncodeManifest([]Device{{Name: "service", Type: DevNetBasic}})
	if err != nil {
		t.Fatal(err)
	}
	mft := ManifestNote(m)
	if le.Uint32(mft[4:]) != uint32(4+len(m)) || le.Uint32(mft[8:]) != NoteTypeMFT1 {
		t.Fatalf("MFT1 note header % x", mft[:20])
	}
	if !bytes.Equal(mft[24:24+len(m)], m) {
		t.Fatal("manifest is not at offset 24 of the MFT1 note")
	}
}

// The hypercall argument structs must have the tender's C layout.
func TestArgLayouts(t *testing.T) {
	for name, got := range map[string][2]uintptr{
		"PutsArgs":     {unsafe.Sizeof(PutsArgs{}), 16},
		"PollArgs":     {unsafe.Sizeof(PollArgs{}), 24},
		"NetArgs":      {unsafe.Sizeof(NetArgs{}), 32},
		"NetArgs.Ret":  {unsafe.Offsetof(NetArgs{}.Ret), 24},
		"HaltArgs":     {unsafe.Sizeof(HaltArgs{}), 16},
		"BootInfo":     {unsafe.Sizeof(BootInfo{}), 40},
		"BootInfo.mft": {unsafe.Offsetof(BootInfo{}.Manifest), 32},
	} {
		if got[0] != got[1] {
			t.Errorf("%s: %d, want %d", name, got[0], got[1])
		}
	}
}

func TestSplitCmdline(t *testing.T) {
	got := SplitCmdline("  --ipv4=10.0.0.2/24 \t--app echo:7  ")
	if want := []string{"--ipv4=10.0.0.2/24", "--app", "echo:7"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("SplitCmdline = %q, want %q", got, want)
	}
	if got := SplitCmdline(""); len(got) != 0 {
		t.Fatalf("SplitCmdline(\"\") = %q", got)
	}
}

func TestCounters(t *testing.T) {
	var c counters
	c.in(60)
	c.in(40)
	c.out(1514)
	c.tooLong.Add(1)
	s := c.snapshot()
	if s.FramesIn != 2 || s.BytesIn != 100 || s.FramesOut != 1 || s.BytesOut != 1514 || s.DropsTooLong != 1 {
		t.Fatalf("snapshot %+v", s)
	}
}

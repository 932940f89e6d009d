package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actnet/actnet/device/hvt"
)

// minimalELF is an x86-64 executable with one program header of each type
// given, the header table right after the ELF header, and a few bytes of
// "code" after it.
func minimalELF(typ elf.Type, progs ...elf.ProgType) []byte {
	const ehLen = 64
	le := binary.LittleEndian
	b := make([]byte, ehLen+len(progs)*phLen+16)
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	b[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	b[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	le.PutUint16(b[16:], uint16(typ))
	le.PutUint16(b[18:], uint16(elf.EM_X86_64))
	le.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(b[24:], 0x10010000) // entry
	le.PutUint64(b[32:], ehLen)      // phoff
	le.PutUint16(b[52:], ehLen)
	le.PutUint16(b[54:], phLen)
	le.PutUint16(b[56:], uint16(len(progs)))
	le.PutUint16(b[58:], 64) // shentsize, with no sections
	for i, p := range progs {
		ph := b[ehLen+i*phLen:]
		le.PutUint32(ph[phType:], uint32(p))
		if p == elf.PT_LOAD {
			le.PutUint64(ph[phVaddr:], 0x10000000)
			le.PutUint64(ph[phFilesz:], uint64(len(b)))
			le.PutUint64(ph[phMemsz:], uint64(len(b)))
			le.PutUint64(ph[phAlign:], 0x1000)
		}
	}
	return b
}

type note struct {
	name string
	typ  uint32
	desc []byte
}

// readNote decodes the first note of a segment, as Solo5 does.
func readNote(t *testing.T, p *elf.Prog) note {
	t.Helper()
	b := make([]byte, p.Filesz)
	if _, err := p.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	namesz, descsz := le.Uint32(b), le.Uint32(b[4:])
	nameEnd := 12 + (namesz+3)&^3
	return note{
		name: strings.TrimRight(string(b[12:12+namesz]), "\x00"),
		typ:  le.Uint32(b[8:]),
		desc: b[nameEnd : nameEnd+descsz],
	}
}

func TestAddNotes(t *testing.T) {
	img := minimalELF(elf.ET_EXEC, elf.PT_PHDR, elf.PT_NOTE, elf.PT_LOAD, elf.PT_GNU_STACK)
	out, err := addNotes(img, []hvt.Device{{Name: "service", Type: hvt.DevNetBasic}})
	if err != nil {
		t.Fatal(err)
	}
	// Only the PT_PHDR (first) and PT_GNU_STACK (last) headers change.
	if !bytes.Equal(out[:64], img[:64]) || !bytes.Equal(out[64+phLen:64+3*phLen], img[64+phLen:64+3*phLen]) ||
		!bytes.Equal(out[64+4*phLen:len(img)], img[64+4*phLen:]) {
		t.Fatal("addNotes changed more of the image than two program headers")
	}
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var notes []note
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE && p.Filesz > 0 {
			notes = append(notes, readNote(t, p))
		}
	}
	if len(notes) != 2 {
		t.Fatalf("%d notes, want 2 (the original PT_NOTE is empty here)", len(notes))
	}
	abi, mft := notes[0], notes[1]
	le := binary.LittleEndian
	if abi.name != "Solo5" || abi.typ != hvt.NoteTypeABI1 || le.Uint32(abi.desc) != hvt.ABITargetHVT || le.Uint32(abi.desc[4:]) != hvt.ABIVersion {
		t.Fatalf("ABI1 note %+v", abi)
	}
	if mft.name != "Solo5" || mft.typ != hvt.NoteTypeMFT1 {
		t.Fatalf("MFT1 note %+v", mft)
	}
	// The descriptor holds 4 bytes of padding (to 8-byte alignment from
	// the note's start), then the manifest.
	devs, err := hvt.ParseManifest(mft.desc[4:])
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Name != "service" || devs[0].Type != hvt.DevNetBasic {
		t.Fatalf("manifest %+v", devs)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_PHDR || p.Type == elf.PT_GNU_STACK {
			t.Fatalf("program header %v left in place", p.Type)
		}
	}

	if _, err := addNotes(out, []hvt.Device{{Name: "service", Type: hvt.DevNetBasic}}); err == nil {
		t.Fatal("noting a noted binary again succeeded")
	}
}

func TestAddNotesRejects(t *testing.T) {
	net := []hvt.Device{{Name: "service", Type: hvt.DevNetBasic}}
	for name, img := range map[string][]byte{
		"not ELF":        []byte("#!/bin/sh\necho hello\n"),
		"shared object":  minimalELF(elf.ET_DYN, elf.PT_PHDR, elf.PT_LOAD, elf.PT_GNU_STACK),
		"no spare phdrs": minimalELF(elf.ET_EXEC, elf.PT_LOAD, elf.PT_GNU_STACK),
	} {
		if _, err := addNotes(img, net); err == nil {
			t.Errorf("%s: addNotes accepted it", name)
		}
	}
	img := minimalELF(elf.ET_EXEC, elf.PT_PHDR, elf.PT_LOAD, elf.PT_GNU_STACK)
	if _, err := addNotes(img, []hvt.Device{{Name: strings.Repeat("x", 80), Type: hvt.DevNetBasic}}); err == nil {
		t.Error("a device name too long for the manifest was accepted")
	}
}

func TestRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guest.hvt")
	if err := os.WriteFile(path, minimalELF(elf.ET_EXEC, elf.PT_PHDR, elf.PT_LOAD, elf.PT_GNU_STACK), 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run([]string{path}, &stderr); code != 0 {
		t.Fatalf("run = %d: %s", code, stderr.String())
	}
	if code := run([]string{path}, &stderr); code != 1 || !strings.Contains(stderr.String(), "already has Solo5 notes") {
		t.Fatalf("second run = %d: %s", code, stderr.String())
	}
	if code := run(nil, &stderr); code != 2 {
		t.Fatalf("run without a file = %d", code)
	}
}

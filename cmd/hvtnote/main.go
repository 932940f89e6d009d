// Command hvtnote marks a linked TamaGo ELF as a Solo5 hvt guest: it appends
// the two ELF notes solo5-hvt requires, the ABI1 note (target hvt, ABI
// version 2) and the MFT1 manifest of the devices the guest uses, and points
// a program header of its own at each.
//
// Usage:
//
//	hvtnote [-net NAME]... FILE
//
// Solo5 reads only the first note of each PT_NOTE segment, so each note gets
// its own program header. Go's linker writes none to spare, so hvtnote
// retargets the two the guest does not need: PT_PHDR (no dynamic loader
// reads it) and PT_GNU_STACK (a hint for a host OS the guest does not run
// on). Go's own build-ID note keeps its header. The file is rewritten in
// place.
package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/actnet/actnet/device/hvt"
)

type names []string

func (n *names) String() string     { return strings.Join(*n, ",") }
func (n *names) Set(v string) error { *n = append(*n, v); return nil }

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("hvtnote", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nets names
	fs.Var(&nets, "net", "a network device (NET_BASIC) of the manifest, by name; repeatable (default: service)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hvtnote [-net NAME]... FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if len(nets) == 0 {
		nets = names{"service"}
	}
	devs := make([]hvt.Device, len(nets))
	for i, n := range nets {
		devs[i] = hvt.Device{Name: n, Type: hvt.DevNetBasic}
	}
	path := fs.Arg(0)
	if err := noteFile(path, devs); err != nil {
		fmt.Fprintf(stderr, "hvtnote: %s: %v\n", path, err)
		return 1
	}
	return 0
}

func noteFile(path string, devs []hvt.Device) error {
	img, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := addNotes(img, devs)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".hvtnote"
	if err := os.WriteFile(tmp, out, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Offsets of an ELF64 program header's fields.
const (
	phType   = 0
	phFlags  = 4
	phOffset = 8
	phVaddr  = 16
	phPaddr  = 24
	phFilesz = 32
	phMemsz  = 40
	phAlign  = 48
	phLen    = 56
)

// addNotes returns img with the ABI1 and MFT1 notes for devs appended and
// two spare program headers pointing at them.
func addNotes(img []byte, devs []hvt.Device) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return nil, err
	}
	switch {
	case f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB:
		return nil, errors.New("not a 64-bit little-endian ELF")
	case f.Machine != elf.EM_X86_64:
		return nil, fmt.Errorf("machine %v, want x86-64", f.Machine)
	case f.Type != elf.ET_EXEC:
		return nil, fmt.Errorf("type %v, want an executable (ET_EXEC)", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE && isSolo5Note(p) {
			return nil, errors.New("already has Solo5 notes")
		}
	}
	manifest, err := hvt.EncodeManifest(devs)
	if err != nil {
		return nil, err
	}
	notes := [][]byte{hvt.ABINote(), hvt.ManifestNote(manifest)}
	aligns := []uint64{4, 8}

	le := binary.LittleEndian
	phoff := int(le.Uint64(img[32:]))
	phentsize := int(le.Uint16(img[54:]))
	if phentsize != phLen {
		return nil, fmt.Errorf("program header size %d, want %d", phentsize, phLen)
	}
	var spare []int
	for _, want := range []elf.ProgType{elf.PT_NULL, elf.PT_PHDR, elf.PT_GNU_STACK} {
		for i, p := range f.Progs {
			if p.Type == want && len(spare) < len(notes) {
				spare = append(spare, phoff+i*phLen)
			}
		}
	}
	if len(spare) < len(notes) {
		return nil, errors.New("no two spare program headers (PT_NULL, PT_PHDR or PT_GNU_STACK) to point at the notes")
	}

	out := append([]byte(nil), img...)
	for i, n := range notes {
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		off := uint64(len(out))
		out = append(out, n...)
		ph := out[spare[i]:][:phLen]
		le.PutUint32(ph[phType:], uint32(elf.PT_NOTE))
		le.PutUint32(ph[phFlags:], uint32(elf.PF_R))
		le.PutUint64(ph[phOffset:], off)
		le.PutUint64(ph[phVaddr:], 0)
		le.PutUint64(ph[phPaddr:], 0)
		le.PutUint64(ph[phFilesz:], uint64(len(n)))
		le.PutUint64(ph[phMemsz:], 0)
		le.PutUint64(ph[phAlign:], aligns[i])
	}
	return out, nil
}

// isSolo5Note reports whether the note segment p starts with a note named
// Solo5.
func isSolo5Note(p *elf.Prog) bool {
	hdr := make([]byte, 20)
	if _, err := p.ReadAt(hdr, 0); err != nil {
		return false
	}
	return binary.LittleEndian.Uint32(hdr) == uint32(len(hvt.NoteName)+1) &&
		string(hdr[12:12+len(hvt.NoteName)]) == hvt.NoteName
}

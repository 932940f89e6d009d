package udp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzDatagram feeds arbitrary bytes to NewDatagram. It asserts that no
// input panics, that an accepted view obeys the length rules, and that
// re-emitting the parsed header over the same payload yields a datagram
// that verifies and parses back to the same fields.
func FuzzDatagram(f *testing.F) {
	f.Add(fixtureV4, uint32(0))
	f.Add(fixtureV6, uint32(0x1234))
	f.Add(fixtureZero, uint32(0xffffffff))
	f.Add([]byte{0, 0, 0, 0, 0, 8, 0, 0}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, pseudoSum uint32) {
		d, err := NewDatagram(b)
		if err != nil {
			if d.Bytes() != nil {
				t.Fatal("error with a non-empty view")
			}
			return
		}
		n := int(binary.BigEndian.Uint16(b[4:6]))
		if n < HeaderLen || n > len(b) || len(d.Bytes()) != n || int(d.Length()) != n {
			t.Fatalf("accepted length %d of %d bytes, view %d", n, len(b), len(d.Bytes()))
		}
		if len(d.Payload()) != n-HeaderLen {
			t.Fatalf("payload %d, want %d", len(d.Payload()), n-HeaderLen)
		}
		// Verification must not panic, whatever the result.
		_ = d.VerifyChecksum(pseudoSum, true)

		out := append([]byte(nil), d.Bytes()...)
		if err := d.Header().Emit(out, pseudoSum); err != nil {
			t.Fatal(err)
		}
		e, err := NewDatagram(out)
		if err != nil {
			t.Fatal(err)
		}
		if e.Header() != d.Header() || !bytes.Equal(e.Payload(), d.Payload()) {
			t.Fatal("emit changed the header or payload")
		}
		if e.Checksum() == 0 {
			t.Fatal("emitted a zero checksum")
		}
		if !e.VerifyChecksum(pseudoSum, false) {
			t.Fatalf("emitted datagram does not verify: %x", out)
		}
	})
}

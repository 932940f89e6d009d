package actors

import (
	"reflect"
	"testing"

	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// Every field of a connection's tcp.Stats reaches the tcp layer's counters
// (a counter of the same name) when the connection ends, except the
// segment counts, which the layer keeps live.
func TestFoldConnStatsCoversTCPStats(t *testing.T) {
	var st tcp.Stats
	sv := reflect.ValueOf(&st).Elem()
	for i := range sv.NumField() {
		sv.Field(i).SetUint(uint64(i + 1))
	}
	c := mailbox.NewCounters()
	foldConnStats(&c.TCP, st)
	snap := reflect.ValueOf(c.Snapshot().TCP)
	for i := range sv.NumField() {
		name := sv.Type().Field(i).Name
		f := snap.FieldByName(name)
		switch {
		case name == "SegmentsIn" || name == "SegmentsOut":
			if f.IsValid() {
				t.Errorf("tcp.Stats.%s would be counted twice", name)
			}
		case !f.IsValid():
			t.Errorf("tcp.Stats.%s has no tcp layer counter", name)
		case f.Uint() != uint64(i+1):
			t.Errorf("tcp.Stats.%s folded as %d, want %d", name, f.Uint(), i+1)
		}
	}
}

package mailbox

import (
	"reflect"
	"testing"
)

// Every counter has a name, unique in its layer, and Snapshot and Values
// carry every field across.
func TestCountersSnapshotAndValues(t *testing.T) {
	c := NewCounters()
	c.TCP.ActiveOpens.Add(3)
	c.IPv4.BadChecksum.Inc()
	c.Link.RingFull.Add(7)
	s := c.Snapshot()
	if s.TCP.ActiveOpens != 3 || s.IPv4.BadChecksum != 1 || s.Link.RingFull != 7 {
		t.Fatalf("snapshot: tcp %+v ipv4 %+v link %+v", s.TCP, s.IPv4, s.Link)
	}
	live, snap := c.Values(), s.Values()
	if !reflect.DeepEqual(live, snap) {
		t.Fatal("Values of the counters and of their snapshot differ")
	}
	n := 0
	for i := range reflect.TypeFor[Snapshot]().NumField() {
		n += reflect.TypeFor[Snapshot]().Field(i).Type.NumField()
	}
	if len(snap) != n {
		t.Fatalf("Values lists %d counters, the layers declare %d", len(snap), n)
	}
	want := map[string]Stat{
		"ActiveOpens": {Layer: "tcp", Field: "ActiveOpens", Name: "active connection openings", Value: 3},
		"BadChecksum": {Layer: "ipv4", Field: "BadChecksum", Name: "with invalid headers: bad checksum", Drop: true, Value: 1},
		"RingFull":    {Layer: "link", Field: "RingFull", Name: "frames dropped: ingress ring full", Drop: true, Value: 7},
	}
	for _, v := range snap {
		if w, ok := want[v.Field]; ok && w.Layer == v.Layer {
			if v != w {
				t.Errorf("got %+v, want %+v", v, w)
			}
			delete(want, v.Field)
		} else if v.Value != 0 {
			t.Errorf("%s.%s = %d, want 0", v.Layer, v.Field, v.Value)
		}
	}
	if len(want) != 0 {
		t.Errorf("not listed: %v", want)
	}
}

package chart

import (
	"bytes"
	"image/png"
	"math"
	"testing"
)

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	series := []Series{{"actnet", white}, {"gVisor", black}}
	panels := []Panel{{Title: "bulk in", Unit: "Gbit/s", Values: []float64{1.5, math.NaN()}, Notes: []string{"", "FAIL"}}}
	if err := Write(&buf, "title (x/y) 100%", series, panels); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() < 3*panelW {
		t.Errorf("image is %v wide", img.Bounds())
	}
}

// TestPanelsFitNames checks that four series with long names widen the
// panels so that each name fits its bar's slot.
func TestPanelsFitNames(t *testing.T) {
	series := []Series{{"actnet", white}, {"gVisor", black}, {"gVisor GSO", black}, {"Linux", white}}
	pw := panelWidth(series)
	if slot := (pw - 40) / len(series); slot < textWidth("gVisor GSO") {
		t.Errorf("panel %d px wide: slot %d px, name %d px", pw, slot, textWidth("gVisor GSO"))
	}
	if got := panelWidth(series[:2]); got != panelW {
		t.Errorf("two short names: panel %d px, want the minimum %d", got, panelW)
	}
}

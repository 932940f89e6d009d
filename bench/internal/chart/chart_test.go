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

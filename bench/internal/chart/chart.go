// Package chart draws the benchmark's bar chart as a PNG with the standard
// library alone (image, image/png and a built-in 5×7 bitmap font), so that
// `make bench` needs no plotting tool.
package chart

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strings"
	"unicode"
)

// Series is one stack: its name and bar colour.
type Series struct {
	Name  string
	Color color.RGBA
}

// Panel is one load: a title, a unit, and one value per series. A NaN
// value is drawn as a missing bar; Notes (same length as Values, may be
// nil) replace the number printed above a bar, e.g. "FAIL".
type Panel struct {
	Title  string
	Unit   string
	Values []float64
	Notes  []string
}

const (
	scale    = 2   // font pixels per glyph pixel
	glyphW   = 6   // 5 columns plus one of spacing
	lineH    = 10  // 7 rows plus spacing
	panelW   = 380 // at least; wider when the series' names need it
	panelH   = 260
	cols     = 3
	margin   = 20
	headerH  = 70
	barAreaH = 160
)

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{30, 30, 30, 255}
	grey  = color.RGBA{200, 200, 200, 255}
)

// Write draws the panels in a grid under title, with a legend of series,
// and encodes the result as PNG.
func Write(w io.Writer, title string, series []Series, panels []Panel) error {
	rows := (len(panels) + cols - 1) / cols
	pw := panelWidth(series)
	img := image.NewRGBA(image.Rect(0, 0, 2*margin+cols*pw, headerH+rows*panelH+margin))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	text(img, margin, margin, title, black)
	x := margin
	for _, s := range series {
		fill(img, image.Rect(x, margin+30, x+20, margin+44), s.Color)
		text(img, x+26, margin+30, s.Name, black)
		x += 26 + textWidth(s.Name) + 30
	}
	for i, p := range panels {
		ox := margin + (i%cols)*pw
		oy := headerH + (i/cols)*panelH
		drawPanel(img, ox, oy, pw, series, p)
	}
	return png.Encode(w, img)
}

// panelWidth is panelW, or wider if that leaves a series' name under its
// bar wider than the bar's slot.
func panelWidth(series []Series) int {
	widest := 0
	for _, s := range series {
		widest = max(widest, textWidth(s.Name))
	}
	return max(panelW, 40+len(series)*(widest+10))
}

func drawPanel(img *image.RGBA, ox, oy, panelW int, series []Series, p Panel) {
	text(img, ox+10, oy+10, p.Title, black)
	text(img, ox+10, oy+10+lineH*scale, p.Unit, color.RGBA{90, 90, 90, 255})
	top := oy + 60
	base := top + barAreaH
	fill(img, image.Rect(ox+10, base, ox+panelW-20, base+2), grey)
	peak := 0.0
	for _, v := range p.Values {
		if !math.IsNaN(v) && v > peak {
			peak = v
		}
	}
	n := len(series)
	slot := (panelW - 40) / n
	barW := slot * 3 / 5
	for j, s := range series {
		x := ox + 15 + j*slot + (slot-barW)/2
		v := math.NaN()
		if j < len(p.Values) {
			v = p.Values[j]
		}
		label := Format(v)
		if j < len(p.Notes) && p.Notes[j] != "" {
			label = p.Notes[j]
		}
		h := 0
		if !math.IsNaN(v) && peak > 0 {
			h = int(float64(barAreaH-lineH*scale) * v / peak)
		}
		fill(img, image.Rect(x, base-h, x+barW, base), s.Color)
		lw := textWidth(label)
		text(img, x+barW/2-lw/2, base-h-lineH*scale, label, black)
		nw := textWidth(s.Name)
		text(img, x+barW/2-nw/2, base+8, s.Name, black)
	}
}

// Format prints a value with three significant digits, or "n/a" for NaN.
func Format(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, &image.Uniform{c}, image.Point{}, draw.Src)
}

func textWidth(s string) int { return len([]rune(s)) * glyphW * scale }

// text draws s with its top-left corner at (x, y). Characters the font
// lacks are drawn as '?'.
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		g, ok := glyphs[unicode.ToUpper(r)]
		if !ok {
			g = glyphs['?']
		}
		for row, line := range g {
			for col, px := range line {
				if px == '#' {
					fill(img, image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), c)
				}
			}
		}
		x += glyphW * scale
	}
}

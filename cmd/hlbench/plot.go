package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// modeColor tells the modes apart; the store is told by the dashes.
var modeColor = map[string]color.Color{
	modeDirect:     color.RGBA{R: 0x33, G: 0x33, B: 0x33, A: 0xff},
	modeProxy:      color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	modeQuotaProxy: color.RGBA{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff},
	modeGRPCProxy:  color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	modeGRPC:       color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	modeREST:       color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

var storeDashes = map[string][]vg.Length{
	"memory": nil,
	"redis":  {vg.Points(5), vg.Points(3)},
}

// writePlot draws p50 and p99 latency against concurrency, one row of two
// panels per operation, both axes logarithmic, and writes it as PNG.
func (r results) writePlot(path string, stores, ops []string, concs []int) error {
	pct := []struct {
		name string
		get  func(cell) time.Duration
	}{
		{"p50", func(c cell) time.Duration { return c.P50 }},
		{"p99", func(c cell) time.Duration { return c.P99 }},
	}
	var xTicks plot.ConstantTicks
	for _, c := range concs {
		xTicks = append(xTicks, plot.Tick{Value: float64(c), Label: fmt.Sprint(c)})
	}
	grid := make([][]*plot.Plot, len(ops))
	for i, op := range ops {
		grid[i] = make([]*plot.Plot, len(pct))
		for j, p := range pct {
			pl := plot.New()
			pl.Title.Text = fmt.Sprintf("%s latency, %s", p.name, opShort(op))
			pl.X.Label.Text = "concurrent callers"
			pl.Y.Label.Text = "µs"
			pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
			pl.X.Tick.Marker = xTicks
			pl.Add(plotter.NewGrid())
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, store := range stores {
				for _, mode := range modes {
					var xys plotter.XYs
					for _, conc := range concs {
						if c, ok := r.find(mode, store, op, conc); ok {
							v := float64(p.get(c).Microseconds())
							v = max(v, 1) // a log axis has no zero
							xys = append(xys, plotter.XY{X: float64(conc), Y: v})
							lo, hi = min(lo, v), max(hi, v)
						}
					}
					if len(xys) == 0 {
						continue
					}
					line, points, err := plotter.NewLinePoints(xys)
					if err != nil {
						return fmt.Errorf("plot %s/%s/%s: %w", mode, store, op, err)
					}
					line.Color, points.Color = modeColor[mode], modeColor[mode]
					line.Dashes = storeDashes[store]
					line.Width = vg.Points(1.5)
					pl.Add(line, points)
					if i == 0 && j == 0 {
						pl.Legend.Add(mode+", "+store, line, points)
					}
				}
			}
			if hi >= lo {
				pl.Y.Tick.Marker = logTicks(lo, hi)
			}
			// Latency grows with concurrency, so the lower right is free.
			pl.Legend.Top, pl.Legend.Left = false, false
			pl.Legend.XOffs, pl.Legend.YOffs = -vg.Millimeter*2, vg.Millimeter*2
			grid[i][j] = pl
		}
	}
	const w, h = 10 * vg.Inch, 8 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(ops), Cols: len(pct), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j := range grid[i] {
			grid[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// logTicks labels 1, 2 and 5 times each power of ten between lo and hi
// (widened to the decades around them), so a narrow range still gets labels.
func logTicks(lo, hi float64) plot.ConstantTicks {
	var out plot.ConstantTicks
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo/2 || v > hi*2 {
				continue
			}
			out = append(out, plot.Tick{Value: v, Label: fmt.Sprint(v)})
		}
	}
	return out
}

func opShort(op string) string {
	switch op {
	case opGet:
		return "GetContact"
	case opSearch:
		return fmt.Sprintf("SearchContacts (%d)", searchPage)
	}
	return op
}

package main

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Source colours, the same in both panels: the seed server in warm tones,
// the listeners in green, the cache in grey.
var (
	colSeedHead      = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colSeedEmergency = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	colSeedFill      = color.RGBA{R: 0xe6, G: 0xab, B: 0x02, A: 0xff}
	colSeedBT        = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}
	colPeers         = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colCache         = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	colBaseline      = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
)

// WriteChart draws the PNG: on top the seed server's and the peers' upload
// rate over the run (and the baseline's seed server, when given); below, per
// player, a stacked bar of the bytes it received by source.
func WriteChart(w io.Writer, run Run, baseline *Run, width, height vg.Length) error {
	rates, err := ratePlot(run, baseline)
	if err != nil {
		return err
	}
	bars, err := barsPlot(run)
	if err != nil {
		return err
	}
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))
	dc := draw.New(img)
	// A white background: transparent PNGs read badly on dark pages.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 12, PadY: 16}
	canvases := plot.Align([][]*plot.Plot{{rates}, {bars}}, tiles, dc)
	rates.Draw(canvases[0][0])
	bars.Draw(canvases[1][0])
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return fmt.Errorf("writing PNG: %w", err)
	}
	return nil
}

func ratePlot(run Run, baseline *Run) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Upload rate, %d players (%s)", len(run.Players), capsText(run.Meta))
	p.X.Label.Text = "seconds since the first player started"
	p.Y.Label.Text = "KiB/s"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())

	seed, peers := rateXYs(run.Samples)
	type series struct {
		name  string
		xys   plotter.XYs
		col   color.Color
		width vg.Length
		dash  []vg.Length
	}
	all := []series{
		{"peers (listeners' total upload)", peers, colPeers, 2, nil},
		{"seed server (HTTP + BitTorrent)", seed, colSeedHead, 2, nil},
	}
	if baseline != nil {
		bseed, _ := rateXYs(baseline.Samples)
		all = append(all, series{"seed server, baseline without peer-to-peer", bseed, colBaseline, 1.5, []vg.Length{vg.Points(4), vg.Points(3)}})
	}
	for _, s := range all {
		if len(s.xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return nil, fmt.Errorf("rate line %q: %w", s.name, err)
		}
		l.Color, l.Width, l.Dashes = s.col, vg.Points(float64(s.width)), s.dash
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	if c := run.Meta.SeedCap; c > 0 {
		capLine := plotter.NewFunction(func(float64) float64 { return float64(c) / 1024 })
		capLine.Color, capLine.Dashes = color.Gray{Y: 0x60}, []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(capLine)
		p.Legend.Add("seed server's upload cap", capLine)
	}
	p.Y.Min = 0
	// Headroom above the highest line for the legend.
	top := float64(run.Meta.SeedCap) / 1024
	for _, s := range all {
		for _, xy := range s.xys {
			top = max(top, xy.Y)
		}
	}
	p.Y.Max = max(top*1.35, 1)
	return p, nil
}

// rateXYs converts the samples' rates to KiB/s points.
func rateXYs(samples []Sample) (seed, peers plotter.XYs) {
	for _, r := range Rates(samples) {
		seed = append(seed, plotter.XY{X: r.T, Y: r.Seed / 1024})
		peers = append(peers, plotter.XY{X: r.T, Y: r.Peers / 1024})
	}
	return seed, peers
}

func barsPlot(run Run) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Bytes each player received, by source"
	p.X.Label.Text = "player (in order of start)"
	p.Y.Label.Text = "KiB"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())

	n := len(run.Players)
	sources := []struct {
		name string
		col  color.Color
		get  func(Report) int64
	}{
		{"seed head (HTTP)", colSeedHead, func(r Report) int64 { return r.BytesSeedHead }},
		{"seed emergency (HTTP)", colSeedEmergency, func(r Report) int64 { return r.BytesSeedEmergency }},
		{"seed fill (HTTP)", colSeedFill, func(r Report) int64 { return r.BytesSeedFill }},
		{"seed over BitTorrent", colSeedBT, func(r Report) int64 { return r.BytesSeedBT }},
		{"peers", colPeers, func(r Report) int64 { return r.BytesPeers }},
		{"cache", colCache, func(r Report) int64 { return r.BytesCache }},
	}
	width := vg.Points(max(4, 360/float64(max(n, 1))))
	var below *plotter.BarChart
	totals := make([]float64, n)
	for _, src := range sources {
		vals := make(plotter.Values, n)
		for i, pl := range run.Players {
			var b int64
			for _, r := range pl.Reports {
				b += src.get(r)
			}
			vals[i] = float64(b) / 1024
			totals[i] += vals[i]
		}
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, fmt.Errorf("bars %q: %w", src.name, err)
		}
		bc.Color = src.col
		bc.LineStyle.Width = 0
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		p.Add(bc)
		p.Legend.Add(src.name, bc)
	}
	labels := make([]string, n)
	for i, pl := range run.Players {
		labels[i] = fmt.Sprint(pl.Index)
		if pl.ExitCode != 0 || len(pl.Reports) == 0 {
			labels[i] += "✗" // failed: its bar is what it reported, if anything
		}
	}
	if n > 0 {
		p.NominalX(labels...)
		p.X.Min, p.X.Max = -0.7, float64(n)-0.3
	}
	p.Y.Min = 0
	// Headroom above the tallest bar for the legend.
	top := 1.0
	for _, t := range totals {
		top = max(top, t)
	}
	p.Y.Max = top * 1.45
	return p, nil
}

func capsText(m Meta) string {
	rate := func(c int64) string {
		if c <= 0 {
			return "uncapped"
		}
		if m.Bitrate > 0 {
			return fmt.Sprintf("%.3g× bitrate", float64(c)*8/float64(m.Bitrate))
		}
		return fmt.Sprintf("%d B/s", c)
	}
	return fmt.Sprintf("seed server %s, players %s", rate(m.SeedCap), rate(m.PlayerCap))
}

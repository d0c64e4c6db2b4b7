package benchsuite

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// style returns a series' colour (one per path, client and model) and
// dash pattern (durable rows dashed).
func style(r Row) (color, dash string) {
	switch {
	case r.Path == PathDirect:
		color = "#4e79a7"
	case r.Path == PathAMI:
		color = "#f28e2b"
	case r.Client == ClientCxx && r.Model == ModelWaitReply:
		color = "#e15759"
	case r.Client == ClientCxx && r.Model == ModelSend:
		color = "#ff9da7"
	case r.Client == ClientCxx && r.Model == Model2PISuppressed:
		color = "#edc948"
	case r.Client == ClientCxx:
		color = "#b07aa1"
	case r.Model == ModelWaitReply:
		color = "#59a14f"
	case r.Model == ModelSend:
		color = "#9c755f"
	default:
		color = "#1f9fb4"
	}
	if r.Durable {
		dash = "6 4"
	}
	return color, dash
}

// percentiles are the panels' columns.
var percentiles = []struct {
	name string
	get  func(Row) float64
}{
	{"p50", func(r Row) float64 { return us(r.P50) }},
	{"p90", func(r Row) float64 { return us(r.P90) }},
	{"p99", func(r Row) float64 { return us(r.P99) }},
}

// SVG plots latency percentiles (µs, log) against concurrency (log): a
// grid of panels, one row per payload and one column per percentile
// (p50, p90, p99), all on the same scale; in each, one line per row of
// the table: a colour per path, client and model, dashed when durable.
// Plain SVG 1.1, no script; each line has a <title> (a tooltip). (r) is
// left out: it has no latencies.
func SVG(m Machine, rows []Row) string {
	rows = slices.DeleteFunc(slices.Clone(rows), func(r Row) bool { return r.Path == PathRaw })
	concs, sizes := axes(rows)
	series := keys(rows)
	const (
		panelW, panelH = 300.0, 230.0
		left, top      = 75.0, 70.0
		gapX, gapY     = 45.0, 70.0
		legendRowH     = 18.0
	)
	nRows := max(len(sizes), 1)
	width := left + float64(len(percentiles))*(panelW+gapX) - gapX + 25
	legendTop := top + float64(nRows)*(panelH+gapY) - gapY + 60
	height := legendTop + float64((len(series)+1)/2)*legendRowH + 20

	// One scale for every panel, over every successful row.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		if r.Err != "" {
			continue
		}
		for _, p := range percentiles {
			if v := p.get(r); v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	yLo, yHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if yHi <= yLo {
		yHi = yLo + 1
	}
	cLo, cHi := math.Inf(1), math.Inf(-1)
	for _, c := range concs {
		cLo, cHi = math.Min(cLo, float64(c)), math.Max(cHi, float64(c))
	}
	xOf := func(x0 float64, c int) float64 {
		if cHi <= cLo {
			return x0 + panelW/2
		}
		pad := 20.0
		return x0 + pad + (math.Log(float64(c))-math.Log(cLo))/(math.Log(cHi)-math.Log(cLo))*(panelW-2*pad)
	}
	yOf := func(y0, v float64) float64 {
		return y0 + panelH - (math.Log10(v)-yLo)/(yHi-yLo)*panelH
	}

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	w(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	w(`<text x="%.0f" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", left,
		esc("Latency percentiles against concurrency: omniORB direct, omniORB AMI and the agent"))
	w(`<text x="%.0f" y="42" fill="#555">%s</text>`+"\n", left,
		esc(fmt.Sprintf("make bench, commit %s, %s, %d cores, kernel %s, %s",
			strings.ReplaceAll(m.Commit, "`", ""), m.CPU, m.Cores, m.Kernel, m.Date.Format("2006-01-02"))))

	for ri, size := range sizes {
		y0 := top + float64(ri)*(panelH+gapY)
		for pi, p := range percentiles {
			x0 := left + float64(pi)*(panelW+gapX)
			w("<g>\n")
			w(`<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold">%s</text>`+"\n",
				x0+panelW/2, y0-8, esc(fmt.Sprintf("%s, payload %s", p.name, sizeName(size))))
			// Y grid: 1, 2, 5 × 10^k.
			for e := yLo; e <= yHi; e++ {
				for _, f := range []float64{1, 2, 5} {
					v := f * math.Pow(10, e)
					if math.Log10(v) > yHi+1e-9 {
						continue
					}
					y := yOf(y0, v)
					stroke := "#eee"
					if f == 1 {
						stroke = "#ccc"
					}
					w(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0, y, x0+panelW, y, stroke)
					if pi == 0 || f == 1 {
						w(`<text x="%.1f" y="%.1f" text-anchor="end" fill="#555" font-size="10">%s</text>`+"\n", x0-4, y+3, esc(fmtAxisUs(v)))
					}
				}
			}
			for _, c := range concs {
				x := xOf(x0, c)
				w(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x, y0, x, y0+panelH)
				w(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">%d</text>`+"\n", x, y0+panelH+15, c)
			}
			w(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`+"\n", x0, y0, panelW, panelH)
			w(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333">concurrency (callers)</text>`+"\n", x0+panelW/2, y0+panelH+31)
			if pi == 0 {
				w(`<text transform="translate(%.1f %.1f) rotate(-90)" text-anchor="middle">latency (log)</text>`+"\n",
					x0-52, y0+panelH/2)
			}
			for _, key := range series {
				var pts []string
				var color, dash string
				for _, c := range concs {
					r, ok := find(rows, key, c, size)
					if !ok || r.Err != "" || p.get(r) <= 0 {
						continue
					}
					color, dash = style(r)
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(x0, c), yOf(y0, p.get(r))))
				}
				if len(pts) == 0 {
					continue
				}
				w(`<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"><title>%s</title></polyline>`+"\n",
					color, dashAttr(dash), strings.Join(pts, " "), esc(key+", "+p.name))
				for _, pt := range pts {
					x, y, _ := strings.Cut(pt, ",")
					w(`<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`+"\n", x, y, color)
				}
			}
			w("</g>\n")
		}
	}

	// Legend, two columns.
	colW := (width - left) / 2
	for si, key := range series {
		var color, dash string
		for _, r := range rows {
			if r.Key() == key {
				color, dash = style(r)
				break
			}
		}
		x := left + float64(si%2)*colW
		y := legendTop + float64(si/2)*legendRowH
		w(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2.5"%s/>`+"\n", x, y-4, x+34, y-4, color, dashAttr(dash))
		w(`<text x="%.1f" y="%.1f">%s</text>`+"\n", x+42, y, esc(key))
	}
	w("</svg>\n")
	return b.String()
}

func dashAttr(dash string) string {
	if dash == "" {
		return ""
	}
	return fmt.Sprintf(` stroke-dasharray="%s"`, dash)
}

// fmtAxisUs labels a latency tick in µs or ms.
func fmtAxisUs(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%g ms", v/1000)
	default:
		return fmt.Sprintf("%g µs", v)
	}
}

// esc escapes text for SVG (XML) character data and attribute values.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

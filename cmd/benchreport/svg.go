package main

import (
	"fmt"
	"math"
	"strings"
)

// memorySVG draws bytes allocated per operation against object size, ours
// beside the baseline, one panel for upload and one for get, on one
// logarithmic scale. Hand-written SVG: no dependencies.
func (rep *report) memorySVG() string {
	type panel struct {
		title, bench string
	}
	panels := []panel{
		{"upload: S3 → WeChat (UploadObject)", "BenchmarkUploadObject"},
		{"get: WeChat → S3 (Fetch)", "BenchmarkFetch"},
	}
	series := []struct {
		name, variant, color string
	}{
		{"ours (streaming)", "streaming", "#2b8cbe"},
		{"baseline (in memory + bytes.Buffer)", "buffered", "#e34a33"},
	}
	// One scale for both panels, whole decades.
	lo, hi := math.Inf(1), 0.0
	for _, p := range panels {
		for _, s := range series {
			for _, size := range sizes {
				if v := rep.r.get(p.bench+"/"+s.variant+"/"+size, "B/op"); v > 0 {
					lo, hi = min(lo, v), max(hi, v)
				}
			}
		}
	}
	if hi == 0 {
		lo, hi = 1e4, 1e9
	}
	dLo, dHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dHi <= dLo {
		dHi = dLo + 1
	}

	const (
		width, height     = 940, 490
		panelW            = 450
		top, bottom       = 115.0, 410.0
		left, right       = 80.0, 430.0 // within a panel
		barW, barGap      = 40.0, 6.0
		fontFamily        = "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
		gridColor, axisCl = "#d9d9d9", "#555"
	)
	y := func(v float64) float64 {
		return bottom - (math.Log10(v)-dLo)/(dHi-dLo)*(bottom-top)
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="12">`+"\n",
		width, height, width, height, fontFamily)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="20" y="28" font-size="16" font-weight="bold">Bytes allocated per operation (B/op) against object size</text>`+"\n")
	fmt.Fprintf(&b, `<text x="20" y="48" fill="#555">%s; %s CPUs, %s. Log scale. Lower is better; flat means memory does not grow with the object.</text>`+"\n",
		esc(rep.m.date.Format("2006-01-02")), esc(rep.m.nproc), esc(rep.m.goVersion))
	lx := 20.0
	for _, s := range series {
		fmt.Fprintf(&b, `<rect x="%.0f" y="60" width="12" height="12" fill="%s"/><text x="%.0f" y="70">%s</text>`+"\n", lx, s.color, lx+18, esc(s.name))
		lx += 18 + 7.2*float64(len(s.name)) + 24
	}

	for pi, p := range panels {
		x0 := float64(pi * panelW)
		fmt.Fprintf(&b, `<g>`+"\n")
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-weight="bold" text-anchor="middle">%s</text>`+"\n", x0+(left+right)/2, top-12, esc(p.title))
		for d := dLo; d <= dHi; d++ {
			yy := y(math.Pow(10, d))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0+left, yy, x0+right, yy, gridColor)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", x0+left-6, yy+4, esc(si(math.Pow(10, d))))
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0+left, top, x0+left, bottom, axisCl)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0+left, bottom, x0+right, bottom, axisCl)
		groupW := (right - left) / float64(len(sizes))
		for gi, size := range sizes {
			cx := x0 + left + groupW*(float64(gi)+0.5)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", cx, bottom+18, esc(sizeName(size)))
			for k, s := range series {
				v := rep.r.get(p.bench+"/"+s.variant+"/"+size, "B/op")
				bx := cx - barW - barGap/2 + float64(k)*(barW+barGap)
				if v <= 0 {
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#999">n/a</text>`+"\n", bx+barW/2, bottom-4)
					continue
				}
				by := y(v)
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.0f" height="%.1f" fill="%s"><title>%s %s: %s B/op</title></rect>`+"\n",
					bx, by, barW, bottom-by, s.color, esc(s.name), esc(sizeName(size)), bytesFmt(v))
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%s</text>`+"\n", bx+barW/2, by-4, esc(si(v)))
			}
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555">object size (MB = 2^20 bytes)</text>`+"\n", x0+(left+right)/2, bottom+38)
		fmt.Fprintf(&b, `</g>`+"\n")
	}
	fmt.Fprintf(&b, `<text x="20" y="%d" fill="#555">B/op: every byte allocated per operation in the process (go test -benchmem), SI units. Get holds one 5 MiB multipart part whatever the size.</text>`+"\n", height-14)
	b.WriteString("</svg>\n")
	return b.String()
}

// si writes n bytes in SI units (kB = 1000 B), short.
func si(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	if n >= 100 || n == math.Trunc(n) {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	if n >= 10 {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

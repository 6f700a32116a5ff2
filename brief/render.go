package brief

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"slices"
	"strings"
	textTemplate "text/template"
	"time"

	risk "riskwatch"
)

// Formats are the formats a brief is written in.
var Formats = []string{"html", "markdown", "json"}

// Write writes b in format: "html" (a print-ready page, at most two A4
// sheets, everything embedded), "markdown" or "json" (the figures). An
// unknown format is ErrInvalid.
func Write(w io.Writer, b *Brief, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	case "html":
		return pageHTML.Execute(w, b)
	case "markdown", "md":
		return pageMarkdown.Execute(w, b)
	}
	return fmt.Errorf("format %q: want html, markdown or json: %w", format, risk.ErrInvalid)
}

//go:embed brief.html.tmpl
var htmlText string

//go:embed brief.md.tmpl
var markdownText string

var funcs = map[string]any{
	"change":  change,
	"count":   func(n *int) string { return countOrDash(n) },
	"share":   shareText,
	"date":    func(t time.Time) string { return t.In(risk.CST).Format("2006-01-02 15:04") },
	"decimal": decimal,
	"spark":   sparkline,
	"bars":    barChart,
	"sub1":    func(n int) int { return n - 1 },
	"add1":    func(n int) int { return n + 1 },
	"pct":     func(p float64) string { return fmt.Sprintf("%.2g", p) },
	"rate":    rateText,
}

// rateText is matters per 10,000 residents: 3.2; "" where unknown.
func rateText(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%.1f", *v)
}

var (
	pageHTML     = template.Must(template.New("html").Funcs(funcs).Parse(htmlText))
	pageMarkdown = textTemplate.Must(textTemplate.New("md").Funcs(funcs).Parse(markdownText))
)

// change is the change from prev to cur: ↑25%, ↓10%, 持平, 新增, or — when
// both are zero.
func change(cur int, prev any) string {
	var p int
	switch v := prev.(type) {
	case int:
		p = v
	case *int:
		if v == nil {
			return "—"
		}
		p = *v
	}
	switch {
	case cur == p && cur == 0:
		return "—"
	case cur == p:
		return "持平"
	case p == 0:
		return "新增"
	case cur > p:
		return fmt.Sprintf("↑%d%%", percentUp(cur, p))
	}
	return fmt.Sprintf("↓%d%%", (p-cur)*100/p)
}

func countOrDash(n *int) string {
	if n == nil {
		return "—"
	}
	return fmt.Sprint(*n)
}

func shareText(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", *v)
}

// sparkline draws a count's history and this period: the history as a
// thin line, its mean dashed, this period a filled dot with its value, so
// that it reads in black and white.
func sparkline(r Rise) template.HTML {
	const w, h, pad = 170, 40, 5
	pts := append(append([]int{}, r.History...), r.Current)
	peak := 1
	for _, v := range pts {
		peak = max(peak, v)
	}
	dx := float64(w-2*pad-30) / float64(max(1, len(pts)-1))
	y := func(v float64) float64 { return float64(h-pad) - v*float64(h-2*pad)/float64(peak) }
	var line strings.Builder
	for i, v := range pts {
		fmt.Fprintf(&line, "%.1f,%.1f ", float64(pad)+float64(i)*dx, y(float64(v)))
	}
	lastX := float64(pad) + float64(len(pts)-1)*dx
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`, w, h, w, h, html.EscapeString(r.Name))
	fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#000" stroke-width="0.8" stroke-dasharray="3 2"/>`, pad, lastX, y(r.Mean), y(r.Mean))
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#000" stroke-width="1.2"/>`, strings.TrimSpace(line.String()))
	fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#000"/>`, lastX, y(float64(r.Current)))
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10">%d</text>`, lastX+5, y(float64(r.Current))+4, r.Current)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barChart draws places as horizontal bars, this period solid and the
// previous one a hollow outline beneath, each with its numbers.
func barChart(places []Place) template.HTML {
	if len(places) == 0 {
		return ""
	}
	const w, row, label = 330, 22, 110
	right := 70
	h := row*len(places) + 4
	peak := 1
	for _, p := range places {
		peak = max(peak, p.Current, p.Previous)
		if p.Per10k != nil {
			right = 125 // room for the rate
		}
	}
	scale := float64(w-label-right) / float64(peak)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bars" viewBox="0 0 %d %d" width="%d" height="%d" role="img">`, w, h, w, h)
	for i, p := range places {
		top := i*row + 2
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" text-anchor="end">%s</text>`, label-4, top+12, html.EscapeString(p.Name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="9" fill="#444"/>`, label, top+2, float64(p.Current)*scale)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="5" fill="none" stroke="#000" stroke-width="0.7"/>`, label, top+13, float64(p.Previous)*scale)
		rate := ""
		if p.Per10k != nil {
			rate = "，每万人" + rateText(p.Per10k)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="9">%d（上期%d%s）</text>`, float64(label)+float64(max(p.Current, p.Previous))*scale+4, top+12, p.Current, p.Previous, rate)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Rated reports whether a hotspot is shown per 10,000 residents.
func (b *Brief) Rated() bool {
	for _, p := range append(slices.Clone(b.Hotspots), b.SubHotspots...) {
		if p.Per10k != nil {
			return true
		}
	}
	return false
}

// Group is headline figures shown together.
type Group struct {
	Name    string
	Figures []Figure
}

// Groups splits the headline into matters and alerts, and the cases.
func (b *Brief) Groups() []Group {
	g := []Group{{Name: "诉求与预警"}, {Name: "案件处置"}}
	for _, f := range b.Headline {
		i := 0
		if strings.HasPrefix(f.Key, "cases_") {
			i = 1
		}
		g[i].Figures = append(g[i].Figures, f)
	}
	return g
}

// String is the brief in Markdown, for robots and logs of tests.
func (b *Brief) String() string {
	var buf bytes.Buffer
	if err := pageMarkdown.Execute(&buf, b); err != nil {
		return err.Error()
	}
	return buf.String()
}

package reporter

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Charts are inline SVG: they need no script, print sharply, and take
// their colours from CSS classes (so they follow light and dark mode), with
// fill and stroke attributes as the fallback where no style sheet applies.

// BarSeries is one layer of a stacked bar chart.
type BarSeries struct {
	Name string
	// Class is the CSS class of its bars, e.g. Verdict.Class().
	Class string
	// Color is the fallback fill, e.g. "#c0392b".
	Color string
	// Values has one value per category.
	Values []float64
}

// StackedBarChart is a bar per category with the series stacked in it,
// such as drift per day by verdict.
type StackedBarChart struct {
	// ID makes the chart's element IDs unique on a page.
	ID    string
	Title string
	// Desc describes the chart for screen readers.
	Desc string
	// Categories label the bars, left to right.
	Categories []string
	Series     []BarSeries
	// YLabel names the vertical axis.
	YLabel string
	// Width and Height are the drawing's size; 0 means 720 × 260.
	Width, Height int
}

// LinePoint is one point of a line series.
type LinePoint struct {
	At    time.Time
	Value float64
}

// LineSeries is one line of a line chart.
type LineSeries struct {
	Name   string
	Class  string
	Color  string
	Points []LinePoint
}

// LineChart is values over time, such as the change success rate per week.
type LineChart struct {
	ID    string
	Title string
	Desc  string
	// Series are drawn in order; points are joined in time order.
	Series []LineSeries
	// YLabel names the vertical axis; Unit follows each value ("%", " h").
	YLabel string
	Unit   string
	// YMin and YMax fix the vertical range when YMax > YMin (0–100 for a
	// rate); otherwise it runs from 0 to a round number above the data.
	YMin, YMax float64
	// XLayout formats the time labels; "Jan 2" when empty.
	XLayout string
	// Location is the zone of the time labels; nil means UTC.
	Location *time.Location
	// Width and Height are the drawing's size; 0 means 720 × 260.
	Width, Height int
}

// chart margins: room for the axis labels and the legend.
const (
	marginLeft   = 52
	marginRight  = 16
	marginTop    = 34
	marginBottom = 40
)

type svgBuilder struct {
	strings.Builder
}

// text writes s as SVG character data: special characters made visible,
// markup escaped.
func (b *svgBuilder) text(s string) {
	b.WriteString(template.HTMLEscapeString(oneLine(s, 200)))
}

// fill writes a colour attribute, when there is a colour.
func (b *svgBuilder) fill(name, color string) {
	if color == "" {
		return
	}
	b.WriteString(" " + name + `="`)
	b.WriteString(template.HTMLEscapeString(oneLine(color, 40)))
	b.WriteString(`"`)
}

func fnum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func coord(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// niceCeil returns a round number (1, 2, 2.5 or 5 × 10^n) at or above v,
// and a tick step that divides it into 4 or 5.
func niceCeil(v float64) (top, step float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 0.25
	}
	raw := v / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	top = math.Ceil(v/step) * step
	return top, step
}

// chartID reduces an ID to characters safe in an XML ID.
func chartID(id, fallback string) string {
	var sb strings.Builder
	for _, r := range id {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			sb.WriteRune(r)
		}
	}
	if sb.Len() == 0 {
		return fallback
	}
	return sb.String()
}

func (b *svgBuilder) open(id, title, desc string, w, h int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="%s-title %s-desc">`, id, w, h, w, h, id, id)
	fmt.Fprintf(b, `<title id="%s-title">`, id)
	b.text(title)
	fmt.Fprintf(b, `</title><desc id="%s-desc">`, id)
	b.text(desc)
	b.WriteString(`</desc>`)
}

// yAxis draws the horizontal grid lines and their labels from lo to hi.
func (b *svgBuilder) yAxis(lo, hi, step float64, w, h int, unit, label string) {
	plotH := float64(h - marginTop - marginBottom)
	b.WriteString(`<g class="grid" stroke="#8884" stroke-width="1">`)
	for v := lo; v <= hi+step/1e6; v += step {
		y := float64(h-marginBottom) - (v-lo)/(hi-lo)*plotH
		fmt.Fprintf(b, `<line x1="%d" y1="%s" x2="%d" y2="%s"/>`, marginLeft, coord(y), w-marginRight, coord(y))
	}
	b.WriteString(`</g><g class="axis" font-size="11" text-anchor="end" fill="currentColor">`)
	for v := lo; v <= hi+step/1e6; v += step {
		y := float64(h-marginBottom) - (v-lo)/(hi-lo)*plotH
		fmt.Fprintf(b, `<text x="%d" y="%s">`, marginLeft-6, coord(y+4))
		b.text(fnum(v) + strings.TrimSpace(unit))
		b.WriteString(`</text>`)
	}
	b.WriteString(`</g>`)
	if label != "" {
		fmt.Fprintf(b, `<text class="axis-label" font-size="11" fill="currentColor" x="12" y="%s" transform="rotate(-90 12 %s)" text-anchor="middle">`,
			coord(float64(marginTop)+plotH/2), coord(float64(marginTop)+plotH/2))
		b.text(label)
		b.WriteString(`</text>`)
	}
	fmt.Fprintf(b, `<line class="axis-line" x1="%d" y1="%d" x2="%d" y2="%d" stroke="currentColor" stroke-width="1"/>`,
		marginLeft, h-marginBottom, w-marginRight, h-marginBottom)
}

type legendEntry struct{ name, class, color string }

// legend draws the series names along the top.
func (b *svgBuilder) legend(entries []legendEntry) {
	b.WriteString(`<g class="legend" font-size="11" fill="currentColor">`)
	x := float64(marginLeft)
	for _, e := range entries {
		fmt.Fprintf(b, `<rect class="%s" x="%s" y="10" width="10" height="10"`, cssClass(e.class), coord(x))
		b.fill("fill", e.color)
		b.WriteString(`/>`)
		fmt.Fprintf(b, `<text x="%s" y="19">`, coord(x+14))
		b.text(e.name)
		b.WriteString(`</text>`)
		x += 14 + 7*float64(len([]rune(oneLine(e.name, 200)))) + 14
	}
	b.WriteString(`</g>`)
}

// labelEvery returns how often to label the x axis so labels do not
// overlap: about one per 48 units of width.
func labelEvery(n int, plotW float64) int {
	fit := int(plotW / 48)
	if fit < 1 {
		fit = 1
	}
	every := 1
	for n/every > fit {
		every++
	}
	return every
}

// SVG draws the chart.
func (c *StackedBarChart) SVG() template.HTML {
	w, h := c.Width, c.Height
	if w <= 0 || h <= 0 {
		w, h = 720, 260
	}
	id := chartID(c.ID, "bars")
	n := len(c.Categories)
	totals := make([]float64, n)
	maxTotal := 0.0
	for _, s := range c.Series {
		for i := 0; i < n && i < len(s.Values); i++ {
			if v := s.Values[i]; v > 0 {
				totals[i] += v
			}
		}
	}
	for _, t := range totals {
		maxTotal = math.Max(maxTotal, t)
	}
	top, step := niceCeil(maxTotal)
	var b svgBuilder
	b.open(id, c.Title, c.Desc, w, h)
	b.yAxis(0, top, step, w, h, "", c.YLabel)
	entries := make([]legendEntry, len(c.Series))
	for i, s := range c.Series {
		entries[i] = legendEntry{s.Name, s.Class, s.Color}
	}
	b.legend(entries)
	plotW := float64(w - marginLeft - marginRight)
	plotH := float64(h - marginTop - marginBottom)
	if n > 0 {
		slot := plotW / float64(n)
		barW := math.Max(1, slot*0.7)
		b.WriteString(`<g class="bars">`)
		for i := 0; i < n; i++ {
			x := float64(marginLeft) + slot*float64(i) + (slot-barW)/2
			y := float64(h - marginBottom)
			for _, s := range c.Series {
				if i >= len(s.Values) || s.Values[i] <= 0 {
					continue
				}
				bh := s.Values[i] / top * plotH
				y -= bh
				fmt.Fprintf(&b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s"`,
					cssClass(s.Class), coord(x), coord(y), coord(barW), coord(bh))
				b.fill("fill", s.Color)
				b.WriteString(`><title>`)
				b.text(c.Categories[i] + " · " + s.Name + ": " + fnum(s.Values[i]))
				b.WriteString(`</title></rect>`)
			}
		}
		b.WriteString(`</g><g class="axis" font-size="11" text-anchor="middle" fill="currentColor">`)
		every := labelEvery(n, plotW)
		for i := 0; i < n; i += every {
			fmt.Fprintf(&b, `<text x="%s" y="%d">`, coord(float64(marginLeft)+slot*(float64(i)+0.5)), h-marginBottom+16)
			b.text(c.Categories[i])
			b.WriteString(`</text>`)
		}
		b.WriteString(`</g>`)
	} else {
		fmt.Fprintf(&b, `<text class="empty" x="%s" y="%s" text-anchor="middle" font-size="13" fill="currentColor">No data in this period</text>`,
			coord(float64(marginLeft)+plotW/2), coord(float64(marginTop)+plotH/2))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// SVG draws the chart.
func (c *LineChart) SVG() template.HTML {
	w, h := c.Width, c.Height
	if w <= 0 || h <= 0 {
		w, h = 720, 260
	}
	id := chartID(c.ID, "lines")
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	layout := c.XLayout
	if layout == "" {
		layout = "Jan 2"
	}
	var tmin, tmax time.Time
	maxV := 0.0
	points := 0
	for _, s := range c.Series {
		for _, p := range s.Points {
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				continue
			}
			points++
			if tmin.IsZero() || p.At.Before(tmin) {
				tmin = p.At
			}
			if tmax.IsZero() || p.At.After(tmax) {
				tmax = p.At
			}
			maxV = math.Max(maxV, p.Value)
		}
	}
	lo, hi, step := 0.0, 0.0, 0.0
	if c.YMax > c.YMin {
		lo, hi = c.YMin, c.YMax
		_, step = niceCeil(hi - lo)
	} else {
		hi, step = niceCeil(maxV)
	}
	var b svgBuilder
	b.open(id, c.Title, c.Desc, w, h)
	b.yAxis(lo, hi, step, w, h, c.Unit, c.YLabel)
	entries := make([]legendEntry, len(c.Series))
	for i, s := range c.Series {
		entries[i] = legendEntry{s.Name, s.Class, s.Color}
	}
	b.legend(entries)
	plotW := float64(w - marginLeft - marginRight)
	plotH := float64(h - marginTop - marginBottom)
	if points == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%s" y="%s" text-anchor="middle" font-size="13" fill="currentColor">No data in this period</text></svg>`,
			coord(float64(marginLeft)+plotW/2), coord(float64(marginTop)+plotH/2))
		return template.HTML(b.String())
	}
	span := tmax.Sub(tmin).Seconds()
	xOf := func(t time.Time) float64 {
		if span == 0 {
			return float64(marginLeft) + plotW/2
		}
		return float64(marginLeft) + t.Sub(tmin).Seconds()/span*plotW
	}
	yOf := func(v float64) float64 {
		v = math.Max(lo, math.Min(hi, v))
		return float64(h-marginBottom) - (v-lo)/(hi-lo)*plotH
	}
	// X labels at the distinct times of the points, thinned to fit.
	var times []time.Time
	seen := map[int64]bool{}
	for _, s := range c.Series {
		for _, p := range s.Points {
			if !seen[p.At.UnixNano()] {
				seen[p.At.UnixNano()] = true
				times = append(times, p.At)
			}
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	b.WriteString(`<g class="axis" font-size="11" text-anchor="middle" fill="currentColor">`)
	every := labelEvery(len(times), plotW)
	for i := 0; i < len(times); i += every {
		fmt.Fprintf(&b, `<text x="%s" y="%d">`, coord(xOf(times[i])), h-marginBottom+16)
		b.text(times[i].In(loc).Format(layout))
		b.WriteString(`</text>`)
	}
	b.WriteString(`</g>`)
	for _, s := range c.Series {
		pts := append([]LinePoint(nil), s.Points...)
		slices.SortStableFunc(pts, func(a, b LinePoint) int { return a.At.Compare(b.At) })
		fmt.Fprintf(&b, `<g class="series %s"`, cssClass(s.Class))
		b.fill("stroke", s.Color)
		b.fill("fill", s.Color)
		b.WriteString(`><polyline fill="none" stroke-width="2" points="`)
		first := true
		for _, p := range pts {
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				continue
			}
			if !first {
				b.WriteByte(' ')
			}
			first = false
			b.WriteString(coord(xOf(p.At)) + "," + coord(yOf(p.Value)))
		}
		b.WriteString(`"/>`)
		for _, p := range pts {
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				continue
			}
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3"><title>`, coord(xOf(p.At)), coord(yOf(p.Value)))
			b.text(s.Name + " · " + p.At.In(loc).Format(layout) + ": " + fnum(p.Value) + c.Unit)
			b.WriteString(`</title></circle>`)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

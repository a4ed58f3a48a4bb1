package reporter

import (
	"strings"
	"testing"
	"time"
)

func TestNiceCeil(t *testing.T) {
	tests := []struct{ v, top, step float64 }{
		{0, 1, 0.25},
		{3, 3, 1},
		{7, 8, 2},
		{9.5, 10, 2.5},
		{37, 40, 10},
		{100, 100, 25},
		{1234, 1500, 500},
	}
	for _, tt := range tests {
		top, step := niceCeil(tt.v)
		if top != tt.top || step != tt.step {
			t.Errorf("niceCeil(%v) = %v, %v; want %v, %v", tt.v, top, step, tt.top, tt.step)
		}
	}
}

func TestChartsWithoutData(t *testing.T) {
	for name, svg := range map[string]string{
		"bars":  string((&StackedBarChart{Title: "Drift"}).SVG()),
		"lines": string((&LineChart{Title: "MTTR"}).SVG()),
	} {
		if !strings.Contains(svg, "No data in this period") || !strings.HasSuffix(svg, "</svg>") {
			t.Errorf("%s chart without data: %s", name, svg)
		}
	}
}

func TestBarHeightsFollowValues(t *testing.T) {
	c := &StackedBarChart{Categories: []string{"a", "b"}, Series: []BarSeries{{Name: "x", Class: "v-authorized", Values: []float64{2, 4}}}, Width: 200, Height: 174}
	svg := string(c.SVG())
	// Plot height is 174-34-40 = 100 and the axis tops at 4: a value of
	// 2 is 50 high, 4 is 100.
	for _, want := range []string{`height="50"><title>a · x: 2</title>`, `height="100"><title>b · x: 4</title>`} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %s:\n%s", want, svg)
		}
	}
}

func TestLineChartLabelsThinned(t *testing.T) {
	var pts []LinePoint
	for i := 0; i < 60; i++ {
		pts = append(pts, LinePoint{At: time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i), Value: float64(i % 7)})
	}
	svg := string((&LineChart{Series: []LineSeries{{Name: "x", Points: pts}}, Width: 480, Height: 200}).SVG())
	if n := strings.Count(svg, `<text x=`) - 5; n > 9 {
		t.Errorf("%d x labels on a 480-wide chart; want them thinned to fit", n)
	}
	if !strings.Contains(svg, "<circle") || strings.Count(svg, "<circle") != 60 {
		t.Errorf("want a point marker per value")
	}
}

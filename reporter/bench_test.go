package reporter

import (
	"io"
	"testing"
)

// BenchmarkInbox100 renders an inbox page of 100 drift items.
func BenchmarkInbox100(b *testing.B) {
	r := newRenderer(b)
	p := fixInbox(100)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Inbox(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOverview1000 renders the overview of 1,000 hosts in two
// tenants, four in five of them with open drift.
func BenchmarkOverview1000(b *testing.B) {
	r := newRenderer(b)
	p := fixOverview(500)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Overview(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDrift renders a drift item's page with its diff.
func BenchmarkDrift(b *testing.B) {
	r := newRenderer(b)
	p := fixDriftPage(ViewSplit)
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Drift(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDigest renders the weekly digest as HTML.
func BenchmarkDigest(b *testing.B) {
	r := newRenderer(b)
	d := fixDigest()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.DigestHTML(io.Discard, d); err != nil {
			b.Fatal(err)
		}
	}
}

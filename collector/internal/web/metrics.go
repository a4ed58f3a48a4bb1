package web

import (
	"io"
	"net/http"
	"time"

	"github.com/driftwatch/driftwatch/collector/internal/reconcile"
	"github.com/driftwatch/driftwatch/collector/internal/store"
	"github.com/driftwatch/driftwatch/reporter"
)

// Metrics period defaults and bounds.
const (
	defaultMetricsDays = 28
	maxMetricsDays     = 366
	// metricsLookback is how long before the period the items resolved in
	// it may have been first seen, for the time to resolve.
	metricsLookback = 90 * 24 * time.Hour
	metricsMax      = 500000
)

// metrics serves drift and change figures over a period, with charts:
// drift per day by verdict, the change success rate and the mean time to
// resolve per week.
func (h *Handler) metrics(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	tenantID, tenants, err := h.scope(r, p)
	if err != nil {
		return err
	}
	_, _, start, end, err := h.period(r, defaultMetricsDays)
	if err != nil {
		return err
	}
	if end.Sub(start) > maxMetricsDays*24*time.Hour {
		return badRequest("Choose a period of at most a year.")
	}
	items, truncated, err := h.periodItems(ctx, tenants, start.Add(-metricsLookback), end, metricsMax)
	if err != nil {
		return err
	}
	recs := make([]reconcile.Record, 0, len(items))
	for _, x := range items {
		di := x.di
		recs = append(recs, reconcile.Record{FirstSeen: di.FirstSeen, ResolvedAt: di.ResolvedAt, Verdict: reconcile.Verdict(di.Verdict),
			Level: di.Level, Status: reconcile.Status(di.Status)})
	}
	loc := h.loc(r.Context())
	page := &reporter.MetricsPage{From: start, To: end.Add(-time.Nanosecond)}
	byDay := map[time.Time]map[reporter.Verdict]int{}
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		byDay[d] = map[reporter.Verdict]int{}
	}
	for _, rc := range recs {
		if rc.FirstSeen.Before(start) || !rc.FirstSeen.Before(end) {
			continue
		}
		if m, ok := byDay[dayStart(rc.FirstSeen, loc)]; ok {
			m[reporter.Verdict(rc.Verdict)]++
		}
	}
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		page.DriftPerDay = append(page.DriftPerDay, reporter.DayCounts{Day: d, ByVerdict: byDay[d]})
	}
	for wk := start; wk.Before(end); wk = wk.AddDate(0, 0, 7) {
		wend := wk.AddDate(0, 0, 7)
		if wend.After(end) {
			wend = end
		}
		m, err := reconcile.Compute(recs, wk, wend)
		if err != nil {
			return err
		}
		if rate, ok := successRate(m); ok {
			page.SuccessRate = append(page.SuccessRate, reporter.LinePoint{At: wk, Value: rate})
		}
		if m.Resolved > 0 {
			page.MTTR = append(page.MTTR, reporter.LinePoint{At: wk, Value: time.Duration(m.MTTR).Hours()})
		}
	}
	m, err := reconcile.Compute(recs, start, end)
	if err != nil {
		return err
	}
	page.Summary = reporter.MetricsSummary{Changes: m.Observed, Authorized: m.Authorized,
		Unauthorized: m.ByVerdict[reconcile.Verdict(store.VerdictUnauthorized)], SuccessRate: -1, MTTR: time.Duration(m.MTTR)}
	if rate, ok := successRate(m); ok {
		page.Summary.SuccessRate = rate
	}
	for _, t := range tenants {
		counts, err := h.openCounts(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, c := range counts {
			page.Summary.OpenL3 += c.Level(reporter.Level3)
		}
	}
	page.Page = h.basePage(w, r, p, tenantID)
	if truncated {
		page.Flashes = append(page.Flashes, reporter.Flash{Kind: reporter.FlashWarning, Message: "The period has too many changes to count them all; choose a shorter one."})
	}
	return h.write(w, http.StatusOK, func(out io.Writer) error { return h.r.Metrics(out, page) })
}

// successRate is the percentage of the changes decided in a period that
// were kept (accepted, or made part of the baseline) rather than rolled
// back; ok is false when none was decided.
func successRate(m reconcile.Metrics) (float64, bool) {
	kept := m.ResolvedByStatus[reconcile.StatusAccepted] + m.ResolvedByStatus[reconcile.StatusPromoted]
	back := m.ResolvedByStatus[reconcile.StatusRevertRequested] + m.ResolvedByStatus[reconcile.StatusReverted]
	if kept+back == 0 {
		return 0, false
	}
	return 100 * float64(kept) / float64(kept+back), true
}

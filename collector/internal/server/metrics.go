package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftwatch/driftwatch/collector/internal/store"
)

// Reasons a report is rejected, the values of the reason label of
// driftwatch_reports_rejected_total.
const (
	rejectUnauthorized = "unauthorized"
	rejectTooLarge     = "too_large"
	rejectMalformed    = "malformed"
	rejectInvalid      = "invalid"
	rejectMissingBlobs = "missing_blobs"
	rejectError        = "error"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	reportsIngested prometheus.Counter
	reportsRejected *prometheus.CounterVec
	reportBytes     prometheus.Counter
	ingestSeconds   prometheus.Histogram
	heartbeats      prometheus.Counter
	hostEvents      prometheus.Counter
}

// registerWriterStats exports the statistics of a store with one writer.
func registerWriterStats(reg prometheus.Registerer, w store.WriterStatser) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "driftwatch_store_writer_busy_seconds_total",
			Help: "Time the embedded store's one writer spent running write transactions; its rate is the writer's utilization (1 when saturated).",
		}, func() float64 { return w.WriterStats().Busy.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "driftwatch_store_write_transactions_total",
			Help: "Write transactions the embedded store's writer ran.",
		}, func() float64 { return float64(w.WriterStats().Transactions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "driftwatch_store_commits_total",
			Help: "Commits of the embedded store's writer; each takes every write transaction waiting.",
		}, func() float64 { return float64(w.WriterStats().Commits) }),
	)
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reportsIngested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftwatch_reports_ingested_total",
			Help: "Reports accepted and stored (resent duplicates not counted).",
		}),
		reportsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftwatch_reports_rejected_total",
			Help: "Reports refused, by reason.",
		}, []string{"reason"}),
		reportBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftwatch_report_bytes_total",
			Help: "Bytes of report bodies read, uncompressed.",
		}),
		ingestSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "driftwatch_report_ingest_seconds",
			Help:    "Time to validate and store an accepted report.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8), // 1ms … 16s
		}),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftwatch_heartbeats_total",
			Help: "Agent heartbeats received.",
		}),
		hostEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "driftwatch_host_events_total",
			Help: "Host events stored (coverage gaps, dropped reports), resent ones not counted.",
		}),
	}
	reg.MustRegister(m.reportsIngested, m.reportsRejected, m.reportBytes, m.ingestSeconds, m.heartbeats, m.hostEvents)
	for _, reason := range []string{rejectUnauthorized, rejectTooLarge, rejectMalformed, rejectInvalid, rejectMissingBlobs, rejectError} {
		m.reportsRejected.WithLabelValues(reason)
	}
	return m
}

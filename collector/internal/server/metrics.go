package server

import "github.com/prometheus/client_golang/prometheus"

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

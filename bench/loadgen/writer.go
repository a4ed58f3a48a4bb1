package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/driftwatch/driftwatch/collector/api"
)

// writerMetrics are the SQLite store's writer counters (see
// driftwatch_store_writer_busy_seconds_total) of the collectors scraped.
type writerMetrics struct {
	busy, txs, commits float64
	writers            int // collectors that have a writer
	found              bool
}

// scrapeWriters sums the writer counters of the collectors' /metrics
// (those without them, on PostgreSQL, add nothing). The connection is
// checked against the pinned fingerprint fp, when given.
func scrapeWriters(urls []string, fp string, insecure bool) (writerMetrics, error) {
	var m writerMetrics
	cfg := &tls.Config{}
	if fp != "" {
		want, err := api.NormalizeFingerprint(fp)
		if err != nil {
			return m, err
		}
		cfg.InsecureSkipVerify = true // the pin replaces chain and name checks, as for agents
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no certificate")
			}
			if got := api.CertFingerprint(cs.PeerCertificates[0].Raw); got != want {
				return fmt.Errorf("certificate fingerprint %s is not the one given", got)
			}
			return nil
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	for _, u := range urls {
		if !insecure && !strings.HasPrefix(u, "https://") {
			return m, fmt.Errorf("metrics of %s: not https", u)
		}
		resp, err := client.Get(strings.TrimSuffix(u, "/") + "/metrics")
		if err != nil {
			return m, fmt.Errorf("metrics of %s: %w", u, err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			name, value, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue
			}
			var dst *float64
			switch name {
			case "driftwatch_store_writer_busy_seconds_total":
				dst, m.found = &m.busy, true
				m.writers++
			case "driftwatch_store_write_transactions_total":
				dst = &m.txs
			case "driftwatch_store_commits_total":
				dst = &m.commits
			default:
				continue
			}
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				resp.Body.Close()
				return m, fmt.Errorf("metrics of %s: %s: %w", u, name, err)
			}
			*dst += v
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil {
			return m, fmt.Errorf("metrics of %s: %w", u, err)
		}
	}
	return m, nil
}

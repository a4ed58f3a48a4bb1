#!/usr/bin/env bash
# bench/web.sh: how fast the web report's pages render for a large tenant:
# the overview, the drift inbox (first page, the next page, filtered, one
# host, all tenants) and the host list, on SQLite and on PostgreSQL. The Go
# benchmarks in collector/internal/web/bench_test.go seed the store
# directly, then time each page through the handler, signed in, and report
# the 50th and 95th percentile and the slowest request.
#
# Usage (from anywhere):
#   bench/web.sh                                   # 1,000 hosts, 1,000,000 drift items, all open
#   ITEMS=200000 bench/web.sh                      # a smaller store
#   OPEN=0.05 bench/web.sh                         # 5% still open, the rest back to baseline
#
# Environment:
#   HOSTS=1000 ITEMS=1000000 OPEN=1   the seeded tenant
#   RUNS=100                          requests timed per page
#   STORES="SQLite Postgres"          which stores
#   DRIFTWATCH_TEST_POSTGRES          the PostgreSQL DSN (default
#                                     postgres://postgres@127.0.0.1:5432/test?sslmode=disable);
#                                     the benchmark works in a schema of its own
set -euo pipefail
cd "$(dirname "$0")/.."

export DRIFTWATCH_BENCH_HOSTS=${HOSTS:-1000}
export DRIFTWATCH_BENCH_ITEMS=${ITEMS:-1000000}
export DRIFTWATCH_BENCH_OPEN=${OPEN:-1}
runs=${RUNS:-100}
for s in ${STORES:-SQLite Postgres}; do
	echo "== $s: $DRIFTWATCH_BENCH_HOSTS hosts, $DRIFTWATCH_BENCH_ITEMS drift items, open share $DRIFTWATCH_BENCH_OPEN"
	go test ./collector/internal/web/ -run '^$' -bench "^BenchmarkPages$s\$" -benchtime "${runs}x" -timeout 3h -v |
		grep -E '^(Benchmark|\s+bench_test.go|ok|FAIL|--- )'
done

#!/usr/bin/env bash
# bench/ingest.sh: measure the collector's report ingest on loopback with
# bench/loadgen: once on SQLite and, when PostgreSQL is reachable, once on
# PostgreSQL with two collectors sharing one schema.
#
# Usage (from anywhere):
#   bench/ingest.sh                        # 1000 hosts x 5 reports, 20 changes
#   HOSTS=200 REPORTS=3 bench/ingest.sh    # quick run
#   POSTGRES=0 bench/ingest.sh             # SQLite only
#   SQLITE=0 POSTGRES=1 bench/ingest.sh    # PostgreSQL only
#
# Environment:
#   HOSTS=1000 REPORTS=5 CHANGES=20 ITEMS=200 CONCURRENCY=32   loadgen flags
#   POSTGRES=auto   auto: also run on PostgreSQL when psql reaches PG_DSN;
#                   1: require it; 0: skip it
#   SQLITE=1        0: skip the SQLite run
#   PG_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#                   database the PostgreSQL run creates (and drops) a schema in
#   PG_PARAMS=      more DSN parameters for the collectors only, such as
#                   pool_max_conns=8
#   KEEP=0          1: keep the temp dir (configs, databases, logs)
#   COLLECTOR_BIN=  a driftwatch-collector binary to measure instead of
#                   building this tree's (to compare two builds, run each
#                   in turn: this machine's speed drifts between runs)
set -euo pipefail

HOSTS=${HOSTS:-1000}
REPORTS=${REPORTS:-5}
CHANGES=${CHANGES:-20}
ITEMS=${ITEMS:-200}
CONCURRENCY=${CONCURRENCY:-32}
POSTGRES=${POSTGRES:-auto}
SQLITE=${SQLITE:-1}
PG_DSN=${PG_DSN:-${DRIFTWATCH_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}}
KEEP=${KEEP:-0}
PG_PARAMS=${PG_PARAMS:-}
COLLECTOR_BIN=${COLLECTOR_BIN:-}

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dw-ingest.XXXXXX")
pids=()
schema=""
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [[ -n $schema ]]; then psql -q "$PG_DSN" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; fi
	if [[ $KEEP == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

echo "building collector and loadgen"
(cd "$root" && go build -o "$tmp/loadgen" ./bench/loadgen)
if [[ -n $COLLECTOR_BIN ]]; then
	cp "$COLLECTOR_BIN" "$tmp/driftwatch-collector"
else
	(cd "$root" && go build -o "$tmp/driftwatch-collector" ./collector/cmd/driftwatch-collector)
fi
col=$tmp/driftwatch-collector

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# write_config NAME STORE_BLOCK [TLS_BLOCK]: a collector config on a free
# port; prints its path and sets $url.
write_config() {
	local name=$1 port
	port=$(free_port)
	url=https://127.0.0.1:$port
	mkdir -p "$tmp/$name"
	printf 'listen = "127.0.0.1:%s"\npublic_url = "%s"\ndata_dir = "%s"\n%s\n%s\n' \
		"$port" "$url" "$tmp/$name" "$2" "${3:-}" >"$tmp/$name.hcl"
}

# serve CONFIG URL: start a collector and wait until it is ready.
serve() {
	"$col" serve -config "$1" -log-level warn >>"$1.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		curl -skf "$2/readyz" >/dev/null && return 0
		sleep 0.1
	done
	echo "collector $2 did not become ready:" >&2
	cat "$1.log" >&2
	exit 2
}

stop_all() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" || echo "collector $p exited $?" >&2; done
	pids=()
}

# loadgen CONFIG URLS [LOADGEN FLAGS...]: tenant, token, then the load,
# with the collectors' CPU time per report (and any other -cpu given).
loadgen() {
	local name cfg=$1 urls=$2
	shift 2
	name=t$RANDOM
	"$col" tenant create -config "$cfg" "$name" >/dev/null
	local token fp
	token=$("$col" token create -config "$cfg" -tenant "$name" -uses "$HOSTS" 2>/dev/null)
	fp=$("$col" fingerprint -config "$cfg" 2>/dev/null)
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	"$tmp/loadgen" -collector "$urls" -fingerprint "$fp" -token "$token" -hosts "$HOSTS" -reports "$REPORTS" \
		-changes "$CHANGES" -items "$ITEMS" -concurrency "$CONCURRENCY" -prefix "$name" \
		-cpu "collector=echo ${pids[*]}" "$@"
	echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
}

if [[ $SQLITE != 0 ]]; then
	echo
	echo "== SQLite, one collector: $HOSTS hosts x $REPORTS reports, $CHANGES changes, concurrency $CONCURRENCY"
	write_config sqlite ''
	"$col" migrate -config "$tmp/sqlite.hcl" >/dev/null
	serve "$tmp/sqlite.hcl" "$url"
	loadgen "$tmp/sqlite.hcl" "$url"
	stop_all
	echo "database: $(du -sh "$tmp/sqlite" | cut -f1)"
fi

if [[ $POSTGRES == 0 ]]; then exit 0; fi
if ! command -v psql >/dev/null || ! psql -q "$PG_DSN" -c 'SELECT 1' >/dev/null 2>&1; then
	if [[ $POSTGRES == 1 ]]; then
		echo "PostgreSQL at $PG_DSN is unreachable (POSTGRES=1)" >&2
		exit 2
	fi
	echo
	echo "== PostgreSQL: skipped, psql cannot reach $PG_DSN (set PG_DSN, or POSTGRES=0 to silence this)"
	exit 0
fi
schema=dw_bench_$$_$RANDOM
psql -q "$PG_DSN" -c "CREATE SCHEMA $schema" >/dev/null
# The collectors' connections carry the schema's name, so that their
# server processes can be found (for their CPU time).
case $PG_DSN in *\?*) dsn="$PG_DSN&search_path=$schema&application_name=$schema" ;; *) dsn="$PG_DSN?search_path=$schema&application_name=$schema" ;; esac
if [[ -n $PG_PARAMS ]]; then dsn="$dsn&$PG_PARAMS"; fi
echo
echo "== PostgreSQL, two collectors on one schema: $HOSTS hosts x $REPORTS reports, $CHANGES changes, concurrency $CONCURRENCY"
store=$(printf 'store "postgres" {\n  dsn = "%s"\n}' "$dsn")
write_config pg1 "$store"
url1=$url
"$col" fingerprint -config "$tmp/pg1.hcl" >/dev/null 2>&1 # makes the self-signed pair both serve
write_config pg2 "$store" "$(printf 'tls {\n  cert_file = "%s"\n  key_file = "%s"\n}' "$tmp/pg1/self-signed.crt" "$tmp/pg1/self-signed.key")"
url2=$url
"$col" migrate -config "$tmp/pg1.hcl" >/dev/null
serve "$tmp/pg1.hcl" "$url1"
serve "$tmp/pg2.hcl" "$url2"
loadgen "$tmp/pg1.hcl" "$url1,$url2" \
	-cpu "postgres=psql -Atq '$PG_DSN' -c \"SELECT pid FROM pg_stat_activity WHERE application_name = '$schema'\""
stop_all

#!/usr/bin/env bash
# bench/service.sh: measure driftwatch-agent running as a service
# (`driftwatch-agent run`) with a real collector on loopback: how soon a
# change reaches the collector, what the agent costs while nothing changes
# (next to inotifywait watching the same tree), and how fast its spool
# empties when the collector comes back after an outage.
#
# Usage (from anywhere; as root to install inotify-tools when missing):
#   bench/service.sh                               # about 7 minutes on 2 cores
#   SETTLE=10 WINDOW=20 AGAIN=0 DIRS=1000 SINGLES=10 BURSTS=2 \
#       SPOOL_CHANGES=1000 SPOOL_BURST=100 bench/service.sh  # quick run
#
# Environment:
#   DIRS=10000 FILES=10   the idle tree: DIRS leaf directories of FILES files
#   CONTENT=false         content = true|false in the idle tree's files block
#   SETTLE=60 WINDOW=60   seconds of quiet before the idle window, and its length
#   AGAIN=30              seconds of a second idle window after the latency runs
#                         (0: none)
#   SINGLES=50 BURSTS=5   latency: single edits, and bursts of each kind
#   SPOOL_CHANGES=10000   files edited while the collector is away
#   SPOOL_BURST=1000      files edited at once, each burst meant as one report
#   SPOOL_GAP=400ms       pause between bursts (more than the 200 ms debounce)
#   RETRY_MAX=1s          the spool agent's retry_max (the default is 1m)
#   PROFILE=1             0: no CPU profiles (DRIFTWATCH_CPUPROFILE)
#   AGENT_BIN, COLLECTOR_BIN   use these binaries instead of building them
#                         (a release, or `make build`'s bin/)
#   OUT=$TMP/service-results.txt   where the results are written too
#   KEEP=0                1: keep the temp dir (trees, state, logs, profiles)
#   TMPDIR=/var/tmp       where the temp dir is made: a quiet place (see below)
set -euo pipefail

DIRS=${DIRS:-10000}
FILES=${FILES:-10}
CONTENT=${CONTENT:-false}
SETTLE=${SETTLE:-60}
WINDOW=${WINDOW:-60}
AGAIN=${AGAIN:-30}
SINGLES=${SINGLES:-50}
BURSTS=${BURSTS:-5}
SPOOL_CHANGES=${SPOOL_CHANGES:-10000}
SPOOL_BURST=${SPOOL_BURST:-1000}
SPOOL_GAP=${SPOOL_GAP:-400ms}
RETRY_MAX=${RETRY_MAX:-1s}
PROFILE=${PROFILE:-1}
KEEP=${KEEP:-0}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The agent watches the directories above its roots too, up to "/", and
# wakes for every entry created or changed in them: the trees live under
# /var/tmp, not under a /tmp that other programs keep busy.
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/driftwatch-service.XXXXXX")
OUT=${OUT:-$TMP/service-results.txt}
BIN=$TMP/bin
LOGS=$TMP/logs
mkdir -p "$BIN" "$LOGS"

log() { echo "service.sh: $(date -u +%H:%M:%S) $*" >&2; }
die() {
	log "$*"
	exit 1
}

for v in DIRS FILES SETTLE WINDOW AGAIN SINGLES BURSTS SPOOL_CHANGES SPOOL_BURST; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v}: want a number"
done
[[ $CONTENT == true || $CONTENT == false ]] || die "CONTENT=$CONTENT: want true or false"
((SPOOL_CHANGES % 10 == 0 && SPOOL_CHANGES > 0)) || die "SPOOL_CHANGES=$SPOOL_CHANGES: want a positive multiple of 10"

# Every process started here is in PIDS; cleanup stops each by its ID.
declare -A PIDS=()
stop() { # stop NAME: SIGTERM, SIGKILL after 60 s, and wait for the end
	local pid=${PIDS[$1]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$1 (pid $pid) did not stop within 60 s of SIGTERM: killed"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	unset "PIDS[$1]"
}
cleanup() {
	local name
	for name in "${!PIDS[@]}"; do stop "$name"; done
	if [[ $KEEP == 1 ]]; then
		log "kept $TMP"
		return
	fi
	log "removing the trees and state in $TMP"
	find "$TMP" -mindepth 1 -maxdepth 1 ! -path "$OUT" -exec rm -rf {} +
	rmdir "$TMP" 2>/dev/null || true
}
trap cleanup EXIT

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- what it needs ------------------------------------------------------
command -v go >/dev/null || die "go is not on PATH: it builds the agent, the collector and svcbench"
command -v curl >/dev/null || die "curl is not on PATH: it checks that the collector is ready"
if ! command -v inotifywait >/dev/null; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		log "installing inotify-tools (inotifywait, the idle peer)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y inotify-tools >"$LOGS/apt.log" 2>&1 ||
			{ apt-get update >>"$LOGS/apt.log" 2>&1 && apt-get install -y inotify-tools >>"$LOGS/apt.log" 2>&1; } ||
			log "apt-get install inotify-tools failed: $(tail -1 "$LOGS/apt.log"); no peer in the idle table"
	else
		log "inotifywait is missing (install inotify-tools, or run as root): no peer in the idle table"
	fi
fi

# build PKG: build ./PKG into $BIN, as `make build` does.
build() {
	(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -o "$BIN/$(basename "$1")" "./$1") || die "building ./$1 failed"
}
log "building svcbench${AGENT_BIN:+; agent $AGENT_BIN}${COLLECTOR_BIN:+; collector $COLLECTOR_BIN}"
build bench/svcbench
SB=$BIN/svcbench
AGENT=${AGENT_BIN:-$BIN/driftwatch-agent}
COL=${COLLECTOR_BIN:-$BIN/driftwatch-collector}
[[ -n ${AGENT_BIN:-} ]] || build agent/cmd/driftwatch-agent
[[ -n ${COLLECTOR_BIN:-} ]] || build collector/cmd/driftwatch-collector
[[ -x $AGENT && -x $COL ]] || die "no executable at $AGENT or $COL"

# --- collector ----------------------------------------------------------
# free_port prints a loopback port nothing listens on.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
CCFG=$TMP/collector.hcl
printf 'listen = "127.0.0.1:%s"\npublic_url = "%s"\ndata_dir = "%s"\n' "$PORT" "$URL" "$TMP/collector" >"$CCFG"
"$COL" migrate -config "$CCFG" >/dev/null
"$COL" tenant create -config "$CCFG" bench >/dev/null
TOKEN=$("$COL" token create -config "$CCFG" -tenant bench -uses 2 2>/dev/null)
export SVCBENCH_CREDENTIAL
SVCBENCH_CREDENTIAL=$("$COL" user create -config "$CCFG" -tenant bench -email bench@example.test -role viewer 2>/dev/null)
FP=$("$COL" fingerprint -config "$CCFG" 2>/dev/null)

start_collector() {
	"$COL" serve -config "$CCFG" -log-level warn >>"$LOGS/collector.log" 2>&1 &
	PIDS[collector]=$!
	for _ in $(seq 300); do
		curl -skf "$URL/readyz" >/dev/null && return 0
		kill -0 "${PIDS[collector]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$LOGS/collector.log" >&2
	die "the collector at $URL did not become ready"
}
start_collector

# --- agents -------------------------------------------------------------
# agent_config NAME TREE CONTENT [EXTRA]: an agent configuration for the
# tree, with its own state dir; prints its path.
agent_config() {
	local cfg=$TMP/$1.hcl
	cat >"$cfg" <<EOF
state_dir = "$TMP/state-$1"
host { name = "bench-$1" }
files "tree" {
  paths   = ["$2"]
  content = $3
}
${4:-}
EOF
	echo "$cfg"
}

# since START: seconds from START ($EPOCHREALTIME) until now.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# wait_log NAME PATTERN COUNT: wait until the agent's log holds COUNT
# lines matching PATTERN (10 minutes at most).
wait_log() {
	local n
	for _ in $(seq 6000); do
		n=$(grep -c -- "$2" "$LOGS/$1.log" || true)
		((n >= $3)) && return 0
		kill -0 "${PIDS[$1]}" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$LOGS/$1.log" >&2
	die "agent $1: no $3 log lines matching $2"
}

# start_agent NAME CFG: enroll, start `run` and wait for its first full
# scan and first acknowledged report. Sets HOST_ID and SETUP rows.
SETUP=()
start_agent() {
	local name=$1 cfg=$2 t out
	out=$("$AGENT" enroll -config "$cfg" -collector "$URL" -token "$TOKEN" -fingerprint "$FP")
	HOST_ID=$(awk '/^host ID:/ { print $3 }' <<<"$out")
	[[ -n $HOST_ID ]] || die "enroll $name: no host ID in: $out"
	t=$EPOCHREALTIME
	if [[ $PROFILE == 1 ]]; then
		DRIFTWATCH_CPUPROFILE=$TMP/$name.cpu.pprof "$AGENT" run -config "$cfg" >"$LOGS/$name.log" 2>&1 &
	else
		"$AGENT" run -config "$cfg" >"$LOGS/$name.log" 2>&1 &
	fi
	PIDS[$name]=$!
	wait_log "$name" '"full scan done"' 1
	SETUP+=("$name: first full scan done|$(since "$t") s after start ($(grep -o '"watched":[0-9]*' "$LOGS/$name.log" | head -1 | cut -d: -f2) directories watched)")
	wait_log "$name" '"report sent"' 1
	local carries="the baseline"
	[[ $3 == false ]] || carries+=" and its content blobs"
	SETUP+=("$name: first report acknowledged|$(since "$t") s after start (it carries $carries)")
}

# --- idle tree: footprint and latency -----------------------------------
IDLE_TREE=$TMP/idle-tree
log "writing the idle tree: $DIRS directories of $FILES files"
TREE_LINE=$("$SB" tree -out "$IDLE_TREE" -dirs "$DIRS" -files "$FILES")
IDLE_CFG=$(agent_config idle "$IDLE_TREE" "$CONTENT")
t=$EPOCHREALTIME
"$AGENT" baseline approve -config "$IDLE_CFG" -reason "svcbench" >/dev/null
SETUP+=("idle: baseline approve|$(since "$t") s ($((DIRS * FILES)) files, content = $CONTENT)")
log "starting the idle agent"
start_agent idle "$IDLE_CFG" "$CONTENT"
IDLE_HOST=$HOST_ID

PEER_ARGS=()
PEER_VERSION="no inotifywait"
if command -v inotifywait >/dev/null; then
	PEER_VERSION=$( (inotifywait --help 2>&1 || true) | head -n 1)
	inotifywait -m -r -e modify,attrib,close_write,move,create,delete "$IDLE_TREE" >/dev/null 2>"$LOGS/inotifywait.log" &
	PIDS[inotifywait]=$!
	for _ in $(seq 600); do
		grep -q "Watches established" "$LOGS/inotifywait.log" && break
		kill -0 "${PIDS[inotifywait]}" 2>/dev/null || die "inotifywait failed: $(cat "$LOGS/inotifywait.log")"
		sleep 0.1
	done
	PEER_ARGS=("inotifywait=${PIDS[inotifywait]}")
fi
log "idle: ${SETTLE}s quiet, then a ${WINDOW}s window"
IDLE_TABLE=$("$SB" idle -title "idle, $((DIRS * FILES)) files" -settle "${SETTLE}s" -window "${WINDOW}s" \
	"driftwatch-agent=${PIDS[idle]}" "${PEER_ARGS[@]}")

log "latency: $SINGLES single edits, $BURSTS bursts of each kind"
LATENCY_TABLE=$("$SB" latency -collector "$URL" -fingerprint "$FP" -host "$IDLE_HOST" -dir "$IDLE_TREE" \
	-singles "$SINGLES" -bursts "$BURSTS")
if ((AGAIN > 0)); then
	log "idle again: a ${AGAIN}s window after the latency runs"
	IDLE_TABLE+=$'\n\n'$("$SB" idle -title "idle again, after the edits" -settle 5s -window "${AGAIN}s" \
		"driftwatch-agent=${PIDS[idle]}" "${PEER_ARGS[@]}")
fi
stop inotifywait
stop idle

# --- spool: the collector away, then back --------------------------------
SPOOL_TREE=$TMP/spool-tree
log "writing the spool tree: $SPOOL_CHANGES files"
"$SB" tree -out "$SPOOL_TREE" -dirs $((SPOOL_CHANGES / 10)) -files 10 >/dev/null
SPOOL_CFG=$(agent_config spool "$SPOOL_TREE" true "spool {
  retry_max = \"$RETRY_MAX\"
}")
"$AGENT" baseline approve -config "$SPOOL_CFG" -reason "svcbench" >/dev/null
log "starting the spool agent"
start_agent spool "$SPOOL_CFG" true
SPOOL_HOST=$HOST_ID
log "spool: collector stopped; $SPOOL_CHANGES edits in bursts of $SPOOL_BURST"
stop collector
SPOOL_TABLE=$("$SB" edit -dir "$SPOOL_TREE" -files "$SPOOL_CHANGES" -burst "$SPOOL_BURST" -gap "$SPOOL_GAP" -state "$TMP/state-spool")
log "spool: collector started again"
t=$EPOCHREALTIME
start_collector
SPOOL_TABLE+=$'\n'$("$SB" drain -collector "$URL" -fingerprint "$FP" -host "$SPOOL_HOST" -state "$TMP/state-spool" \
	-log "$LOGS/spool.log" -changes "$SPOOL_CHANGES" -since "$t")
SPOOL_STATUS=$("$AGENT" status -config "$SPOOL_CFG" | grep '^spool:' || true)
stop spool
stop collector

# --- report -------------------------------------------------------------
# Warnings and errors of the agents and the collector, counted by message,
# each with its first line.
NOTES=()
for name in idle spool collector; do
	bad=$(grep -E '"level":"(warn|error|dpanic|panic|fatal)"' "$LOGS/$name.log" || true)
	[[ -n $bad ]] || continue
	while IFS= read -r msg; do
		first=$(grep -F -- "\"msg\":\"$msg\"" <<<"$bad" | head -n 1 | cut -c1-500)
		NOTES+=("$name logged $(grep -cF -- "\"msg\":\"$msg\"" <<<"$bad")× \"$msg\"; the first: $first")
	done < <(grep -o '"msg":"[^"]*"' <<<"$bad" | cut -d'"' -f4 | sort -u)
done

commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]] && commit+="+dirty"
{
	echo "driftwatch agent as a service, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine:    $(nproc) cores, shared with the collector and svcbench; $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(uname -sr); $(df -T "$TMP" | awk 'NR == 2 { print $2 }') at $TMP"
	echo "load:       $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (1, 5, 15 min)"
	echo "versions:   driftwatch $commit ($(go version | awk '{ print $3 }')); $PEER_VERSION"
	echo "collector:  SQLite, on loopback (https, pinned certificate)"
	echo "idle tree:  ${TREE_LINE#tree: }"
	echo
	for r in "${SETUP[@]}"; do
		printf '%-44s %s\n' "${r%%|*}" "${r#*|}"
	done
	echo
	echo "$IDLE_TABLE"
	echo
	echo "$LATENCY_TABLE"
	echo
	echo "spool: collector stopped, $SPOOL_CHANGES files edited (content = true), collector started again; retry_max = $RETRY_MAX"
	echo "$SPOOL_TABLE"
	echo "$SPOOL_STATUS"
	if [[ $PROFILE == 1 ]]; then
		for name in idle spool; do
			echo
			echo "CPU profile of agent $name (its whole run): driftwatch functions by cumulative time, then all by own time"
			{
				go tool pprof -top -cum -nodecount=10 -show='driftwatch/driftwatch' "$AGENT" "$TMP/$name.cpu.pprof" |
					sed -n '/^Duration/p; /flat%/,$p'
				go tool pprof -top -nodecount=6 "$AGENT" "$TMP/$name.cpu.pprof" | sed -n '/flat%/,$p' | tail -n +2
			} 2>/dev/null | sed 's/^/  /' || echo "  (no profile)"
		done
	fi
	for n in "${NOTES[@]}"; do
		echo "note: $n"
	done
} | tee "$OUT"
log "results written to $OUT"

#!/usr/bin/env bash
# bench/aide.sh: time driftwatch-agent against AIDE (and sha256sum) on one
# generated tree of configuration-like files.
#
# Usage (as root, from anywhere):
#   bench/aide.sh                          # 100,000 files, 500 MiB, 3 runs each
#   FILES=2000 bench/aide.sh               # quick run (size scales: 10 MiB)
#
# Environment:
#   FILES=100000     number of regular files in the tree
#   SIZE_MB=...      total size in MiB (default: 500 per 100,000 files)
#   SEED=1           corpus seed: the same seed gives the same tree
#   REPEAT=3         runs per operation: the table shows the median wall time
#                    and the largest peak RSS
#   DROP_CACHES=0    1: sync and drop the page cache before every timed run
#                    (cold cache); default: warm cache
#   MUTATE=0         N > 0: also time a check after `corpus -mutate N`
#                    (N edits, N mode changes, N additions, N deletions)
#   OUT=$TMP/aide-results.txt   where the table is written too
#   KEEP=0           1: keep the temp dir (tree, databases, logs)
#
# It installs aide and time with apt-get when they are missing, builds the
# corpus generator and, when agent/cmd/driftwatch-agent exists, the agent;
# without the agent it times the AIDE half only.
set -euo pipefail

FILES=${FILES:-100000}
SIZE_MB=${SIZE_MB:-$((FILES * 500 / 100000))}
SEED=${SEED:-1}
REPEAT=${REPEAT:-3}
DROP_CACHES=${DROP_CACHES:-0}
MUTATE=${MUTATE:-0}
KEEP=${KEEP:-0}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/driftwatch-aide.XXXXXX")
OUT=${OUT:-$TMP/aide-results.txt}
TREE=$TMP/tree
BIN=$TMP/bin
LOGS=$TMP/logs
mkdir -p "$BIN" "$LOGS" "$TMP/aide"

log() { echo "aide.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# cleanup removes the temp dir, except the results file when it lies inside.
cleanup() {
	if [[ $KEEP == 1 ]]; then
		log "kept $TMP"
		return
	fi
	find "$TMP" -mindepth 1 -maxdepth 1 ! -path "$OUT" -exec rm -rf {} +
	rmdir "$TMP" 2>/dev/null || true
}
trap cleanup EXIT

[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT=$REPEAT: want a positive number"
[[ $MUTATE =~ ^[0-9]+$ ]] || die "MUTATE=$MUTATE: want a number"

install_pkg() {
	log "installing $1"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y "$1" >"$LOGS/apt-$1.log" 2>&1 ||
		{ apt-get update >>"$LOGS/apt-$1.log" 2>&1 && apt-get install -y "$1" >>"$LOGS/apt-$1.log" 2>&1; } ||
		die "apt-get install $1 failed: $(tail -3 "$LOGS/apt-$1.log")"
}
command -v aide >/dev/null || install_pkg aide
[[ -x /usr/bin/time ]] || install_pkg time
command -v go >/dev/null || die "go is not on PATH: it builds the corpus generator and the agent"
if [[ $DROP_CACHES == 1 && ! -w /proc/sys/vm/drop_caches ]]; then
	die "DROP_CACHES=1 needs a writable /proc/sys/vm/drop_caches (root, not in a read-only /proc)"
fi

AIDE_VERSION=$(aide --version 2>&1 | awk '/^AIDE/ { print $2; exit }')
if printf '%s\n' 0.18 "$AIDE_VERSION" | sort -V -C; then
	AIDE_WORKERS="num_workers=2"
else
	AIDE_WORKERS="# aide $AIDE_VERSION has no num_workers: one thread"
	log "aide $AIDE_VERSION predates num_workers (0.18): AIDE runs single-threaded"
fi

# --- build --------------------------------------------------------------
(cd "$REPO" && go build -o "$BIN/corpus" ./bench/corpus) || die "building bench/corpus failed"
(cd "$REPO" && go build -o "$BIN/hashfloor" ./bench/hashfloor) || die "building bench/hashfloor failed"
DW=
if [[ -d $REPO/agent/cmd/driftwatch-agent ]]; then
	if (cd "$REPO" && go build -o "$BIN/driftwatch-agent" ./agent/cmd/driftwatch-agent) 2>"$LOGS/build-agent.log"; then
		DW=$BIN/driftwatch-agent
	else
		log "building ./agent/cmd/driftwatch-agent failed; timing the AIDE half only:"
		cat "$LOGS/build-agent.log" >&2
	fi
else
	log "./agent/cmd/driftwatch-agent does not exist yet: timing the AIDE half only"
fi

# --- corpus -------------------------------------------------------------
# The load average is printed with the results: on a shared machine it
# says how much the figures were squeezed.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
log "generating $FILES files into $TREE"
start=$EPOCHREALTIME
"$BIN/corpus" -out "$TREE" -files "$FILES" -seed "$SEED" -size-mb "$SIZE_MB" >"$LOGS/corpus.out"
GEN_WALL=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
CORPUS_LINE=$(sed "s|^corpus: $TREE: ||" "$LOGS/corpus.out")

# --- configs ------------------------------------------------------------
# AIDE's selection lines are regular expressions: escape the tree's path.
# shellcheck disable=SC2016 # sed's $ is literal
TREE_RE=$(printf '%s' "$TREE" | sed 's/[][\.*^$()+?{}|]/\\&/g')
AIDE_CONF=$TMP/aide/aide.conf
AIDE_DB=$TMP/aide/aide.db
cat >"$AIDE_CONF" <<EOF
# Written by bench/aide.sh for the benchmark tree only.
database_in=file:$AIDE_DB
database_out=file:$AIDE_DB.new
gzip_dbout=no
$AIDE_WORKERS
# What driftwatch records of a file: type, mode, owner, group, size, mtime,
# symlink target and SHA-256.
DW = ftype+p+u+g+s+m+l+sha256
$TREE_RE DW
EOF
aide --config-check -c "$AIDE_CONF" >"$LOGS/aide-config-check.out" 2>&1 ||
	die "aide rejects $AIDE_CONF: $(cat "$LOGS/aide-config-check.out")"

# dw_config NAME CONTENT writes a driftwatch-agent config and prints its path.
dw_config() {
	local cfg=$TMP/dw-$1.hcl
	cat >"$cfg" <<EOF
state_dir = "$TMP/dwstate-$1"
host { name = "bench" }
files "corpus" {
  paths   = ["$TREE"]
  content = $2
}
EOF
	echo "$cfg"
}
DW_META=$(dw_config meta false)
DW_CONTENT=$(dw_config content true)

# --- measuring ----------------------------------------------------------
drop_caches() {
	[[ $DROP_CACHES == 1 ]] || return 0
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# measure NAME PREP OK CMD... runs CMD REPEAT times, PREP (a command, untimed)
# before each run, and fails unless every exit code is in the list OK. It sets
# WALL (median seconds), RSS (largest peak, KiB) and RC (the last exit code).
measure() {
	local name=$1 prep=$2 ok=$3 i start
	shift 3
	local walls=()
	RSS=0
	for ((i = 1; i <= REPEAT; i++)); do
		$prep
		drop_caches
		RC=0
		start=$EPOCHREALTIME
		/usr/bin/time -v -o "$LOGS/$name.$i.time" "$@" >"$LOGS/$name.$i.out" 2>&1 || RC=$?
		walls+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')")
		if [[ " $ok " != *" $RC "* ]]; then
			log "$name: exit $RC (want one of: $ok): $*"
			tail -n 15 "$LOGS/$name.$i.out" >&2
			return 1
		fi
		local rss
		rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$LOGS/$name.$i.time")
		if ((rss > RSS)); then RSS=$rss; fi
	done
	WALL=$(printf '%s\n' "${walls[@]}" | sort -g |
		awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
	log "$name: median ${WALL}s, peak RSS ${RSS} KiB, exit $RC"
}

NOTES=()
ROWS=()
# row OPERATION DW_WALL AIDE_WALL DW_RSS AIDE_RSS ("-" for none)
row() { ROWS+=("$1|$2|$3|$4|$5"); }

# --- AIDE ---------------------------------------------------------------
aide_prep_init() { rm -f "$AIDE_DB.new"; }
log "aide --init ($REPEAT runs)"
measure aide-init aide_prep_init "0" aide --init -c "$AIDE_CONF"
A_INIT=$WALL A_INIT_RSS=$RSS
mv "$AIDE_DB.new" "$AIDE_DB"
log "aide --check ($REPEAT runs)"
measure aide-check : "0 1 2 3 4 5 6 7" aide --check -c "$AIDE_CONF"
A_CHECK=$WALL A_CHECK_RSS=$RSS
((RC == 0)) || NOTES+=("aide --check exited $RC on the unchanged tree (it found changes): see $LOGS")

log "sha256sum, 2 processes ($REPEAT runs)"
# shellcheck disable=SC2016 # $1 is the inner shell's
measure sha256sum : "0" bash -c 'find "$1" -type f -print0 | xargs -0 -P2 -n 500 sha256sum >/dev/null' _ "$TREE"
S_WALL=$WALL S_RSS=$RSS
log "hashfloor, 2 Go workers ($REPEAT runs)"
measure hashfloor : "0" "$BIN/hashfloor" -workers 2 "$TREE"
H_WALL=$WALL H_RSS=$RSS

# --- driftwatch ---------------------------------------------------------
dw_fail() { NOTES+=("driftwatch-agent $1 failed: see $LOGS/$2.*.out"); }
# dw_unchanged LABEL NAME CFG: baseline approve, check and check -full.
dw_unchanged() {
	local label=$1 name=$2 cfg=$3
	local state
	state=$(awk -F'"' '/^state_dir/ { print $2 }' "$cfg")
	eval "dw_prep_$name() { rm -rf '$state'; }"
	if measure "dw-approve-$name" "dw_prep_$name" "0" "$DW" baseline approve -config "$cfg" -reason bench; then
		row "first snapshot, $label" "$WALL" "$A_INIT" "$RSS" "$A_INIT_RSS"
	else
		dw_fail "baseline approve ($label)" "dw-approve-$name"
		row "first snapshot, $label" error "$A_INIT" - "$A_INIT_RSS"
		return 0
	fi
	if measure "dw-check-$name" : "0 1" "$DW" check -config "$cfg"; then
		row "check unchanged, $label" "$WALL" "$A_CHECK" "$RSS" "$A_CHECK_RSS"
		((RC == 0)) || NOTES+=("driftwatch-agent check ($label) reported drift on the unchanged tree: see $LOGS")
	else
		dw_fail "check ($label)" "dw-check-$name"
		row "check unchanged, $label" error "$A_CHECK" - "$A_CHECK_RSS"
	fi
	if measure "dw-check-full-$name" : "0 1" "$DW" check -config "$cfg" -full; then
		row "full re-hash check, $label" "$WALL" "$A_CHECK" "$RSS" "$A_CHECK_RSS"
		((RC == 0)) || NOTES+=("driftwatch-agent check -full ($label) reported drift on the unchanged tree: see $LOGS")
	else
		dw_fail "check -full ($label)" "dw-check-full-$name"
		row "full re-hash check, $label" error "$A_CHECK" - "$A_CHECK_RSS"
	fi
}

if [[ -n $DW ]]; then
	dw_unchanged "content off" meta "$DW_META"
	dw_unchanged "content on" content "$DW_CONTENT"
else
	row "first snapshot (aide --init)" - "$A_INIT" - "$A_INIT_RSS"
	row "check unchanged (aide --check)" - "$A_CHECK" - "$A_CHECK_RSS"
	NOTES+=("driftwatch-agent not built: AIDE figures only")
fi

# --- drift --------------------------------------------------------------
if ((MUTATE > 0)); then
	log "mutating the tree: $MUTATE edits, mode changes, additions and deletions"
	"$BIN/corpus" -out "$TREE" -seed "$SEED" -mutate "$MUTATE" >"$LOGS/mutate.out"
	label="check after $((4 * MUTATE)) changes"
	measure aide-check-drift : "1 2 3 4 5 6 7" aide --check -c "$AIDE_CONF" ||
		die "aide --check after the mutation did not report changes"
	A_DRIFT=$WALL A_DRIFT_RSS=$RSS
	if [[ -n $DW ]]; then
		for name in meta content; do
			cfg=$DW_META lbl="content off"
			[[ $name == content ]] && cfg=$DW_CONTENT lbl="content on"
			if measure "dw-check-drift-$name" : "1" "$DW" check -config "$cfg"; then
				row "$label, $lbl" "$WALL" "$A_DRIFT" "$RSS" "$A_DRIFT_RSS"
			else
				dw_fail "check after the mutation ($lbl)" "dw-check-drift-$name"
				row "$label, $lbl" error "$A_DRIFT" - "$A_DRIFT_RSS"
			fi
		done
	else
		row "$label (aide --check)" - "$A_DRIFT" - "$A_DRIFT_RSS"
	fi
fi

# --- report -------------------------------------------------------------
mib() { [[ $1 =~ ^[0-9]+$ ]] && awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }' || echo "$1"; }
secs() { [[ $1 =~ ^[0-9.]+$ ]] && awk -v s="$1" 'BEGIN { printf "%.2f s", s }' || echo "$1"; }
ratio() {
	if [[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] && awk -v d="$1" 'BEGIN { exit !(d > 0) }'; then
		awk -v d="$1" -v a="$2" 'BEGIN { r = a / d; printf (r < 1 ? "%.2f×" : "%.1f×"), r }'
	else
		echo "-"
	fi
}
# line prints one table line; the ratio column is padded by hand, as "×"
# takes two bytes and one column.
line() {
	local r=$4 w=9
	[[ $r == *×* ]] && w=10
	printf '%-36s %11s %11s %*s %15s %15s\n' "$1" "$2" "$3" "$w" "$r" "$5" "$6"
}
cache="warm (the tree was just written)"
[[ $DROP_CACHES == 1 ]] && cache="cold (page cache dropped before every run)"
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$REPO" status --porcelain 2>/dev/null) ]] && commit+="+dirty"
{
	echo "driftwatch vs AIDE, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine:    $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), $(df -T "$TMP" | awk 'NR == 2 { print $2 }') at $TMP"
	echo "versions:   driftwatch $commit ($(go version | awk '{ print $3 }')), AIDE $AIDE_VERSION ($AIDE_WORKERS)"
	echo "corpus:     $CORPUS_LINE; seed $SEED; generated in ${GEN_WALL}s"
	echo "cache:      $cache"
	echo "AIDE rule:  ftype+p+u+g+s+m+l+sha256, database not compressed"
	echo "runs:       $REPEAT per operation; median wall time, largest peak RSS (/usr/bin/time -v)"
	echo "load:       load average (1, 5, 15 min) $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) at the end"
	echo
	line "operation" "driftwatch" "AIDE" "AIDE/dw" "dw peak RSS" "AIDE peak RSS"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r op dw aide dwrss aiderss <<<"$r"
		line "$op" "$(secs "$dw")" "$(secs "$aide")" "$(ratio "$dw" "$aide")" "$(mib "$dwrss")" "$(mib "$aiderss")"
	done
	echo
	echo "reference:  sha256sum (2 procs) over the same files: $(secs "$S_WALL"), peak RSS $(mib "$S_RSS")"
	echo "reference:  hashfloor (open, stat, read, close and SHA-256 each file on 2 Go workers): $(secs "$H_WALL"), peak RSS $(mib "$H_RSS")"
	for n in "${NOTES[@]}"; do
		echo "note: $n"
	done
} | tee "$OUT"
log "results written to $OUT"

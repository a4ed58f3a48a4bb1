#!/usr/bin/env bash
# Checks that the packages are reproducible: builds them twice and compares
# the SHA-256 of every binary and package. The first build goes into $DIST
# (dist/); the second is made from a copy of the source tree at another path,
# into a temporary directory, so that it links every binary and compresses
# every package again, and a path that leaked into a build would show. The
# same commit must give the same bytes.
#
#   scripts/package-repro.sh
#
# Takes the environment of scripts/package.sh (VERSION, ARCHES, FORMATS ...).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
DIST=${DIST:-dist}
case "$DIST" in /*) ;; *) DIST=$root/$DIST ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
second=$tmp/dist

# Both builds take the version, commit and time of this moment.
VERSION=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct "$COMMIT" 2>/dev/null || echo 0)}
NFPM=${NFPM:-bin/nfpm}
case "$NFPM" in /*) ;; *) NFPM=$root/$NFPM ;; esac
export VERSION COMMIT SOURCE_DATE_EPOCH NFPM

mkdir "$tmp/src"
tar -C "$root" --exclude=./dist --exclude=./bin -cf - . | tar -C "$tmp/src" -xf -

start=$SECONDS
DIST=$DIST "$root/scripts/package.sh" package >/dev/null
first_took=$((SECONDS - start))
DIST=$second "$tmp/src/scripts/package.sh" package >/dev/null

# Every file of the second build, with its SHA-256 in either build.
(cd "$second" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum) >"$tmp/second"
(cd "$DIST" && sed 's/^[0-9a-f]*  //' "$tmp/second" | xargs sha256sum) >"$tmp/first" || {
	echo "package-repro: the first build lacks files of the second" >&2
	exit 1
}
n=$(wc -l <"$tmp/second")
if ! diff -u "$tmp/first" "$tmp/second"; then
	echo "package-repro: two builds of the same commit differ (above: first build, second build)" >&2
	exit 1
fi
[ "$n" -gt 0 ] || {
	echo "package-repro: the build made no files" >&2
	exit 1
}
echo "package-repro: $n files byte-identical across two builds in $root and $tmp/src (one build: ${first_took}s)"
sed 's|  \./|  |' "$tmp/second" | grep -E '\.(deb|rpm)$' | while read -r sum file; do
	printf '  %s  %s  %s bytes\n' "${sum:0:16}" "$file" "$(stat -c %s "$DIST/$file")"
done

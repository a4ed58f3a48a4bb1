#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need
# (GNU patch for the diff oracle, gcc for the race detector), then checks,
# tests and fuzzes briefly.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v patch >/dev/null || need+=(patch)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "installing: ${need[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
	else
		echo "missing: ${need[*]} (install them, or run as root on Debian/Ubuntu)" >&2
		exit 1
	fi
fi

go version
make check
make test
make fuzz FUZZTIME="${FUZZTIME:-10s}"

#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian or Ubuntu machine: GNU patch
# (the unified-diff oracle), gcc (the race detector), git and systemd-analyze (unit checks),
# lintian and rpm (the package checks of scripts/install-test.sh), chromium and
# chromium-driver (the web report's browser tests). Idempotent; run by `make test`.
set -euo pipefail

need=()
command -v patch >/dev/null || need+=(patch)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v git >/dev/null || need+=(git)
command -v systemd-analyze >/dev/null || need+=(systemd)
# install-test runs as root only (or fails under CI=true); elsewhere it skips.
if [ "$(id -u)" = 0 ] || [ "${CI:-}" = true ]; then
	command -v lintian >/dev/null || need+=(lintian)
	command -v rpm >/dev/null || need+=(rpm)
fi
# The web report's browser tests drive a headless Chromium.
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "installing: ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
	echo "missing: ${need[*]} (install them, or run as root on Debian/Ubuntu)" >&2
	exit 1
fi

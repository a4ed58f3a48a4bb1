#!/usr/bin/env bash
# Standalone demo: approve a baseline of the example tree, drift it, check.
set -euo pipefail
cd "$(dirname "$0")/.."
agent=${AGENT:-bin/driftwatch-agent}
[ -x "$agent" ] || make build
work=$(mktemp -d /tmp/driftwatch-demo.XXXXXX)
cp -a examples/etc "$work/etc"
sed -e "s|@STATE@|$work/state|" -e "s|@ROOT@|$work/etc|" examples/agent.hcl > "$work/agent.hcl"

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
say "driftwatch-agent validate -config $work/agent.hcl"
"$agent" validate -config "$work/agent.hcl"
say "driftwatch-agent baseline approve -config $work/agent.hcl -reason 'initial documentation' -ticket CHG-1000"
"$agent" baseline approve -config "$work/agent.hcl" -reason "initial documentation" -ticket CHG-1000

# What happens at 2 AM.
sed -i 's/PermitRootLogin no/PermitRootLogin yes/' "$work/etc/ssh/sshd_config"
sed -i 's/correct-horse-battery-staple/hunter2/' "$work/etc/app/database.yml"
chmod 0666 "$work/etc/hosts"
echo "10.0.0.99 evil.example" >> "$work/etc/hosts"
printf 'deploy ALL=(ALL) NOPASSWD: ALL\n' > "$work/etc/sudoers-local"
rm "$work/etc/motd"

say "driftwatch-agent check -config $work/agent.hcl"
set +e
"$agent" check -config "$work/agent.hcl"
code=$?
set -e
echo
echo "exit status $code (0 no drift, 1 drift, 2 error)"
echo "JSON report: $agent check -config $work/agent.hcl -format json"
echo "demo files: $work"

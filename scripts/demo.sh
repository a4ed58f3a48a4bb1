#!/usr/bin/env bash
# The demo: a collector on SQLite and a local agent watching a copy of the
# example tree. It approves the tree as the host's baseline, makes the kind
# of changes that cause a 6 AM call, and prints the web report's URL and a
# sign-in. Ctrl-C stops both and leaves the files in place.
#
#   DEMO_PORT  the collector's port (default 8443)
set -euo pipefail
cd "$(dirname "$0")/.."
agent=${AGENT:-bin/driftwatch-agent}
collector=${COLLECTOR:-bin/driftwatch-collector}
[ -x "$agent" ] && [ -x "$collector" ] || make build
port=${DEMO_PORT:-8443}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "port $port is in use; run with DEMO_PORT=another port" >&2
	exit 1
fi

work=$(mktemp -d /tmp/driftwatch-demo.XXXXXX)
url="https://127.0.0.1:$port"
cp -a examples/etc "$work/etc"
sed -e "s|@STATE@|$work/state|" -e "s|@ROOT@|$work/etc|" examples/agent.hcl > "$work/agent.hcl"
cat >> "$work/agent.hcl" <<EOF
schedule {
  heartbeat = "10s"
}
EOF
cat > "$work/collector.hcl" <<EOF
listen     = "127.0.0.1:$port"
public_url = "$url"
data_dir   = "$work/collector"
EOF

say() { printf '\033[1m$ %s\033[0m\n' "$*"; }
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo
	echo "stopped; the demo's files are in $work"
}
trap stop EXIT
trap 'exit 0' INT TERM

say "driftwatch-collector tenant create demo"
"$collector" tenant create -config "$work/collector.hcl" demo
token=$("$collector" token create -config "$work/collector.hcl" -tenant demo 2>/dev/null)
"$collector" user create -config "$work/collector.hcl" -email admin@demo.test -role admin >/dev/null 2>&1
password=$("$collector" user password -config "$work/collector.hcl" -email admin@demo.test -generate 2>/dev/null)
fingerprint=$("$collector" fingerprint -config "$work/collector.hcl" 2>/dev/null)

say "driftwatch-collector serve (log: $work/collector.log)"
"$collector" serve -config "$work/collector.hcl" >"$work/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done

say "driftwatch-agent baseline approve -reason 'initial documentation' -ticket CHG-1000"
"$agent" baseline approve -config "$work/agent.hcl" -reason "initial documentation" -ticket CHG-1000
say "driftwatch-agent enroll -collector $url"
"$agent" enroll -config "$work/agent.hcl" -collector "$url" -token "$token" -fingerprint "$fingerprint"
say "driftwatch-agent run (log: $work/agent.log)"
"$agent" run -config "$work/agent.hcl" >"$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
	grep -q '"full scan done"' "$work/agent.log" 2>/dev/null && break
	sleep 0.1
done

# What happens at 2 AM: the agent sees each change as it is made.
sed -i 's/PermitRootLogin no/PermitRootLogin yes/' "$work/etc/ssh/sshd_config"
sed -i 's/correct-horse-battery-staple/hunter2/' "$work/etc/app/database.yml"
chmod 0666 "$work/etc/hosts"
echo "10.0.0.99 evil.example" >> "$work/etc/hosts"
printf 'deploy ALL=(ALL) NOPASSWD: ALL\n' > "$work/etc/sudoers-local"
rm "$work/etc/motd"

cat <<EOF

The web report:  $url/ui/
Sign in as:      admin@demo.test
Password:        $password
The certificate is self-signed; its SHA-256 fingerprint is
                 $fingerprint

The agent watches $work/etc: edit a file there and reload the inbox.
Ctrl-C stops the collector and the agent.
EOF
wait

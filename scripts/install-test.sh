#!/usr/bin/env bash
# Installs the driftwatch packages on this machine and checks what an
# operator gets: files, owners and modes, the conffiles, the systemd units,
# a working agent and collector, an upgrade that keeps state and edited
# configuration, and a purge that leaves nothing but what Debian policy
# keeps (the collector's system user). It also lints the .debs (lintian)
# and inspects the .rpms (rpm -qip, their scriptlets), and runs the
# maintainer scripts with systemd present and absent.
#
#   scripts/install-test.sh [PACKAGE_DIR]
#
# PACKAGE_DIR holds the packages of this commit (`make package` writes them
# to dist/); without it they are built. A second version is built for the
# upgrade. Needs root, dpkg, rpm, lintian, systemd-analyze and unshare
# (scripts/deps.sh installs them). Without root or dpkg it says why and
# skips, unless CI=true. Everything it installs is purged on exit, the
# system user too if it made it.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

skip() {
	if [ "${CI:-}" = true ]; then
		echo "install-test: cannot run under CI=true: $*" >&2
		exit 1
	fi
	echo "install-test: skipped: $*"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "not root (it installs packages with dpkg -i: run sudo make install-test)"
command -v dpkg >/dev/null || skip "no dpkg: this is not a Debian-like system"
for tool in dpkg-deb rpm lintian systemd-analyze unshare runuser flock apt-config; do
	command -v "$tool" >/dev/null || skip "no $tool (scripts/deps.sh installs it)"
done

pkgs=(driftwatch-agent driftwatch-collector)
paths=(/etc/driftwatch /var/lib/driftwatch /var/lib/driftwatch-collector)

# One install test at a time on this machine.
exec 9>/run/lock/driftwatch-install-test.lock
flock -w 900 9 || {
	echo "install-test: another install test holds /run/lock/driftwatch-install-test.lock" >&2
	exit 1
}

# Never touch an installation that is not this test's.
for p in "${pkgs[@]}"; do
	case "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" in
	"" | un*) ;;
	*)
		echo "install-test: $p is installed on this machine (or its configuration is left); it would be replaced and purged. Remove it first: dpkg --purge $p" >&2
		exit 1
		;;
	esac
done
for d in "${paths[@]}"; do
	if [ -e "$d" ]; then
		echo "install-test: $d exists and belongs to no driftwatch package; it would be deleted by purge. Move it away first." >&2
		exit 1
	fi
done
user_existed=
getent passwd driftwatch >/dev/null && user_existed=1

tmp=$(mktemp -d)
cleanup() {
	dpkg --purge "${pkgs[@]}" >/dev/null 2>&1
	if [ -z "$user_existed" ] && getent passwd driftwatch >/dev/null; then
		userdel driftwatch >/dev/null 2>&1
		getent group driftwatch >/dev/null && groupdel driftwatch >/dev/null 2>&1
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

passed=0 failed=0
section() {
	echo "== $* (at ${SECONDS}s)"
}
ok() {
	passed=$((passed + 1))
	echo "ok   $*"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $*"
}
# check DESCRIPTION COMMAND... passes when COMMAND succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
# check_out DESCRIPTION OUTPUT COMMAND... is check, showing OUTPUT (of the
# step checked) only when COMMAND fails.
check_out() {
	local what=$1 out=$2
	shift 2
	if "$@"; then ok "$what"; else bad "$what: $out"; fi
}
# stat_is PATH MODE OWNER GROUP
stat_is() {
	local got
	got=$(stat -c '%a %U %G' "$1" 2>/dev/null)
	if [ "$got" = "$2 $3 $4" ]; then
		ok "$1 is $2 $3:$4"
	else
		bad "$1 is ${got:-missing}, want $2 $3:$4"
	fi
}
# installed PACKAGE VERSION: dpkg has PACKAGE at VERSION, configured.
installed() {
	[ "$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null)" = "install ok installed $2" ]
}
absent() {
	if [ -e "$1" ] || [ -L "$1" ]; then bad "$1 is there, want it absent"; else ok "$1 is absent"; fi
}
# contains TEXT WANT DESCRIPTION
contains() {
	if grep -qF -- "$2" <<<"$1"; then ok "$3"; else bad "$3: no \"$2\" in: $1"; fi
}
# lacks TEXT UNWANTED DESCRIPTION
lacks() {
	if grep -qF -- "$2" <<<"$1"; then bad "$3: \"$2\" in: $1"; else ok "$3"; fi
}

arch=$(dpkg --print-architecture)
case "$arch" in amd64 | arm64) ;; *) skip "dpkg architecture $arch: packages are built for amd64 and arm64" ;; esac

# The version of this commit (N) and the next one (N+1) for the upgrade:
# VERSION as the binaries print it, version as the packages carry it.
VERSION=${VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}
export VERSION
version=$("$root/scripts/package.sh" version) || exit 1
core=${version%%[-+]*}
next=${core%.*}.$((${core##*.} + 1))

dist=${1:-}
if [ -z "$dist" ]; then
	dist=$tmp/n
	echo "building $version packages for $arch"
	DIST=$dist ARCHES=$arch "$root/scripts/package.sh" package >/dev/null || exit 1
fi
echo "building $next packages for $arch (the upgrade)"
DIST=$tmp/next ARCHES=$arch FORMATS=deb VERSION=$next "$root/scripts/package.sh" package >/dev/null || exit 1

debver=$(sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+)-/\1~/' <<<"$version")
rpmver=$debver
rpmarch=$([ "$arch" = amd64 ] && echo x86_64 || echo aarch64)
deb() { echo "$dist/${1}_${debver}_$arch.deb"; }
rpmfile() { echo "$dist/$1-$rpmver-1.$rpmarch.rpm"; }
for p in "${pkgs[@]}"; do
	[ -f "$(deb "$p")" ] || { echo "install-test: no $(deb "$p")" >&2; exit 1; }
	[ -f "$(rpmfile "$p")" ] || { echo "install-test: no $(rpmfile "$p")" >&2; exit 1; }
done

section "package metadata and lint"
# One lintian run for both: most of its time is starting up.
lint=$(lintian --fail-on error,warning "$(deb driftwatch-agent)" "$(deb driftwatch-collector)" 2>&1)
lint_rc=$?
lint=$(grep -v 'running with root privileges' <<<"$lint")
# Exit 0: clean; 2: errors or warnings (checked per package below); 1: lintian failed.
check_out "lintian runs (exit $lint_rc)" "$lint" test "$lint_rc" != 1
for p in "${pkgs[@]}"; do
	f=$(deb "$p")
	for field in "Package: $p" "Version: $debver" "Architecture: $arch" "Section: admin" "Priority: optional" \
		"Homepage: https://github.com/driftwatch/driftwatch" "Maintainer: "; do
		contains "$(dpkg-deb -f "$f")" "$field" "$p.deb has $field"
	done
	check_out "$p.deb is lintian clean" "$lint" test -z "$(grep -E "^[EW]: ${p}[: ]" <<<"$lint")"
	for s in postinst prerm postrm; do
		dpkg-deb --ctrl-tarfile "$f" | tar -xO "./$s" >"$tmp/$p.$s" 2>/dev/null
		check "$p.deb $s is valid sh" sh -n "$tmp/$p.$s"
	done

	r=$(rpmfile "$p")
	info=$(rpm -qip "$r" 2>&1)
	for field in "Name        : $p" "Version     : $rpmver" "Release     : 1" "License     : Apache-2.0" \
		"URL         : https://github.com/driftwatch/driftwatch" "Group       : Applications/System"; do
		contains "$info" "$field" "$p.rpm has $field"
	done
	scripts=$(rpm -qp --scripts "$r" 2>&1)
	for s in PREIN POSTIN PREUN POSTUN; do
		rpm -qp --qf "%{$s}" "$r" 2>/dev/null | sed '/^(none)$/d' >"$tmp/$p.rpm.$s"
		[ -s "$tmp/$p.rpm.$s" ] || continue
		check "$p.rpm $s scriptlet is valid sh" sh -n "$tmp/$p.rpm.$s"
	done
	contains "$scripts" "postinstall scriptlet" "$p.rpm has a %post scriptlet"
	contains "$(rpm -qcp "$r")" "/etc/driftwatch/${p#driftwatch-}.hcl" "$p.rpm marks its configuration %config"
	contains "$(rpm -qlp "$r")" "/usr/lib/systemd/system/$p.service" "$p.rpm puts the unit in /usr/lib/systemd/system"
done
rpm_files() { rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$1"; }
rlist=$(rpm_files "$(rpmfile driftwatch-agent)")
contains "$rlist" "drwx------ root:root /var/lib/driftwatch" "agent rpm owns /var/lib/driftwatch 0700 root"
contains "$rlist" "-rwxr-xr-x root:root /usr/bin/driftwatch-agent" "agent rpm ships /usr/bin/driftwatch-agent 0755"
contains "$rlist" "drwxr-xr-x root:root /etc/driftwatch" "agent rpm owns /etc/driftwatch"
contains "$rlist" "-rw-r--r-- root:root /etc/dnf/plugins/post-transaction-actions.d/driftwatch-agent.action" "agent rpm ships the dnf hook"
contains "$(rpm -qp --recommends "$(rpmfile driftwatch-agent)")" "python3-dnf-plugin-post-transaction-actions" "agent rpm recommends the dnf plugin that runs its hook"
rlist=$(rpm_files "$(rpmfile driftwatch-collector)")
contains "$rlist" "-rw-r----- root:driftwatch /etc/driftwatch/collector.hcl" "collector rpm ships collector.hcl 0640 root:driftwatch"
contains "$rlist" "drwxr-x--- driftwatch:driftwatch /var/lib/driftwatch-collector" "collector rpm owns /var/lib/driftwatch-collector 0750 driftwatch"
contains "$(rpm -qp --qf '%{PREIN}' "$(rpmfile driftwatch-collector)")" "useradd --system" "collector rpm creates its user in %pre"

# unit_verify UNIT: systemd-analyze verify has nothing to say about it.
# Without systemd as PID 1 it complains about the machine; only lines that
# name the unit count.
unit_verify() {
	local out
	out=$(systemd-analyze verify "$1" 2>&1 | grep -F "${1##*/}")
	check_out "systemd-analyze verify ${1##*/}" "$out" test -z "$out"
}

section "driftwatch-agent $version: install"
out=$(dpkg -i "$(deb driftwatch-agent)" </dev/null 2>&1)
check_out "dpkg -i driftwatch-agent" "$out" installed driftwatch-agent "$debver"
lacks "$out" "systemctl" "agent install says nothing about systemctl without systemd"
stat_is /usr/bin/driftwatch-agent 755 root root
stat_is /etc/driftwatch 755 root root
stat_is /etc/driftwatch/agent.hcl 644 root root
stat_is /var/lib/driftwatch 700 root root
stat_is /lib/systemd/system/driftwatch-agent.service 644 root root
stat_is /usr/share/man/man1/driftwatch-agent.1.gz 644 root root
stat_is /usr/share/doc/driftwatch-agent/copyright 644 root root
contains "$(dpkg-query -W -f='${Conffiles}' driftwatch-agent)" "/etc/driftwatch/agent.hcl $(md5sum </etc/driftwatch/agent.hcl | cut -d' ' -f1)" \
	"agent.hcl is a conffile"
unit_verify /lib/systemd/system/driftwatch-agent.service
absent /etc/systemd/system/multi-user.target.wants/driftwatch-agent.service
stat_is /etc/apt/apt.conf.d/80driftwatch-agent 644 root root
contains "$(dpkg-query -W -f='${Conffiles}' driftwatch-agent)" "/etc/apt/apt.conf.d/80driftwatch-agent" "the apt hook is a conffile"
# A file apt cannot parse would break every apt run on the host.
out=$(apt-config dump 2>&1)
contains "$out" 'DPkg::Pre-Invoke:: "if [ -x /usr/bin/driftwatch-agent ]; then /usr/bin/driftwatch-agent pkgtx begin' "apt reads the agent's Pre-Invoke hook"
contains "$out" 'DPkg::Post-Invoke:: "if [ -x /usr/bin/driftwatch-agent ]; then /usr/bin/driftwatch-agent pkgtx end' "apt reads the agent's Post-Invoke hook"
contains "$(driftwatch-agent version)" "driftwatch-agent $VERSION (commit " "driftwatch-agent version names $VERSION"
out=$(driftwatch-agent validate -config /etc/driftwatch/agent.hcl 2>&1)
check "driftwatch-agent validate the installed config: $out" grep -q ': valid' <<<"$out"
out=$(driftwatch-agent baseline approve -config /etc/driftwatch/agent.hcl -reason "install test" -ticket CHG-1 2>&1)
rc=$?
check_out "driftwatch-agent baseline approve (exit $rc)" "$out" test "$rc" = 0
driftwatch-agent check -config /etc/driftwatch/agent.hcl >"$tmp/check1" 2>&1
rc=$?
# 0 (no drift) or 1: this machine is shared, and a package installed
# meanwhile is drift too. 2 is an error.
check_out "driftwatch-agent check right after approve (exit $rc)" "$(head -c 2000 "$tmp/check1")" test "$rc" -le 1
echo "# edited by the install test" >>/etc/driftwatch/agent.hcl
driftwatch-agent check -config /etc/driftwatch/agent.hcl >"$tmp/check2" 2>&1
rc=$?
check "driftwatch-agent check reports the edited agent.hcl (exit $rc)" test "$rc" = 1
contains "$(cat "$tmp/check2")" "/etc/driftwatch/agent.hcl" "the drift report names /etc/driftwatch/agent.hcl"
contains "$(cat "$tmp/check2")" "+# edited by the install test" "the drift report shows the added line"
stat_is /var/lib/driftwatch 700 root root
state_before=$(cd /var/lib/driftwatch && find . | sort)
check "the agent keeps its state in /var/lib/driftwatch" test "$(wc -l <<<"$state_before")" -gt 1

section "driftwatch-agent: upgrade to $next with state and an edited conffile"
out=$(dpkg -i "$tmp/next/driftwatch-agent_${next}_$arch.deb" </dev/null 2>&1)
check_out "dpkg -i driftwatch-agent $next" "$out" installed driftwatch-agent "$next"
contains "$(driftwatch-agent version)" "driftwatch-agent $next" "the upgraded binary is $next"
contains "$(cat /etc/driftwatch/agent.hcl)" "# edited by the install test" "the edited agent.hcl survives the upgrade"
absent /etc/driftwatch/agent.hcl.dpkg-new
stat_is /var/lib/driftwatch 700 root root
lost=$(for f in $state_before; do [ -e "/var/lib/driftwatch/$f" ] || echo "$f"; done)
check_out "every state file survives the upgrade" "lost: $lost" test -z "$lost"
out=$(driftwatch-agent baseline list -config /etc/driftwatch/agent.hcl 2>&1)
contains "$out" "install test" "the approved baseline survives the upgrade"

section "maintainer scripts with and without systemd"
# The scripts run with stand-ins for every command that changes the system
# (systemd's tools, user and file commands): each records its call and does
# nothing else. Under unshare, a tmpfs on /run holds /run/systemd/system, so
# the scripts see a running systemd; nothing outside the namespace sees it.
fake=$tmp/fakebin
mkdir -p "$fake"
for t in systemctl deb-systemd-invoke deb-systemd-helper adduser useradd groupadd \
	install chown chmod rm rmdir dpkg-statoverride; do
	# Queries answer "no": not installed before, not enabled, not running,
	# no stat override.
	# shellcheck disable=SC2016 # the stand-in expands $* and $CALLS itself
	printf '#!/bin/sh\necho "%s $*" >>"$CALLS"\ncase "$*" in *debian-installed* | *was-enabled* | *is-enabled* | *is-active* | --list*) exit 1 ;; esac\n' "$t" >"$fake/$t"
	chmod +x "$fake/$t"
done
# run_script SYSTEMD(yes|no) SCRIPT ARGS... prints the calls it made.
run_script() {
	local sd=$1 script=$2
	shift 2
	: >"$tmp/calls"
	if [ "$sd" = yes ]; then
		CALLS=$tmp/calls PATH=$fake:$PATH unshare --mount --propagation private \
			sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && exec sh "$@"' sh "$script" "$@" >/dev/null 2>&1
	else
		CALLS=$tmp/calls PATH=$fake:$PATH sh "$script" "$@" >/dev/null 2>&1
	fi
	local rc=$?
	[ $rc = 0 ] || echo "exit $rc"
	cat "$tmp/calls"
}
for p in "${pkgs[@]}"; do
	u=$p.service
	s=$tmp/$p.postinst
	calls=$(run_script no "$s" configure "")
	lacks "$calls" "systemctl" "$p postinst without systemd does not call systemctl"
	lacks "$calls" "invoke" "$p postinst without systemd starts nothing"
	calls=$(run_script yes "$s" configure "")
	contains "$calls" "systemctl --system daemon-reload" "$p postinst (first install) with systemd reloads it"
	lacks "$calls" "invoke" "$p postinst (first install) starts nothing"
	lacks "$calls" "helper enable" "$p postinst (first install) enables nothing"
	calls=$(run_script yes "$s" configure "$version")
	contains "$calls" "deb-systemd-invoke try-restart $u" "$p postinst (upgrade) restarts the service only if it runs"
	lacks "$calls" "invoke start" "$p postinst (upgrade) does not start a stopped service"
	calls=$(run_script yes "$tmp/$p.prerm" upgrade "$next")
	check "$p prerm (upgrade) leaves the service running${calls:+: $calls}" test -z "$calls"
	calls=$(run_script yes "$tmp/$p.prerm" remove)
	contains "$calls" "deb-systemd-invoke stop $u" "$p prerm (remove) stops the service"
	calls=$(run_script no "$tmp/$p.prerm" remove)
	check "$p prerm (remove) without systemd calls nothing${calls:+: $calls}" test -z "$calls"

	calls=$(run_script yes "$tmp/$p.rpm.POSTIN" 1)
	contains "$calls" "systemctl daemon-reload" "$p %post (install) with systemd reloads it"
	lacks "$calls" "start" "$p %post (install) starts nothing"
	calls=$(run_script no "$tmp/$p.rpm.POSTIN" 1)
	check "$p %post without systemd calls nothing${calls:+: $calls}" test -z "$calls"
	calls=$(run_script yes "$tmp/$p.rpm.POSTUN" 1)
	contains "$calls" "systemctl try-restart $u" "$p %postun (upgrade) restarts the service only if it runs"
	calls=$(run_script yes "$tmp/$p.rpm.POSTUN" 0)
	lacks "$calls" "restart" "$p %postun (erase) restarts nothing"
	calls=$(run_script yes "$tmp/$p.rpm.PREUN" 0)
	contains "$calls" "systemctl --no-reload disable --now $u" "$p %preun (erase) stops and disables the service"
	calls=$(run_script yes "$tmp/$p.rpm.PREUN" 1)
	check "$p %preun (upgrade) leaves the service alone${calls:+: $calls}" test -z "$calls"
done

section "driftwatch-agent: remove, then purge"
# An operator enabled the service; purge must not leave the link dangling.
systemctl enable driftwatch-agent.service >/dev/null 2>&1
check "systemctl enable (offline) links the unit" test -L /etc/systemd/system/multi-user.target.wants/driftwatch-agent.service
out=$(dpkg --remove driftwatch-agent </dev/null 2>&1)
check_out "dpkg --remove driftwatch-agent" "$out" test "$(dpkg-query -W -f='${db:Status-Abbrev}' driftwatch-agent)" = "rc "
absent /usr/bin/driftwatch-agent
absent /lib/systemd/system/driftwatch-agent.service
check "remove keeps the edited agent.hcl" grep -q "edited by the install test" /etc/driftwatch/agent.hcl
check "remove keeps the state directory" test -d /var/lib/driftwatch/.
out=$(dpkg --purge driftwatch-agent </dev/null 2>&1)
check_out "dpkg --purge driftwatch-agent" "$out" test -z "$(dpkg-query -W -f='${db:Status-Abbrev}' driftwatch-agent 2>/dev/null | grep -v '^un')"
while read -r path; do
	[ -d "$path" ] && [ "$path" != /etc/driftwatch ] && continue
	absent "$path"
done < <(dpkg-deb --fsys-tarfile "$(deb driftwatch-agent)" | tar -t | sed 's|^\.||; s|/$||' | grep -v '^$')
absent /var/lib/driftwatch
absent /etc/systemd/system/multi-user.target.wants/driftwatch-agent.service
check "no deb-systemd-helper state left for the agent" test -z "$(find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked -name 'driftwatch-agent*' 2>/dev/null)"

section "driftwatch-collector $version: install"
if [ -z "$user_existed" ]; then
	check "no user driftwatch before the collector is installed" test -z "$(getent passwd driftwatch)"
fi
absent /var/lib/driftwatch-collector
out=$(dpkg -i "$(deb driftwatch-collector)" </dev/null 2>&1)
check_out "dpkg -i driftwatch-collector" "$out" installed driftwatch-collector "$debver"
lacks "$out" "systemctl" "collector install says nothing about systemctl without systemd"
pw=$(getent passwd driftwatch)
check "the system user driftwatch exists" test -n "$pw"
IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
check "driftwatch is a system user (uid $uid)" test "$uid" -lt 1000
check "driftwatch cannot log in (shell $shell)" grep -q nologin <<<"$shell"
check "driftwatch's home is the data directory ($home)" test "$home" = /var/lib/driftwatch-collector
stat_is /usr/bin/driftwatch-collector 755 root root
stat_is /etc/driftwatch/collector.hcl 640 root driftwatch
stat_is /var/lib/driftwatch-collector 750 driftwatch driftwatch
stat_is /lib/systemd/system/driftwatch-collector.service 644 root root
contains "$(dpkg-query -W -f='${Conffiles}' driftwatch-collector)" "/etc/driftwatch/collector.hcl" "collector.hcl is a conffile"
unit_verify /lib/systemd/system/driftwatch-collector.service
contains "$(cat /lib/systemd/system/driftwatch-collector.service)" "User=driftwatch" "the collector unit runs as driftwatch"
absent /etc/systemd/system/multi-user.target.wants/driftwatch-collector.service
contains "$(driftwatch-collector version)" "driftwatch-collector $VERSION (commit " "driftwatch-collector version names $VERSION"
# What an operator does next, as the service's user: the packaged
# configuration and directories must let it.
out=$(runuser -u driftwatch -- driftwatch-collector migrate -config /etc/driftwatch/collector.hcl 2>&1)
rc=$?
check_out "driftwatch-collector migrate as driftwatch (exit $rc)" "$out" test "$rc" = 0
out=$(runuser -u driftwatch -- driftwatch-collector tenant create -config /etc/driftwatch/collector.hcl install-test 2>&1)
rc=$?
check_out "driftwatch-collector tenant create as driftwatch (exit $rc)" "$out" test "$rc" = 0
out=$(runuser -u driftwatch -- driftwatch-collector fingerprint -config /etc/driftwatch/collector.hcl 2>&1)
rc=$?
check_out "driftwatch-collector fingerprint as driftwatch (exit $rc)" "$out" test "$rc" = 0
check "the data directory holds the database, owned by driftwatch" \
	test -z "$(find /var/lib/driftwatch-collector ! -user driftwatch)" -a -n "$(ls /var/lib/driftwatch-collector)"

section "driftwatch-collector: upgrade to $next"
out=$(dpkg -i "$tmp/next/driftwatch-collector_${next}_$arch.deb" </dev/null 2>&1)
check_out "dpkg -i driftwatch-collector $next" "$out" installed driftwatch-collector "$next"
stat_is /etc/driftwatch/collector.hcl 640 root driftwatch
stat_is /var/lib/driftwatch-collector 750 driftwatch driftwatch
out=$(runuser -u driftwatch -- driftwatch-collector tenant list -config /etc/driftwatch/collector.hcl 2>&1)
contains "$out" "install-test" "the tenant survives the upgrade"

section "driftwatch-collector: remove, then purge"
out=$(dpkg --remove driftwatch-collector </dev/null 2>&1)
check_out "dpkg --remove driftwatch-collector" "$out" test "$(dpkg-query -W -f='${db:Status-Abbrev}' driftwatch-collector)" = "rc "
absent /usr/bin/driftwatch-collector
check "remove keeps the data directory" test -n "$(ls /var/lib/driftwatch-collector 2>/dev/null)"
check "remove keeps collector.hcl" test -f /etc/driftwatch/collector.hcl
out=$(dpkg --purge driftwatch-collector </dev/null 2>&1)
check_out "dpkg --purge driftwatch-collector" "$out" test -z "$(dpkg-query -W -f='${db:Status-Abbrev}' driftwatch-collector 2>/dev/null | grep -v '^un')"
absent /etc/driftwatch
absent /var/lib/driftwatch-collector
absent /lib/systemd/system/driftwatch-collector.service
check "no deb-systemd-helper state left for the collector" test -z "$(find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked -name 'driftwatch-collector*' 2>/dev/null)"
check "purge keeps the system user driftwatch (Debian policy)" getent passwd driftwatch >/dev/null

echo "install-test: $passed passed, $failed failed"
[ "$failed" = 0 ]

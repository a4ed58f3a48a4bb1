#!/usr/bin/env bash
# Builds driftwatch's release binaries and its Linux packages, reproducibly:
# the same commit gives byte-identical binaries and packages on any machine
# with the same Go version.
#
#   scripts/package.sh build OS/ARCH...  binaries into $DIST/bin/OS_ARCH/ (the
#                                        collector only for linux)
#   scripts/package.sh package           linux binaries for $ARCHES, then the
#                                        .deb and .rpm of driftwatch-agent and
#                                        driftwatch-collector into $DIST/
#   scripts/package.sh version           the package version $VERSION maps to
#
# Environment (all optional):
#   VERSION            version stamped into the binaries (default: git describe)
#   COMMIT             commit stamped into the binaries (default: git rev-parse)
#   SOURCE_DATE_EPOCH  time of every file in the packages (default: COMMIT's
#                      time)
#   DIST               output directory (default: dist)
#   ARCHES             linux architectures to package (default: "amd64 arm64")
#   FORMATS            package formats (default: "deb rpm")
#   NFPM               nfpm binary (default: bin/nfpm, built from tools/)
#   MAINTAINER         package maintainer, "Name <email>"
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
# Everything else comes from COMMIT, not HEAD: a commit made meanwhile does
# not change a build.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct "$COMMIT" 2>/dev/null || echo 0)}
DIST=${DIST:-dist}
ARCHES=${ARCHES:-amd64 arm64}
FORMATS=${FORMATS:-deb rpm}
NFPM=${NFPM:-bin/nfpm}
MAINTAINER=${MAINTAINER:-driftwatch maintainers <driftwatch@example.org>}
export SOURCE_DATE_EPOCH

die() {
	echo "package.sh: $*" >&2
	exit 1
}

case "$DIST" in /*) ;; *) DIST=$root/$DIST ;; esac

# pkg_version maps a git describe string to a semantic version that sorts
# right in dpkg and rpm:
#   v1.2.3                 1.2.3
#   v1.2.3-rc.1            1.2.3-rc.1             (1.2.3~rc.1 in the packages)
#   v1.2.3-4-gabc1234      1.2.3+git4.gabc1234    (after 1.2.3)
#   abc1234 (no tag)       0.0.0+gitN.gabc1234    (N: commits so far)
# A trailing -dirty becomes .dirty in the metadata.
pkg_version() {
	local v=${1#v} dirty='' meta=''
	case "$v" in *-dirty) v=${v%-dirty} dirty=dirty ;; esac
	if [[ $v =~ ^(.*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		v=${BASH_REMATCH[1]}
		meta=git${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}
	elif [[ $v =~ ^[0-9a-f]{7,40}$ ]]; then
		meta=git$(git rev-list --count "$v" 2>/dev/null || echo 0).g$v
		v=0.0.0
	fi
	if [ -n "$dirty" ]; then
		meta=${meta:+$meta.}$dirty
	fi
	v=$v${meta:++$meta}
	if ! [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]]; then
		die "version $1 gives package version $v, which is not MAJOR.MINOR.PATCH[-PRERELEASE][+METADATA]: set VERSION=1.2.3"
	fi
	echo "$v"
}

# build GOOS GOARCH CMD... builds each command into $DIST/bin/GOOS_GOARCH/.
build() {
	local goos=$1 goarch=$2 cmd ext=
	shift 2
	[ "$goos" = windows ] && ext=.exe
	for cmd in "$@"; do
		CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch "$GO" build -trimpath -buildvcs=false \
			-ldflags "-s -w -buildid= -X main.version=$VERSION -X main.commit=$COMMIT" \
			-o "$DIST/bin/${goos}_$goarch/$cmd$ext" "./${cmd#driftwatch-}/cmd/$cmd" ||
			die "build $cmd for $goos/$goarch failed"
	done
}

# licenses CMD GOARCH writes the licence notices of the Go standard library
# and of every module linked into CMD for linux/GOARCH.
licenses() {
	local cmd=$1 goarch=$2 mod ver dir f found
	echo "Licences of the software linked into $cmd (linux/$goarch)"
	echo
	echo "$cmd is distributed under the Apache License, Version 2.0. It is"
	echo "statically linked with the Go standard library and these Go modules,"
	echo "each under its own licence, reproduced below."
	echo
	printf '== Go standard library %s ==\n\n' "$("$GO" env GOVERSION)"
	cat "$("$GO" env GOROOT)/LICENSE"
	GOOS=linux GOARCH=$goarch CGO_ENABLED=0 "$GO" list -deps \
		-f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' \
		"./${cmd#driftwatch-}/cmd/$cmd" | sort -u |
		while read -r mod ver dir; do
			printf '\n== %s %s ==\n' "$mod" "$ver"
			found=
			for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE* "$dir"/PATENTS; do
				[ -f "$f" ] || continue
				printf '\n-- %s --\n\n' "${f##*/}"
				cat "$f"
				found=1
			done
			[ -n "$found" ] || die "module $mod $ver has no licence file in $dir"
		done
}

# commits lists "HASH SUBJECT" of the commits in this version: those up to
# COMMIT since the previous tag, or the last 30 without one.
commits() {
	local prev
	git rev-parse --verify -q "$COMMIT^{commit}" >/dev/null || return 0
	if prev=$(git describe --tags --abbrev=0 "$COMMIT^" 2>/dev/null); then
		git log --no-merges --format='%H %s' "$prev..$COMMIT"
	else
		git log --no-merges --format='%H %s' -30 "$COMMIT"
	fi
}

# changelog_rpm VERSION writes the changelog nfpm puts into the .rpm.
changelog_rpm() {
	local hash subject
	echo "- semver: '$1'"
	echo "  date: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
	echo "  packager: '${MAINTAINER//\'/\'\'}'"
	echo "  changes:"
	commits | while read -r hash subject; do
		echo "    - commit: $hash"
		echo "      note: '${subject//\'/\'\'}'"
	done
	echo "    - note: 'driftwatch $VERSION (commit $COMMIT)'"
}

# changelog_deb NAME VERSION writes the changelog of the .deb, in the format
# of deb-changelog(5). The package is built from upstream source, so it is
# a native package's changelog.gz, not changelog.Debian.gz.
changelog_deb() {
	local hash subject
	# dpkg sorts a pre-release before its release when it follows a tilde,
	# as nfpm writes the package version.
	echo "$1 ($(sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+)-/\1~/' <<<"$2")) stable; urgency=low"
	echo
	# Entries wrap at 80 columns, continued four spaces in.
	commits | while read -r hash subject; do
		fold -s -w 76 <<<"$subject" | sed -e 's/ *$//' -e '1s/^/  * /' -e '2,$s/^/    /'
	done
	echo "  * driftwatch $VERSION (commit $COMMIT)"
	echo
	echo " -- $MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
}

# for_format FORMAT adapts a package definition (standard input) to FORMAT.
# The .deb has its own changelog.gz, so no changelog line for it. The
# description is written for Debian: a synopsis line, then paragraphs
# separated by " ."; an RPM has the synopsis as its Summary, and blank lines
# between paragraphs.
for_format() {
	case "$1" in
	deb) sed '/^changelog:/d' ;;
	rpm) sed -e '/^description: |-$/{n;d}' -e 's/^  \.$//' ;;
	*) cat ;;
	esac
}

nfpm_bin() {
	case "$NFPM" in /*) ;; *) NFPM=$root/$NFPM ;; esac
	if [ ! -x "$NFPM" ]; then
		echo "building $NFPM from tools/go.mod"
		"$GO" build -C tools -o "$NFPM" github.com/goreleaser/nfpm/v2/cmd/nfpm || die "build nfpm failed"
	fi
}

package() {
	local version arch dir cmd name format out
	version=$(pkg_version "$VERSION")
	nfpm_bin
	mkdir -p "$DIST"
	# Packages of an earlier version would mix into SHA256SUMS.
	rm -f "$DIST"/driftwatch-*.deb "$DIST"/driftwatch-*.rpm "$DIST/SHA256SUMS"
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	for arch in $ARCHES; do
		build linux "$arch" driftwatch-agent driftwatch-collector
		dir=$work/$arch
		mkdir -p "$dir"
		ln -s "$root/packaging" "$dir/packaging"
		changelog_rpm "$version" >"$dir/changelog.yml"
		for cmd in driftwatch-agent driftwatch-collector; do
			name=${cmd#driftwatch-}
			licenses "$cmd" "$arch" >"$dir/third-party-licenses-$name.txt"
			changelog_deb "$cmd" "$version" | gzip -9n >"$dir/changelog-$name.gz"
			gzip -9n <"packaging/man/$cmd.1" >"$dir/$cmd.1.gz"
			for format in $FORMATS; do
				out=$(cd "$dir" && for_format "$format" <"packaging/nfpm-$name.yaml" |
					DW_ARCH=$arch DW_VERSION=$version DW_BIN=$DIST/bin/linux_$arch DW_MAINTAINER=$MAINTAINER \
						"$NFPM" package --config - --packager "$format" --target "$DIST/" 2>&1) ||
					die "nfpm $cmd $format $arch: $out"
				echo "$out" | sed -n 's/.*created package: //p'
			done
		done
	done
	(
		cd "$DIST"
		shopt -s nullglob
		sha256sum -- *.deb *.rpm >SHA256SUMS
	)
}

case "${1:-}" in
build)
	shift
	[ $# -gt 0 ] || die "build: want OS/ARCH arguments, e.g. linux/amd64"
	for target in "$@"; do
		goos=${target%/*} goarch=${target#*/}
		if [ "$goos" = linux ]; then
			build "$goos" "$goarch" driftwatch-agent driftwatch-collector
		else
			build "$goos" "$goarch" driftwatch-agent
		fi
		echo "built $DIST/bin/${goos}_$goarch"
	done
	;;
package) package ;;
version) pkg_version "$VERSION" ;;
*)
	sed -n '2,/^set -e/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac

#!/usr/bin/env bash
# Builds the host Filebeat and the websocket output plugin with identical
# toolchain and flags (the condition for Go's plugin loader), and runs the
# demo and the tests.
#
#   ./build.sh          build dist/filebeat, dist/websocket.so, dist/wsreceiver,
#                       dist/ackcheck
#   ./build.sh plugin   rebuild only dist/websocket.so (the hot-swap path); with
#                       a dist/filebeat it must pass plugincheck against it,
#                       or dist/websocket.so stays as it was
#   ./build.sh dist     build, then bundle a release:
#                       dist/websocket-output-<version>-<os>-<arch>.tar.gz,
#                       laid out like Elastic's Filebeat tarball
#   ./build.sh package  build, then make the packages and the tarball, each
#                       with a .sha512 beside it: the host (filebeat-ws) and
#                       the plugin (filebeat-output-websocket) as deb and rpm
#   ./build.sh package plugin   rebuild only websocket.so, checked against
#                       dist/filebeat, and make only its deb and rpm: the
#                       package manager's hot swap
#   ./build.sh demo     build, then ship a sample log through the plugin to the
#                       reference receiver and print what it received
#   ./build.sh test     build, then run every check and test: go vet,
#                       staticcheck, unit tests with -race, end to end, a short
#                       fuzz run of each fuzz target, the benchmark's smoke
#                       run; installs nginx-light, tinyproxy and
#                       python3-websockets (Debian packages) for the end-to-end
#                       tests if they are missing and it runs as root (and rpm,
#                       for the package tests, which run as root only), the Node
#                       example server's ws (npm ci) and the pinned staticcheck
#                       if they are missing
#   ./build.sh lint     go vet and the pinned staticcheck, on every package
#   ./build.sh tools    install the pinned staticcheck (go install), as CI does
#   ./build.sh bench    build, then run the microbenchmarks, the end-to-end
#                       benchmark and the soak (about 30 minutes); results in
#                       .bench/results-full.md (docs/performance.md)
#   ./build.sh bench smoke   the same on small inputs, once: checks it runs
#   ./build.sh bench soak    only the soak (about 5 minutes)
#   ./build.sh pgo      build, then profile Filebeat on the benchmark and make
#                       that the PGO profile of the next builds
#                       (pgo/filebeat-<sha256>.pprof, pgo/README.md)
#
# Two Beats lines (docs/lines.md): 7.17, the root module, built into dist/,
# and 9.5, the module in beats95/, built into dist/9.5/, each with its own
# filebeat, websocket.so, BUILDINFO, bundle and packages. BEATS picks which
# the commands above build: 7.17 (the default), 9.5 or all; ./build.sh test
# tests both unless BEATS names one; bench measures the 7.17 line only (the
# output's code is the same in both).
#
# Two architectures (docs/arm64.md): linux/amd64 and linux/arm64. ARCH
# picks which the commands above build: amd64, arm64 or all; the default is
# the machine's, and ./build.sh test builds and tests the 7.17 line for
# both unless ARCH names one. amd64 builds into the line's folder (dist/,
# dist/9.5/), arm64 into arm64/ in it (dist/arm64/, dist/9.5/arm64/). An
# architecture other than the machine's is cross-compiled, cgo with the C
# cross compiler CROSS_CC (default aarch64-linux-gnu-gcc, Debian's
# gcc-aarch64-linux-gnu with libc6-dev-arm64-cross, for arm64), and its
# binaries run in the tests under qemu-user (Debian's qemu-user-static).
#
# Environment: BEATS and ARCH (above), DIST (the 7.17 line's output folder, default
# ./dist; the 9.5 line's is $DIST/9.5), PLUGIN_VERSION (default: git
# describe, else "dev"), SOURCE_DATE_EPOCH (the time of the bundle's files,
# default: the commit's), GONOSUMDB (default: Elastic's forks, which the
# checksum database does not know; go.sum pins them all the same), PGO=off
# (build host and plugin without the PGO profile, to measure what it gains;
# both or neither).
#
# go.mod pins the Go release: its toolchain line if it has one, else its go
# line. Go reads that line as a minimum, and a newer go would build a plugin
# that a filebeat built before cannot load, so every build checks that go is
# exactly the pinned release.
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$PWD
DIST=${DIST:-$ROOT/dist}
[[ $DIST = /* ]] || DIST=$ROOT/$DIST # packaging runs in packaging/
ARGS=("$@")

# pinned_go prints the Go release go.mod pins, such as go1.26.8.
pinned_go() {
	local toolchain version
	toolchain=$(awk '$1 == "toolchain" { print $2 }' go.mod)
	version=$(awk '$1 == "go" { print $2 }' go.mod)
	echo "${toolchain:-go$version}"
}

# require_pinned_go stops the build unless go is the pinned release.
require_pinned_go() {
	local actual
	actual=$(go env GOVERSION 2>&1) || true
	if [ "$actual" != "$PINNED_GO" ]; then
		cat >&2 <<EOF
build.sh: this module pins $PINNED_GO (go.mod), but go is ${actual:-missing}.
A plugin loads only into a Filebeat built with the same Go release, so every
build uses exactly that one. Fix: install $PINNED_GO, or let the go command
fetch it from the module proxy: GOTOOLCHAIN=$PINNED_GO ./build.sh${ARGS[*]:+ ${ARGS[*]}}
EOF
		exit 1
	fi
}

PINNED_GO=$(pinned_go)
require_pinned_go

# The one place staticcheck's version is pinned (module honnef.co/go/tools;
# v0.8.2 supports go1.26). .ci/run installs it with ./build.sh tools.
STATICCHECK_VERSION=v0.8.2

MODULE=$(go list -m)
MODULES=(. transport packaging beats95)

# The 9.5 line's Beats replaces modules with Elastic's forks, some unknown
# to the checksum database: its first download would fail with a 404 from
# it. go.sum still pins every module once fetched.
export GONOSUMDB=${GONOSUMDB:-github.com/elastic,github.com/tommyers-elastic}

# BEATS picks the lines; LINE, LINE_DIR and DIST are the current one's
# (use_line), and ROOT_DIST is the 7.17 line's folder, which holds 9.5's.
BEATS_GIVEN=${BEATS:+yes}
BEATS=${BEATS:-7.17}
case "$BEATS" in
7.17 | 9.5 | all) ;;
*)
	echo "build.sh: BEATS=$BEATS: use 7.17 (the default), 9.5 or all (docs/lines.md)" >&2
	exit 2
	;;
esac
ROOT_DIST=$DIST
LINE=7.17
LINE_DIR=$ROOT

# ARCH picks the architectures; TARGET_ARCH is the current one (use_arch),
# HOST_ARCH the machine's, HOST_CC the C compiler given for it, if any.
HOST_ARCH=$(go env GOHOSTARCH)
HOST_CC=${CC:-}
ARCH_GIVEN=${ARCH:+yes}
ARCH=${ARCH:-$HOST_ARCH}
case "$ARCH" in
amd64 | arm64 | all) ;;
*)
	echo "build.sh: ARCH=$ARCH: use amd64, arm64 or all (the default is this machine's, $HOST_ARCH; docs/arm64.md)" >&2
	exit 2
	;;
esac
TARGET_ARCH=$HOST_ARCH
# EMULATOR is what runs a program of the current architecture: nothing on
# the machine's, else qemu-user with the cross toolchain's C library
# (Debian's qemu-user-static and libc6-dev-arm64-cross for arm64).
EMULATOR=()

# arches lists the architectures ARCH picks.
arches() {
	case "$ARCH" in
	all) echo amd64 arm64 ;;
	*) echo "$ARCH" ;;
	esac
}

# use_arch makes $1 the current architecture: every go command builds for
# it (GOARCH; for another than the machine's, CC is the C cross compiler,
# which cgo needs), into its folder, arm64/ in the line's for arm64. The
# few commands that must run here go through native.
use_arch() {
	TARGET_ARCH=$1
	[ "$TARGET_ARCH" = amd64 ] || DIST=$DIST/$TARGET_ARCH
	export GOARCH=$TARGET_ARCH
	[ "$TARGET_ARCH" != "$HOST_ARCH" ] || return 0
	local cc=${CROSS_CC:-}
	case "$TARGET_ARCH" in
	arm64)
		cc=${cc:-aarch64-linux-gnu-gcc}
		EMULATOR=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
		;;
	amd64)
		cc=${cc:-x86_64-linux-gnu-gcc}
		EMULATOR=(qemu-x86_64-static -L /usr/x86_64-linux-gnu)
		;;
	esac
	if ! command -v "$cc" >/dev/null 2>&1; then
		echo "build.sh: building for linux/$TARGET_ARCH on $HOST_ARCH needs the C cross compiler $cc (cgo: the plugin loader). Fix: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross (Debian, for arm64), or set CROSS_CC (docs/arm64.md)" >&2
		exit 1
	fi
	export CC=$cc
}

# native runs a command for this machine's architecture, whichever is
# current: the plugincheck that build.sh itself runs, the packaging tool.
native() {
	if [ -n "$HOST_CC" ]; then
		env GOARCH="$HOST_ARCH" CC="$HOST_CC" "$@"
	else
		env -u CC GOARCH="$HOST_ARCH" "$@"
	fi
}

# lines lists the lines BEATS picks.
lines() {
	case "$BEATS" in
	all) echo 7.17 9.5 ;;
	*) echo "$BEATS" ;;
	esac
}

# use_line makes $1 the current line: its module folder (the working
# directory of its go commands) and its output folder.
use_line() {
	LINE=$1
	case "$LINE" in
	7.17) LINE_DIR=$ROOT DIST=$ROOT_DIST ;;
	9.5) LINE_DIR=$ROOT/beats95 DIST=$ROOT_DIST/9.5 ;;
	esac
	cd "$LINE_DIR"
}

# check_links stops the build if a link of beats95/ to the shared source is
# broken or was checked out as a plain file (git config core.symlinks
# false): the 9.5 line compiles the root's wsclient, encode and plugindir
# through them.
check_links() {
	local f bad=()
	for f in "$ROOT"/beats95/plugin.go "$ROOT"/beats95/wsclient/* "$ROOT"/beats95/encode/* "$ROOT"/beats95/plugindir/*; do
		case "$(basename "$f")" in line.go | line_test.go | line_*) continue ;; esac
		[ -L "$f" ] && [ -e "$f" ] || bad+=("${f#"$ROOT"/}")
	done
	if [ ${#bad[@]} -gt 0 ]; then
		echo "build.sh: these files of the 9.5 line must be links to the shared source (ln -s ../../DIR/FILE), and are not or are broken: ${bad[*]}; with git, check out with core.symlinks true" >&2
		exit 1
	fi
}

# pgo_profile prints the profile host and plugin are built with
# (profile-guided optimisation, pgo/README.md): the one file
# pgo/filebeat-<first 12 hex digits of its SHA-256>.pprof. Go records only
# a profile's file name (-trimpath), and plugincheck and the packages'
# capability compare what Go records, so the name must say which profile
# it is: build.sh refuses a file whose name does not match its content.
pgo_profile() {
	local files=("$ROOT"/pgo/filebeat-*.pprof) sum
	if [ ${#files[@]} -ne 1 ] || [ ! -f "${files[0]}" ]; then
		echo "build.sh: want exactly one PGO profile pgo/filebeat-<sha256, 12 hex digits>.pprof, found: ${files[*]}" >&2
		exit 1
	fi
	sum=$(sha256sum "${files[0]}" | cut -c1-12)
	if [ "$(basename "${files[0]}")" != "filebeat-$sum.pprof" ]; then
		echo "build.sh: ${files[0]#"$ROOT"/} is not named for its content: rename it pgo/filebeat-$sum.pprof (Go records only the name, so the name must tell profiles apart)" >&2
		exit 1
	fi
	echo "${files[0]}"
}

# The flags of every build, host and plugin alike. The environment's GOFLAGS
# must not make them differ, so it is replaced, not extended. Host and
# plugin are built with the same PGO profile, which the plugin loader
# requires of them (they share packages); PGO=off builds both without
# (for measuring what PGO gains: ./build.sh with PGO=off DIST=...).
export CGO_ENABLED=1
export GOFLAGS=-buildvcs=false
BUILD_FLAGS=(-trimpath)
if [ "${PGO:-on}" = off ]; then
	BUILD_FLAGS+=(-pgo=off)
else
	BUILD_FLAGS+=("-pgo=$(pgo_profile)")
fi

plugin_version() {
	if [ -n "${PLUGIN_VERSION:-}" ]; then
		echo "$PLUGIN_VERSION"
	elif git rev-parse --git-dir >/dev/null 2>&1 && git rev-parse HEAD >/dev/null 2>&1; then
		echo "$(git describe --tags --always)$(tree_changed && echo -dirty)"
	else
		echo dev
	fi
}

# tree_changed says whether the checkout differs from its commit: a tracked
# file changed, or a file git neither tracks nor ignores (a new source
# file is built in too), as Go's own VCS stamp counts them.
tree_changed() {
	[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=normal 2>/dev/null)" ]
}

# host_stamp prints the -ldflags that stamp the host with the commit it is
# built from and that commit's time, as Elastic's builds stamp theirs, for
# `filebeat version` and the "Build info" log line: the full commit, with
# -dirty if the checkout differs from it (tree_changed), or
# "unknown (built outside git)"; the time SOURCE_DATE_EPOCH's, else the
# commit's (never the clock's, so builds stay reproducible), else none.
# 7.17's libbeat/version has the string variables commit and buildTime
# that Elastic's builds set with -X. 9.5's has vcsRevision and vcsTime,
# read from Go's VCS stamp (-buildvcs), which Go does not make in a git
# worktree and which libbeat reads without its modified flag; so the 9.5
# line sets vcsRevision with -X like 7.17's commit, and its main sets the
# time.Time vcsTime from main.buildTime (beats95/cmd/filebeat/stamp.go).
# Not recorded in the binary's build information (-trimpath leaves
# -ldflags out), so plugincheck and the packages' capability never see
# it; a -X of a package the plugin shares does not affect loading.
host_stamp() {
	local version=github.com/elastic/beats/v7/libbeat/version commit epoch="${SOURCE_DATE_EPOCH:-}" time=""
	# A checkout's own repository, not one it was copied into.
	if [ "$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$ROOT" && pwd -P)" ] &&
		git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
		commit=$(git -C "$ROOT" rev-parse HEAD)
		! tree_changed || commit+=-dirty
		epoch=${epoch:-$(git -C "$ROOT" log -1 --format=%ct)}
	else
		commit="unknown (built outside git)"
	fi
	[ -z "$epoch" ] || time=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
	case "$LINE" in
	7.17) echo "-X '$version.commit=$commit'${time:+ -X $version.buildTime=$time}" ;;
	*) echo "-X '$version.vcsRevision=$commit'${time:+ -X main.buildTime=$time}" ;;
	esac
}

build_host() {
	echo "building $DIST/filebeat (the first build takes a few minutes)" >&2
	go build "${BUILD_FLAGS[@]}" -ldflags "$(host_stamp)" -o "$DIST/filebeat" ./cmd/filebeat
	plugin_version >"$DIST/filebeat.version"
}

build_checker() {
	(cd "$ROOT" && go build "${BUILD_FLAGS[@]}" -o "$DIST/plugincheck" ./cmd/plugincheck)
	if [ "$TARGET_ARCH" != "$HOST_ARCH" ]; then
		mkdir -p "$(dirname "$(checker)")"
		(cd "$ROOT" && native go build "${BUILD_FLAGS[@]}" -o "$(checker)" ./cmd/plugincheck)
	fi
}

# checker is the plugincheck that build.sh runs: $DIST/plugincheck, or for
# another architecture than the machine's, whose plugincheck goes into the
# bundle and the plugin package, one built for the machine in $DIST/.native/.
# plugincheck reads binaries of either architecture.
checker() {
	if [ "$TARGET_ARCH" = "$HOST_ARCH" ]; then
		echo "$DIST/plugincheck"
	else
		echo "$DIST/.native/plugincheck"
	fi
}

# build_plugin builds websocket.so. Given a $DIST/filebeat, it refuses
# before building if that filebeat was built with another Go release, and
# after building if plugincheck finds any mismatch; either way the previous
# websocket.so stays.
build_plugin() {
	local version host_go
	version=$(plugin_version)
	if [ -f "$DIST/filebeat" ]; then
		host_go=$(go version "$DIST/filebeat" 2>/dev/null | awk '{ print $NF }') || true
		host_go=${host_go:-"no Go build information"}
		if [ "$host_go" != "$PINNED_GO" ]; then
			cat >&2 <<EOF
build.sh: refusing to build websocket.so for $DIST/filebeat: that filebeat was
built with $host_go, this checkout pins $PINNED_GO (go.mod), and Go loads a
plugin only into a program built with the same Go release. Fix, either:
  ./build.sh        rebuild filebeat and websocket.so together, and deploy both
  or build the plugin from the commit that filebeat was built from
  ($(cat "$DIST/filebeat.version" 2>/dev/null || echo "see $DIST/BUILDINFO")): git checkout <it> && ./build.sh plugin
EOF
			exit 1
		fi
	fi

	echo "building $DIST/websocket.so $version" >&2
	build_checker
	local staging verdict
	staging=$(mktemp -d "$DIST/.websocket.so.XXXXXX")
	go build "${BUILD_FLAGS[@]}" -buildmode=plugin \
		-ldflags "-X $MODULE/wsclient.Version=$version" \
		-o "$staging/websocket.so" .
	if [ -f "$DIST/filebeat" ]; then
		if ! verdict=$("$(checker)" "$DIST/filebeat" "$staging/websocket.so"); then
			rm -rf "$staging"
			echo "build.sh: refusing websocket.so $version, $DIST/websocket.so is unchanged:" >&2
			echo "$verdict" >&2
			exit 1
		fi
		echo "$verdict" >&2
	else
		echo "no $DIST/filebeat to check websocket.so against" >&2
	fi
	mv "$staging/websocket.so" "$DIST/websocket.so"
	rmdir "$staging"
	echo "$version" >"$DIST/websocket.so.version"
}

build_receiver() {
	(cd "$ROOT" && go build "${BUILD_FLAGS[@]}" -o "$DIST/wsreceiver" ./cmd/wsreceiver)
}

# build_ackcheck builds the conformance checker for beats-ack.v1 servers.
# It needs no Beats, so both lines build it from the root module.
build_ackcheck() {
	(cd "$ROOT" && go build "${BUILD_FLAGS[@]}" -o "$DIST/ackcheck" ./cmd/ackcheck)
}

# write_buildinfo records what dist/ was built with, beside the binaries.
write_buildinfo() {
	{
		echo "go: $(go env GOVERSION)"
		echo "line: $LINE"
		echo "platform: $(go env GOOS)/$(go env GOARCH)"
		echo "beats: $(beats_version)"
		echo "filebeat: built from $(cat "$DIST/filebeat.version" 2>/dev/null || echo unknown)"
		echo "plugin: $(cat "$DIST/websocket.so.version" 2>/dev/null || echo unknown)"
		echo "flags: CGO_ENABLED=$CGO_ENABLED GOFLAGS=$GOFLAGS${CC:+ CC=$CC} ${BUILD_FLAGS[*]//"$ROOT/"/}"
		if [ -f "$DIST/filebeat" ]; then
			echo "check: $("$(checker)" "$DIST/filebeat" "$DIST/websocket.so" | head -n 1)"
		fi
		echo "sha256:"
		for f in filebeat websocket.so; do
			if [ -f "$DIST/$f" ]; then
				echo "  $(cd "$DIST" && sha256sum "$f")"
			fi
		done
	} >"$DIST/BUILDINFO"
}

# beats_version is the Beats version the current line's go.mod requires.
# Not go list -m: it asks the module proxy for the version's .info, which
# the proxy refuses (403) for the 9.5 line's pseudo-version, though it
# serves its .mod and .zip, all a build needs.
beats_version() {
	awk '$1 == "github.com/elastic/beats/v7" { print $2; exit }' "$LINE_DIR/go.mod"
}

# beats_dir is the current line's Beats source in the module cache, where
# the build put it.
beats_dir() {
	local dir
	dir=$(go env GOMODCACHE)/github.com/elastic/beats/v7@$(beats_version)
	if [ ! -d "$dir" ]; then
		echo "build.sh: no Beats source at $dir: build first (go build downloads it)" >&2
		exit 1
	fi
	echo "$dir"
}

# stage_home lays dist/ out as Filebeat's home, as Elastic's tarball is:
# module/ and modules.d/ of the open source Filebeat (not x-pack's, which
# are under another licence and need inputs this Filebeat lacks), from the
# Beats source in the module cache, without what Elastic's packaging leaves
# out (filebeat/scripts/mage/package.go: paths with /_meta, /test or
# fields.go), files 0644 and folders 0755. Filebeat looks for module/ in its
# home, by default the binary's folder, and logs an ERROR at every start
# when it is missing.
stage_home() {
	local beats
	beats=$(beats_dir)
	rm -rf "$DIST/module" "$DIST/modules.d"
	tar -C "$beats/filebeat" --exclude='*/_meta*' --exclude='*/test*' --exclude='*fields.go*' \
		-cf - module modules.d | tar -C "$DIST" -xf - --no-same-owner
	chmod -R u=rwX,go=rX "$DIST/module" "$DIST/modules.d"
}

build_all() {
	local started=$SECONDS
	[ "$LINE" = 7.17 ] || check_links
	mkdir -p "$DIST"
	build_host
	build_plugin
	build_receiver
	build_ackcheck
	stage_home
	write_buildinfo
	echo "built $DIST in $((SECONDS - started))s: $(tr '\n' ' ' <"$DIST/BUILDINFO")" >&2
}

# bundle packs dist/ into a release tarball laid out like Elastic's Filebeat
# tarball (filebeat-<version>-linux-x86_64.tar.gz: the binary, filebeat.yml,
# filebeat.reference.yml, module/, modules.d/, LICENSE.txt, NOTICE.txt), with
# the plugin, plugincheck, the output's example configuration, this README,
# the install guide (docs/install.md as INSTALL.md), BUILDINFO and
# SHA256SUMS of the files at the top, and writes a .sha512
# beside it. Names, owners, modes and times are fixed, so the same binaries
# give the same tarball.
bundle() {
	local name stage beats files=(filebeat websocket.so plugincheck filebeat.yml filebeat.reference.yml
		filebeat.yml.example README.md INSTALL.md BUILDINFO LICENSE.txt NOTICE.txt)
	name=websocket-output-$(cat "$DIST/websocket.so.version")$(line_suffix)-$(go env GOOS)-$(go env GOARCH)
	beats=$(beats_dir)
	stage=$(mktemp -d)
	mkdir "$stage/$name"
	cp "$DIST/filebeat" "$DIST/websocket.so" "$DIST/plugincheck" "$DIST/BUILDINFO" "$stage/$name/"
	cp -r "$DIST/module" "$DIST/modules.d" "$stage/$name/"
	cp "$ROOT/packaging/files/filebeat.yml" "$ROOT/filebeat.yml.example" "$ROOT/README.md" "$stage/$name/"
	cp "$ROOT/docs/install.md" "$stage/$name/INSTALL.md"
	cp "$beats/filebeat/filebeat.reference.yml" "$beats/LICENSE.txt" "$beats/NOTICE.txt" "$stage/$name/"
	(cd "$stage/$name" && sha256sum "${files[@]}" >SHA256SUMS)
	chmod -R u=rwX,go=rX "$stage/$name"
	chmod 0600 "$stage/$name/filebeat.yml" # as Elastic's: it may hold credentials
	tar --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime="@$(source_date)" -C "$stage" -cf - "$name" | gzip -n >"$DIST/$name.tar.gz"
	rm -rf "$stage"
	write_sha512 "$DIST/$name.tar.gz"
	echo "bundled $DIST/$name.tar.gz" >&2
}

# write_sha512 writes FILE.sha512 in the format of Elastic's downloads:
# "<sha512>  <file name>", without a newline; sha512sum -c checks it.
write_sha512() {
	local sum
	sum=$(cd "$(dirname "$1")" && sha512sum "$(basename "$1")")
	printf '%s' "$sum" >"$1.sha512"
}

# package_version turns a version as plugin_version gives it into one that
# deb and rpm both accept and order as releases follow each other:
# v1.2.3 -> 1.2.3, v1.2.3-4-gabc1234 -> 1.2.3+4.gabc1234, and anything not
# starting with a release number such as 1.2 (git describe without a tag
# gives a commit, abc1234 or 1abc234) -> 0+<number of commits>.abc1234.
# Characters neither accepts become dots.
package_version() {
	local v=$1 commits
	if [[ $v =~ ^v?[0-9]+\.[0-9]+ ]]; then
		v=${v#v}
		v=${v/-/+}
	else
		commits=$(git rev-list --count HEAD 2>/dev/null) || commits=0
		v=0+$commits.$v
	fi
	echo "${v//[^A-Za-z0-9.+~]/.}"
}

# packaging runs the packaging program (packaging/, with nfpm pinned in its
# own go.mod) with the given arguments, on this machine, for the current
# architecture (PACKAGE_ARCH: nfpm names Go's arm64 arm64 in a deb and
# aarch64 in an rpm). Files in the packages get the
# bundle's time, so the same binaries give the same packages.
packaging() {
	(cd "$ROOT/packaging" && SOURCE_DATE_EPOCH=$(source_date) LINE_SUFFIX=$(line_suffix) PACKAGE_ARCH=$TARGET_ARCH native go run . "$@")
}

# line_suffix is what the 9.5 line adds to the names of its packages and
# bundle, so that each line stays on its own upgrade path: a package
# manager upgrades by name, and 9.5.0 would otherwise count as an upgrade
# of 7.17.29. The 7.17 line's names are as they always were.
line_suffix() {
	[ "$LINE" = 7.17 ] || echo "-$LINE"
}

# other_line_package prints the packaging flag by which a 9.5 package
# conflicts with and replaces the 7.17 package of the same part ($1), which
# installs the same files: one side suffices for dpkg and rpm, so 7.17's
# packages stay as they were.
other_line_package() {
	[ "$LINE" = 7.17 ] || echo "-conflicts $1"
}

# beats_release is the Filebeat release the current line's filebeat
# reports: 7.17.29, and 9.5.0 for Beats' main of 2026-04-23, whose module
# version is a pseudo-version. It is read from the Beats source the
# filebeat was built from (libbeat/version), not by running it: a filebeat
# of another architecture does not run here.
beats_release() {
	awk -F'"' '/^const defaultBeatVersion = / { print $2 }' "$(beats_dir)/libbeat/version/version.go"
}

# package_host makes the host's deb and rpm: dist/filebeat laid out like
# Elastic's filebeat package, providing its capability.
package_host() {
	local abi
	abi=$("$(checker)" -capability "$DIST/filebeat")
	local format
	for format in deb rpm; do
		DIST=$DIST BEATS_DIR=$(beats_dir) PLUGIN_ABI=$abi BEATS_VERSION=$(beats_release) \
			HOST_RELEASE=$(package_version "$(cat "$DIST/filebeat.version")") \
			packaging -config host.nfpm.yaml -packager $format -target "$DIST" $(other_line_package filebeat-ws)
	done
}

# package_plugin makes the plugin's deb and rpm, requiring the capability
# of dist/filebeat, which plugincheck -capability prints only if the plugin
# can load into it.
package_plugin() {
	local abi
	if [ ! -f "$DIST/filebeat" ]; then
		echo "build.sh: no $DIST/filebeat: a plugin package requires the Filebeat it was checked against. Fix: ./build.sh package, or put the installed Filebeat's binary (/usr/share/filebeat/bin/filebeat) at $DIST/filebeat" >&2
		exit 1
	fi
	abi=$("$(checker)" -capability "$DIST/filebeat" "$DIST/websocket.so")
	local format
	for format in deb rpm; do
		DIST=$DIST PLUGIN_ABI=$abi PLUGIN_PACKAGE_VERSION=$(package_version "$(cat "$DIST/websocket.so.version")") \
			packaging -config plugin.nfpm.yaml -packager $format -target "$DIST" $(other_line_package filebeat-output-websocket)
	done
}

# source_date is the time the bundle gives its files: SOURCE_DATE_EPOCH,
# else the commit's time, else 0.
source_date() {
	if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
		echo "$SOURCE_DATE_EPOCH"
	else
		git log -1 --format=%ct 2>/dev/null || echo 0
	fi
}

demo() {
	build_all
	local lines=12 addr=""
	DEMO_TMP=$(mktemp -d)
	trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$DEMO_TMP"' EXIT
	local tmp=$DEMO_TMP

	# Over 1 KiB in all: Filebeat 9.x's filestream identifies a file by the
	# fingerprint of its first 1024 bytes and skips a smaller one until it
	# grows (docs/lines.md).
	for i in $(seq 1 $lines); do
		echo "$(date -u +%FT%TZ) INFO demo line $i of $lines: user=alice action=login ok=true session=$(printf '%016x' "$i")"
	done >"$tmp/sample.log"

	"${EMULATOR[@]}" "$DIST/wsreceiver" -listen 127.0.0.1:0 -path /echo -out "$tmp/received.log" \
		-addr-file "$tmp/receiver.addr" 2>"$tmp/receiver.err" &
	for _ in $(seq 1 100); do
		[ -s "$tmp/receiver.addr" ] && addr=$(cat "$tmp/receiver.addr") && break
		sleep 0.1
	done
	[ -n "$addr" ] || { cat "$tmp/receiver.err" >&2; exit 1; }

	cat >"$tmp/filebeat.yml" <<EOF
filebeat.inputs:
  - type: filestream
    id: demo
    paths: ["$tmp/sample.log"]
output.websocket:
  addr: "$addr"
  path: "/echo"
path.data: "$tmp/data"
logging.level: info
EOF
	echo "receiver on ws://$addr/echo; starting filebeat --plugin $DIST/websocket.so" >&2
	"${EMULATOR[@]}" "$DIST/filebeat" --plugin "$DIST/websocket.so" -e --strict.perms=false \
		-c "$tmp/filebeat.yml" --path.home "$DIST" >"$tmp/filebeat.log" 2>&1 &

	local got=0
	for _ in $(seq 1 300); do
		got=$(wc -l <"$tmp/received.log" 2>/dev/null || echo 0)
		[ "$got" -ge "$lines" ] && break
		sleep 0.1
	done
	echo "--- the receiver got $got of $lines events:" >&2
	cat "$tmp/received.log"
	if [ "$got" -lt "$lines" ]; then
		echo "--- not all events arrived; filebeat's log:" >&2
		tail -n 30 "$tmp/filebeat.log" >&2
		exit 1
	fi
	grep -m1 'websocket output' "$tmp/filebeat.log" >&2 || true
	# 7.17 logs to stderr as text, 9.x as ECS JSON.
	if grep -qE $'\tERROR\t|"log.level":"error"' "$tmp/filebeat.log"; then
		echo "--- Filebeat logged errors:" >&2
		grep -E $'\tERROR\t|"log.level":"error"' "$tmp/filebeat.log" >&2
	fi
}

# test_programs makes sure the programs the end-to-end tests run are here:
# nginx (a TLS-terminating proxy), tinyproxy (an HTTP proxy) and, for the
# Python example server, python3-websockets, from Debian's packages, and as
# root rpm (the package tests read the rpm packages with it); with arm64
# to test, the C cross compiler and qemu-user-static; and the Node
# example server's pinned ws package (npm ci). As root it installs what is
# missing; otherwise it says what to install.
test_programs() {
	local missing=()
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
	command -v tinyproxy >/dev/null 2>&1 || [ -x /usr/sbin/tinyproxy ] || missing+=(tinyproxy)
	/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 || missing+=(python3-websockets)
	# The package tests run as root only, and read the rpm packages with rpm.
	[ "$(id -u)" -ne 0 ] || command -v rpm >/dev/null 2>&1 || missing+=(rpm)
	# The arm64 build and its tests under emulation (test_cross), on amd64.
	if [ "$(cross_arch)" = arm64 ] && [[ " $(arches) " = *" arm64 "* ]]; then
		command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
		[ -f /usr/aarch64-linux-gnu/include/stdio.h ] || missing+=(libc6-dev-arm64-cross)
		command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "installing ${missing[*]} for the end-to-end tests (Debian packages)" >&2
			apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		else
			echo "the end-to-end tests need ${missing[*]}: sudo apt-get install ${missing[*]}" >&2
			exit 1
		fi
	fi
	node_example
}

# node_example installs the Node example server's dependencies, as its
# package-lock.json pins them, unless they are there.
node_example() {
	local dir=examples/servers/node
	[ -f "$dir/node_modules/ws/package.json" ] && return 0
	if ! command -v npm >/dev/null 2>&1; then
		echo "the end-to-end tests need Node.js 18 or later with npm, for $dir" >&2
		exit 1
	fi
	echo "installing $dir's dependencies (npm ci)" >&2
	(cd "$dir" && npm ci --no-audit --no-fund)
}

# staticcheck_bin prints the staticcheck to run: $STATICCHECK if set, else
# the one go install writes (GOBIN, or bin in GOPATH's first folder).
staticcheck_bin() {
	local gobin
	if [ -n "${STATICCHECK:-}" ]; then
		echo "$STATICCHECK"
		return
	fi
	gobin=$(go env GOBIN)
	echo "${gobin:-$(go env GOPATH | cut -d: -f1)/bin}/staticcheck"
}

install_staticcheck() {
	echo "installing staticcheck $STATICCHECK_VERSION" >&2
	go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
}

# run_staticcheck runs the pinned staticcheck on every package, with the
# checks staticcheck.conf selects. A missing one is installed (unless
# STATICCHECK names it); one of another version is refused: each version
# checks other things, so its verdict would not be this checkout's.
run_staticcheck() {
	local bin version
	bin=$(staticcheck_bin)
	if [ ! -e "$bin" ] && [ -z "${STATICCHECK:-}" ]; then
		install_staticcheck
	fi
	version=$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" && $2 == "honnef.co/go/tools" { print $3 }') || true
	if [ "$version" != "$STATICCHECK_VERSION" ]; then
		cat >&2 <<EOF
build.sh: this checkout pins staticcheck $STATICCHECK_VERSION, but $bin is
${version:+staticcheck }${version:-missing or not a staticcheck that go install built}.
Fix: ./build.sh tools (that is: go install honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION)${STATICCHECK:+
and unset STATICCHECK, or point it at that staticcheck}
EOF
		exit 1
	fi
	echo "staticcheck $version ./..." >&2
	in_modules "$bin" ./...
}

# in_modules runs a command in each of this repository's Go modules: the
# root, the transport core, which is a module of its own (go.mod's replace)
# so that it stays free of Beats, and the packaging tool, whose nfpm must
# not change the versions the host and the plugin share.
in_modules() {
	local m
	for m in "${MODULES[@]}"; do
		(cd "$ROOT/$m" && "$@")
	done
}

# lint runs go vet and staticcheck on every package, those of packaging/
# (a module of its own) included.
lint() {
	in_modules go vet ./...
	run_staticcheck
}

# fuzz runs every fuzz target (func FuzzX in a _test.go file) for FUZZTIME
# (default 10s) on top of its seed corpus in testdata/fuzz/FuzzX. An input
# that fails is written there and fails the run.
fuzz() {
	local file target
	grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | sort |
		while IFS=: read -r file target; do
			target=${target#func }
			(cd "$(dirname "$file")" && go test -run '^$' -fuzz "^$target\$" -fuzztime "${FUZZTIME:-10s}" .)
		done
}

# bench runs the encoder and client microbenchmarks, then wsbench: the real
# Filebeat with the plugin against the receiver, next to output.file, then
# the soak (receiver killed and restarted while Filebeat ships with acks).
# Modes: full, smoke (small inputs, once), soak (only the full soak). It
# expects dist/ built.
bench() {
	local mode=${1:-full} lines=1000000 runs=5 scale=5 benchtime=1s
	local soak=(-soak 5000000 -soak-rate 20000 -soak-gap-min 3s -soak-gap-max 15s)
	case "$mode" in
	smoke)
		lines=20000 runs=1 scale=0 benchtime=1x
		soak=(-soak 100000 -soak-rate 20000 -soak-gap-min 500ms -soak-gap-max 2s)
		;;
	soak) runs=0 ;;
	esac
	go build "${BUILD_FLAGS[@]}" -o "$DIST/wsbench" ./cmd/wsbench
	mkdir -p .bench
	{
		if [ "$runs" -gt 0 ]; then
			echo "## Microbenchmarks (go test -bench)"
			echo
			echo '```'
			go test -run '^$' -bench . -benchmem -benchtime "$benchtime" -count 1 ./encode ./wsclient | grep -E '^(Benchmark|goos|goarch|cpu)'
			echo '```'
			echo
			echo "## End to end (wsbench)"
		fi
		"$DIST/wsbench" -dist "$DIST" -work .bench -lines "$lines" -runs "$runs" -scale "$scale" "${soak[@]}"
	} | tee ".bench/results-$mode.md"
	echo "results in .bench/results-$mode.md" >&2
}

# pgo_refresh profiles the real Filebeat with the plugin on the benchmark's
# main cases (wsbench -cpuprofile: the steady state only, a second at a
# time) and makes the merged profile the one host and plugin are built
# with, pgo/filebeat-<sha256>.pprof, in place of the last. It expects dist/
# built. Then rebuild, measure and commit it (pgo/README.md).
pgo_refresh() {
	local profiles sum
	go build "${BUILD_FLAGS[@]}" -o "$DIST/wsbench" ./cmd/wsbench
	profiles=$(mktemp -d)
	"$DIST/wsbench" -dist "$DIST" -work .bench -lines 400000 -runs 2 -scale 0 -cpuprofile "$profiles" \
		-cases frame-event,frame-batch,ack-event,ack-each-event,codec-json-batch,compress-real >/dev/null
	go tool pprof -proto "$profiles"/*.pprof >"$profiles/merged"
	sum=$(sha256sum "$profiles/merged" | cut -c1-12)
	rm -f pgo/filebeat-*.pprof
	mv "$profiles/merged" "pgo/filebeat-$sum.pprof"
	rm -rf "$profiles"
	echo "wrote pgo/filebeat-$sum.pprof: rebuild with ./build.sh, measure (pgo/README.md) and commit it" >&2
}

# E2E_95 are the end-to-end tests that run with the 9.5 line's Filebeat
# too (BEATS=9.5 go test ./e2e): delivery in order, the kill test with
# acks, TLS through nginx, a refused token, bad configuration and the
# errors it prints, the hot swap, filebeat test output and test config,
# plugincheck, the build stamp, the plugins folder, the metrics in /stats
# and a lost connection logged when noticed, and what differs
# between the lines (e2e/lines_test.go). The rest of the suite tests the
# shared code on 7.17.
E2E_95='^(TestEndToEnd_DeliversEveryLineInOrder|TestKill_WithAcksEveryLineArrivesAtLeastOnce|TestTLS_WSSThroughNginxVerifiesTheServer|TestAuth_RefusedTokenIsLoggedBackedOffAndNothingLost|TestEndToEnd_BadConfigStopsFilebeatAtStartNamingKeyAndValue|TestHotSwap_PluginRebuiltAfterCodeChangeLoadsIntoUnchangedFilebeat|TestTestOutput_.*|TestTestConfig_.*|TestConfigErrors_.*|TestPluginCheck_SaysCompatibleForTheBuildOfDist|TestLines_.*|TestBuildStamp_.*|TestPluginsFolder_.*|TestPluginFlag_.*|TestStats_.*|TestLost_.*)$'

# E2E_CROSS are the end-to-end tests that run with the 7.17 line's binaries
# of the other architecture, arm64 on an amd64 machine, under qemu-user
# (ARCH=arm64 go test ./e2e, docs/arm64.md): delivery in order with acks,
# the kill test with acks (the receiver killed and crashing, Filebeat
# killed), the hot swap of a plugin rebuilt alone, plugincheck across the
# architectures and the packages' metadata. Few: emulation is slow.
E2E_CROSS='^(TestArch_.*|TestKill_WithAcksEveryLineArrivesAtLeastOnce|TestHotSwap_PluginRebuiltAfterCodeChangeLoadsIntoUnchangedFilebeat|TestPluginCheck_SaysCompatibleForTheBuildOfDist)$'

# cross_arch is the architecture ./build.sh test builds and tests besides
# the machine's.
cross_arch() {
	case "$HOST_ARCH" in
	arm64) echo amd64 ;;
	*) echo arm64 ;;
	esac
}

# test_cross runs E2E_CROSS on the 7.17 line's build for the other
# architecture (cross_arch), which the tests' TestMain builds (with
# ./build.sh, into dist/arm64/ on amd64) and whose packages and bundle one
# of them makes. With -race, as the 7.17 line's run, so that the test
# binary is not built again: the race detector is in the tests, the
# binaries under test are the emulated ones.
test_cross() {
	timed_in "$ROOT" BEATS=7.17 ARCH="$(cross_arch)" DIST="$ROOT_DIST" go test -race -count=1 -timeout 25m -run "$E2E_CROSS" ./e2e
}

# timed_in runs a command, with environment assignments before it, in the
# folder $1, timed.
timed_in() {
	local dir=$1
	shift
	timed env -C "$dir" "$@"
}

# run_tests runs the unit and end-to-end tests of the lines BEATS picks:
# the Beats-free modules once; for 7.17 the root module's (its e2e with
# dist/); for 9.5 the beats95 module's (the 9.5 adapter's unit tests, the
# shared ones among them) and E2E_95 with dist/9.5.
run_tests() {
	local line m
	for m in transport packaging; do
		(cd "$ROOT/$m" && go test -race -count=1 -timeout 25m ./...)
	done
	for line in $(lines); do
		case "$line" in
		7.17) timed_in "$ROOT" BEATS=7.17 ARCH="$HOST_ARCH" DIST="$ROOT_DIST" go test -race -count=1 -timeout 25m ./... ;;
		9.5)
			# Without -race, which runs on the same source in the 7.17
			# module, and with the host's -trimpath, so that the packages
			# the filebeat build compiled are not compiled twice more.
			timed_in "$ROOT/beats95" go test -trimpath -count=1 -timeout 25m ./...
			timed_in "$ROOT" BEATS=9.5 ARCH="$HOST_ARCH" DIST="$ROOT_DIST" go test -race -count=1 -timeout 25m -run "$E2E_95" ./e2e
			;;
		esac
	done
}

# timed runs a command and says how long it took, so that CI's log shows
# where its time goes.
timed() {
	local started=$SECONDS
	"$@"
	echo "build.sh test: $* took $((SECONDS - started))s" >&2
}

# each_line runs a command for each line BEATS picks and each architecture
# ARCH picks, with that line and architecture current (use_line, use_arch).
each_line() {
	local line arch
	for line in $(lines); do
		for arch in $(arches); do
			(use_line "$line" && use_arch "$arch" && "$@")
		done
	done
}

plugin_only() {
	mkdir -p "$DIST"
	build_plugin
	write_buildinfo
}

build_dist() {
	build_all
	bundle
}

build_packages() {
	build_all
	package_host
	package_plugin
	bundle
}

package_plugin_only() {
	plugin_only
	package_plugin
}

case "${1:-all}" in
all) each_line build_all ;;
plugin) each_line plugin_only ;;
demo) each_line demo ;;
dist) each_line build_dist ;;
package)
	case "${2:-all}" in
	all) each_line build_packages ;;
	plugin) each_line package_plugin_only ;;
	*)
		echo "usage: $0 package [all|plugin]" >&2
		exit 2
		;;
	esac
	;;
test)
	# The README's test command tests both lines unless BEATS names one.
	[ -n "$BEATS_GIVEN" ] || BEATS=all
	# It tests the 7.17 line on the other architecture too (test_cross)
	# unless ARCH names the machine's.
	[ -n "$ARCH_GIVEN" ] || ARCH=all
	test_programs
	(ARCH=$HOST_ARCH && timed each_line build_all)
	timed lint
	timed run_tests
	timed fuzz
	# The benchmark's smoke run uses the 7.17 line's dist/.
	case " $(lines) " in *" 7.17 "*) timed bench smoke ;; esac
	if [[ " $(lines) " = *" 7.17 "* && " $(arches) " = *" $(cross_arch) "* ]]; then
		timed test_cross
	fi
	;;
lint) lint ;;
tools) install_staticcheck ;;
bench)
	build_all
	bench "${2:-full}"
	;;
pgo)
	build_all
	pgo_refresh
	;;
*)
	echo "usage: [BEATS=7.17|9.5|all] [ARCH=amd64|arm64|all] $0 [all|plugin|dist|package [plugin]|demo|test|lint|tools|bench [smoke|soak]|pgo]" >&2
	exit 2
	;;
esac

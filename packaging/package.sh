#!/bin/sh
# Builds the tollgate .deb and .rpm with nfpm (a tool of tools/go.mod, a
# module of its own so that nfpm's dependencies stay out of tollgate's). `make package` runs it from the repository root:
#   sh packaging/package.sh ARCH DIR [VERSION]
# ARCH is a Go architecture (amd64, arm64), cross-compiled with GOARCH;
# DIR receives tollgate_VERSION_ARCH.deb and tollgate-VERSION.RPMARCH.rpm;
# VERSION defaults to packaging/version.sh's, from git.
set -eu

arch=${1:-amd64}
dir=${2:-dist}
version=${3:-}
go=${GO:-go}

case "$arch" in
amd64) rpmarch=x86_64 ;;
arm64) rpmarch=aarch64 ;;
*)
	echo "package: architecture $arch: want amd64 or arm64" >&2
	exit 2
	;;
esac
if [ -z "$version" ]; then
	version=$(sh packaging/version.sh)
fi
case "$version" in
[0-9]*) ;;
*)
	echo "package: version $version: must start with a digit" >&2
	exit 2
	;;
esac

build=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-package.XXXXXX")
trap 'rm -rf "$build"' EXIT

# Without cgo the binary needs no shared library, so one build runs on every
# distribution the packages target (RHEL 8's glibc included) and
# cross-compiles without a C toolchain. PIE keeps ASLR, and as a PIE it is
# not the fully static binary lintian refuses; -s -w strips it.
CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$go" build -trimpath -buildmode=pie \
	-ldflags "-s -w -X main.version=$version" -o "$build/tollgate" ./cmd/tollgate
gzip -9n <packaging/tollgate.1 >"$build/tollgate.1.gz"

# File times in the packages are the commit's, so a rebuild of the same
# commit gives the same bytes.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# Debian wants a changelog even in a package built outside Debian's tools;
# this one names the commit the package was built from.
commit=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
{
	printf 'tollgate (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from git %s.\n\n' "$commit"
	printf ' -- Tollgate maintainers <tollgate@tollgate.dev>  %s\n' \
		"$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$build/changelog.gz"
export SOURCE_DATE_EPOCH PACKAGE_VERSION="$version" PACKAGE_ARCH="$arch" PACKAGE_BUILD="$build"

mkdir -p "$dir"
"$go" tool -modfile=tools/go.mod nfpm package --config packaging/nfpm.yaml --packager deb \
	--target "$dir/tollgate_${version}_${arch}.deb"
"$go" tool -modfile=tools/go.mod nfpm package --config packaging/nfpm.yaml --packager rpm \
	--target "$dir/tollgate-${version}.${rpmarch}.rpm"

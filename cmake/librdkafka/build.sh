#!/usr/bin/env bash
# build.sh PREFIX: librdkafka 2.0.2 (Debian bookworm's version, from Debian's source tarball) with
# the patches beside this script applied, built into PREFIX as a static library with its headers.
# cmake/librdkafka.cmake runs it at configure time when PREFIX has no finished build; PREFIX names
# the patch set, and is shared by every build folder and clone of this machine (~/.cache/caseline),
# so it runs once per machine and patch set (about 25 s on 2 cores).
set -euo pipefail
prefix=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=2.0.2
# Debian's archive (the pool keeps a release's sources); plain HTTP as apt itself uses it where
# HTTPS is not let through. The pinned digest is what makes either trustworthy.
path=debian/pool/main/libr/librdkafka/librdkafka_${version}.orig.tar.gz
urls=("https://deb.debian.org/$path" "http://deb.debian.org/$path")
sha256=f321bcb1e015a34114c83cf1aa7b99ee260236aab096b85c003170c90a47ca9d
sources=${CASELINE_SOURCES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/caseline/sources}
log() { printf 'librdkafka: %s\n' "$*" >&2; }

[[ -f $prefix/.built ]] && exit 0
mkdir -p "$(dirname "$prefix")" "$sources"
# Two configures at once (two build folders) build it once: the second waits, then finds it.
exec 9>"$prefix.lock"
flock 9
[[ -f $prefix/.built ]] && exit 0

# CASELINE_LIBRDKAFKA_TARBALL: a copy of that tarball to use instead (a machine without the
# archive); it must have the same digest.
tarball=${CASELINE_LIBRDKAFKA_TARBALL:-$sources/librdkafka_${version}.orig.tar.gz}
if ! sha256sum -c --status <<<"$sha256  $tarball" 2>/dev/null; then
  if [[ -n ${CASELINE_LIBRDKAFKA_TARBALL:-} ]]; then
    log "$tarball does not have the SHA-256 this script pins ($sha256)"
    exit 1
  fi
  for url in "${urls[@]}"; do
    log "downloading $url"
    if curl -fsSL --retry 3 -o "$tarball.part" "$url"; then break; fi
  done
  if ! sha256sum -c --status <<<"$sha256  $tarball.part" 2>/dev/null; then
    log "no download of librdkafka $version with the SHA-256 this script pins ($sha256)"
    rm -f "$tarball.part"
    exit 1
  fi
  mv "$tarball.part" "$tarball"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/caseline-librdkafka.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work"
src=$work/librdkafka-$version
shopt -s nullglob
for p in "$here"/*.patch; do
  log "applying $(basename "$p")"
  patch -d "$src" -p1 --quiet --forward <"$p"
done
# The features of Debian's build that a client of caseline's brokers can meet: TLS, and every
# compression codec a broker may hand a consumer (zlib, zstd, LZ4 built in). No SASL/GSSAPI or
# HTTP (OAUTHBEARER/OIDC): caseline configures neither.
run() {
  if ! "$@" >>"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    log "failed: $*"
    exit 1
  fi
}
rm -rf "$prefix"
log "building into $prefix"
(cd "$src" && run ./configure --prefix="$prefix" --enable-ssl --enable-zlib --enable-zstd \
  --disable-gssapi --disable-curl --disable-lz4-ext)
run make -C "$src/src" -j"$(nproc)" librdkafka.a
mkdir -p "$prefix/lib" "$prefix/include/librdkafka"
cp "$src/src/librdkafka.a" "$prefix/lib/"
cp "$src/src/rdkafka.h" "$src/src/rdkafka_mock.h" "$prefix/include/librdkafka/"
touch "$prefix/.built"
log "built"

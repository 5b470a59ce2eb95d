#!/usr/bin/env bash
# dev.sh - the project's two everyday commands, on a fresh Debian bookworm machine or a used one.
#
#   tools/dev.sh serve [ARGS...]  install packages, build, run `caseline serve` on the embedded
#                                 log (default --listen 127.0.0.1:8080 --data ./caseline-data)
#   tools/dev.sh test  [ARGS...]  install packages, build, start a real Kafka broker, run every
#                                 test with ctest (ARGS go to ctest; with none, then the short
#                                 chaos suite), stop the broker
#   tools/dev.sh deps             only install the Debian packages
#   tools/dev.sh build            only configure and build (preset "default", or $PRESET)
#   tools/dev.sh fuzz             build the gateway's libFuzzer target with clang and run it
#                                 briefly (part of `test`)
#   tools/dev.sh chaos [ARGS...]  the full chaos suite (tools/chaos.py: minutes; `test` runs its
#                                 --short version after ctest)
#
# Needs root or sudo for apt-get (only when a package is missing), and Maven Central for the
# first Kafka fetch.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preset="${PRESET:-default}"

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  librdkafka-dev librocksdb-dev rocksdb-tools
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libfmt-dev libspdlog-dev libcereal-dev doctest-dev libcli11-dev libssl-dev
  openjdk-17-jre-headless maven kcat python3 curl clang libclang-rt-14-dev
)

log() { printf 'dev.sh: %s\n' "$*" >&2; }

deps() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then return 0; fi
  log "installing: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
  cd "$root"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
}

# The gateway's libFuzzer target needs clang: a second, small build (only what it links) whose
# ctest entry runs a bounded number of inputs.
fuzz() {
  cd "$root"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCASELINE_FUZZ=ON -DCASELINE_WERROR=OFF >/dev/null
  cmake --build build-fuzz --target gateway_fuzz
  ctest --test-dir build-fuzz -R gateway_fuzz --output-on-failure
}

binary_dir() {
  case "$preset" in
    default) echo "$root/build" ;;
    debug) echo "$root/build-debug" ;;
    *) echo "$root/build-$preset" ;;
  esac
}

cmd="${1:-}"
shift || true
case "$cmd" in
  deps) deps ;;
  build) deps; build ;;
  fuzz) deps; fuzz ;;
  serve)
    deps; build
    exec "$(binary_dir)/tools/caseline" serve --listen 127.0.0.1:8080 --data "$root/caseline-data" "$@" ;;
  test)
    deps; build
    fuzz
    "$root/tools/kafka-local.sh" fetch
    cd "$root"
    # Every test, then (for a whole run, not a selection) the short chaos suite against the same
    # broker: kill -9 under retrying clients, the broker frozen and stopped, replays killed.
    if (($# == 0)); then
      exec "$root/tools/kafka-local.sh" run -- bash -c \
        'ctest --preset "$1" -j2 --output-on-failure && python3 tools/chaos.py --short --binary "$2"' \
        _ "$preset" "$(binary_dir)/tools/caseline"
    fi
    exec "$root/tools/kafka-local.sh" run -- ctest --preset "$preset" -j2 --output-on-failure "$@" ;;
  chaos)
    deps; build
    "$root/tools/kafka-local.sh" fetch
    cd "$root"
    exec "$root/tools/kafka-local.sh" run -- python3 tools/chaos.py --binary "$(binary_dir)/tools/caseline" "$@" ;;
  *)
    sed -n '2,15p' "${BASH_SOURCE[0]}" >&2
    exit 2 ;;
esac

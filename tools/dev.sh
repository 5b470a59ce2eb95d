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
#   tools/dev.sh lint             what the conventions say, checked (part of .ci/run): the
#                                 changed lines clang-format clean and clang-tidy clean, every
#                                 header compiled alone
#   tools/dev.sh sanitize         the unit tests (label "unit") under ASan and UBSan (preset
#                                 "debug", build-debug/)
#   tools/dev.sh chaos [ARGS...]  the full chaos suite (tools/chaos.py: minutes; `test` runs its
#                                 --short version after ctest)
#   tools/dev.sh fresh-check [DIR]  bootstrap a clean bookworm root (mmdebstrap) in DIR, clone
#                                 this HEAD into it, and run `serve` (until it prints its
#                                 address) and `test` inside it: proves tools/packages.txt
#
# The packages come from tools/packages.txt. Needs root or sudo for apt-get (only when a package
# is missing), and Maven Central for the first Kafka fetch.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preset="${PRESET:-default}"

# The one list of Debian packages (comments and blank lines skipped).
mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$root/tools/packages.txt")

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
    -DCASELINE_FUZZ=ON >/dev/null
  cmake --build build-fuzz --target gateway_fuzz
  ctest --test-dir build-fuzz -R gateway_fuzz --output-on-failure
}

# The conventions (../CONVENTIONS.md and the module READMEs), enforced. "Changed" means the
# commits since $CASELINE_LINT_BASE (default: the parent of HEAD, which for a merge is everything
# the merge brings): the existing code is formatted as it was written, and every change from now
# on is formatted and tidied. Warnings are errors in all three steps.
lint() {
  cd "$root"
  local base="${CASELINE_LINT_BASE:-HEAD^}"
  if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
    log "lint: no commit '$base' to compare with (a shallow clone? set CASELINE_LINT_BASE)"
    return 2
  fi
  local dirs=(core events projections gateway tools tests)

  log "lint: clang-format on the lines changed since $(git rev-parse --short "$base")"
  local diff
  diff=$(git clang-format-14 --binary clang-format-14 --diff --extensions cpp,h "$base" -- "${dirs[@]}")
  case "$diff" in
    "no modified files to format" | "clang-format did not modify any files" | "") ;;
    *) printf '%s\n' "$diff"; log "lint: the lines above are not formatted (git clang-format $base)"
       return 1 ;;
  esac

  cmake --preset default >/dev/null  # compile_commands.json, for clang-tidy
  local changed=()
  mapfile -t changed < <(git diff --name-only --diff-filter=d "$base" -- "${dirs[@]/%//*.cpp}" |
    grep -Fxf <(python3 -c 'import json,os,sys
for e in json.load(open(sys.argv[1])): print(os.path.relpath(e["file"], sys.argv[2]))' \
      build/compile_commands.json "$root") || true)
  if ((${#changed[@]})); then
    # Only the changed lines (of the sources and of the headers they include) are judged, as
    # with clang-format: the code before the conventions were checked is left as it was written.
    local filter
    filter=$(git diff -U0 --diff-filter=d "$base" -- "${dirs[@]/%//*.cpp}" "${dirs[@]/%//*.h}" |
      python3 -c 'import json,re,sys
root, ranges, name = sys.argv[1], {}, None
for line in sys.stdin:
    if line.startswith("+++ "):
        name = None if line.startswith("+++ /dev/null") else root + "/" + line[6:].rstrip("\n")
    m = re.match(r"@@ -\S+ \+(\d+)(?:,(\d+))? @@", line)
    if m and name:
        first, count = int(m.group(1)), int(m.group(2) or 1)
        if count: ranges.setdefault(name, []).append([first, first + count - 1])
print(json.dumps([{"name": n, "lines": r} for n, r in ranges.items()]))' "$root")
    log "lint: clang-tidy on the changed lines of ${#changed[@]} source files"
    printf '%s\0' "${changed[@]}" | xargs -0 -n 4 -P "$(nproc)" clang-tidy-14 -p build --quiet \
      --warnings-as-errors='*' --line-filter="$filter" \
      --header-filter="^$root/(core|events|projections|gateway|tools)/"
  fi

  log "lint: every header compiled alone"
  cmake --build --preset default --target header_check
}

# The unit tests (no server, no broker) built with AddressSanitizer and UndefinedBehaviorSanitizer:
# a second build folder, build-debug/, of only what they link.
sanitize() {
  cd "$root"
  cmake --preset debug >/dev/null
  cmake --build --preset debug --target unit_tests
  ctest --preset debug -L unit -j "$(nproc)"
}

# A clean Debian bookworm root (mmdebstrap, from this machine's own apt sources), a clone of
# HEAD inside it at the same path as this checkout, and the README's two commands run there.
# Proves that tools/packages.txt and the scripts are enough on a fresh machine. The root is kept
# (its path is printed) for inspection; /proc, /dev and /sys are unmounted whatever happens.
# FRESH_CHECK_SEED=1 copies this checkout's .cache/kafka and the ccache folder in first, which
# saves the jar download and most of the compile time without changing what is checked.
fresh_check() {
  local dir="${1:-}" started=$SECONDS
  if [[ -z $dir ]]; then dir=$(mktemp -d /var/tmp/caseline-fresh.XXXXXX); fi
  if [[ -e $dir && -n $(ls -A "$dir") ]]; then log "fresh-check: $dir is not empty"; return 2; fi
  if [[ $(id -u) -ne 0 ]]; then log "fresh-check: needs root (mmdebstrap, chroot, mount)"; return 2; fi
  if ! command -v mmdebstrap >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap
  fi
  # The machine's own sources: only what its apt already reaches.
  local sources=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [[ -s $f ]] && grep -qE '^[^#]*(debian|bookworm)' "$f"; then sources+=("$f"); fi
  done
  log "fresh-check: bootstrapping bookworm into $dir from ${sources[*]}"
  mmdebstrap --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' bookworm "$dir" "${sources[@]}"
  cp /etc/resolv.conf "$dir/etc/resolv.conf"  # Maven Central (the Kafka jars) by name
  # This machine's own extra certificate authorities (as with its apt sources): where HTTPS goes
  # through a local proxy, Maven Central is trusted only through them. ca-certificates(-java),
  # installed by `deps` in the root, adds them to the system and the JVM trust stores.
  if [[ -d /usr/local/share/ca-certificates ]]; then
    mkdir -p "$dir/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$dir/usr/local/share/ca-certificates/"
  fi

  local head src="$dir$root"
  head=$(git -C "$root" rev-parse HEAD)
  mkdir -p "$(dirname "$src")"
  git clone -q --no-checkout "$root" "$src"
  git -C "$src" checkout -q --detach "$head"
  if [[ ${FRESH_CHECK_SEED:-0} == 1 ]]; then
    if [[ -d $root/.cache/kafka ]]; then mkdir -p "$src/.cache" && cp -a "$root/.cache/kafka" "$src/.cache/"; fi
    local ccache_dir
    ccache_dir=$(ccache -k cache_dir 2>/dev/null || true)
    if [[ -n $ccache_dir && -d $ccache_dir ]]; then
      # A cache in use loses temporary files while it is copied; the seed is only a speed-up.
      mkdir -p "$dir/root/.cache" &&
        cp -a "$ccache_dir" "$dir/root/.cache/ccache" 2>/dev/null ||
        log "fresh-check: some ccache files changed while copied (the seed is partial)"
    fi
    log "fresh-check: seeded .cache/kafka and ccache from this machine"
  fi

  local mounted=()
  # shellcheck disable=SC2317  # run by the trap
  unmount_all() {
    local m i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
      m=${mounted[i]}
      umount -R "$m" || umount -lR "$m" || log "fresh-check: could not unmount $m"
    done
    mounted=()
  }
  trap unmount_all EXIT INT TERM
  # The root a mount point of its own, and private: inside the chroot "/" can then be made
  # private in a new mount namespace (the full-disk test mounts a small tmpfs in one).
  mount --bind "$dir" "$dir" && mount --make-private "$dir"
  mounted+=("$dir")
  for f in proc dev sys; do
    mount --rbind "/$f" "$dir/$f" && mount --make-rslave "$dir/$f"
    mounted+=("$dir/$f")
  done

  log "fresh-check: running 'tools/dev.sh serve' then 'tools/dev.sh test' in the chroot (HEAD $head)"
  local rc=0
  chroot "$dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 ${FRESH_CHECK_SEED:+CCACHE_BASEDIR=${CCACHE_BASEDIR:-}} /bin/bash -c '
      set -euo pipefail
      cd "$1"
      coproc server { exec tools/dev.sh serve 2>&1; }
      pid=$server_PID
      address=
      while IFS= read -r line <&"${server[0]}"; do
        printf "serve: %s\n" "$line"
        if [[ $line == "caseline listening on "* ]]; then address=${line#caseline listening on }; break; fi
      done
      if [[ -z $address ]]; then echo "fresh-check: serve never printed its address" >&2; exit 1; fi
      kill -TERM "$pid"
      wait "$pid"
      echo "fresh-check: serve answered on ${address%% *} and stopped"
      tools/dev.sh test
    ' fresh-check "$root" || rc=$?
  unmount_all
  trap - EXIT INT TERM
  local took=$((SECONDS - started))
  if ((rc == 0)); then
    log "fresh-check: PASSED in $((took / 60))m$((took % 60))s (root kept at $dir)"
  else
    log "fresh-check: FAILED (exit $rc) after $((took / 60))m$((took % 60))s (root kept at $dir)"
  fi
  return "$rc"
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
  lint) deps; lint ;;
  sanitize) deps; sanitize ;;
  fresh-check) fresh_check "$@" ;;
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
    sed -n '2,18p' "${BASH_SOURCE[0]}" >&2
    exit 2 ;;
esac

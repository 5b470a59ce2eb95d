#!/usr/bin/env bash
# An installed caseline runs with the source and build trees out of reach: `cmake --install`
# into a temporary prefix, then `caseline serve` from there, with no CASELINE_* variable, a cwd
# outside the tree and the tree hidden under an empty tmpfs (a private mount namespace). It must
# find its calendar, start, and answer /healthz; the unit and the example settings are installed.
# Its first start prints the bootstrap admin token, with which `caseline token create|list|revoke
# --url` administer tokens while it runs; `token create --data` makes one with no token at all,
# through the running server's admin socket.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1
source_dir=$(cd "$2" && pwd)
prefix=$(mktemp -d /tmp/caseline-install.XXXXXX)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi  # may be gone
  rm -rf "$prefix"
}
trap cleanup EXIT
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

cmake --install "$build_dir" --prefix "$prefix" >/dev/null
for f in bin/caseline share/caseline/cn-workdays.txt share/caseline/caseline.env \
         lib/systemd/system/caseline.service lib/sysusers.d/caseline.conf; do
  [[ -f $prefix/$f ]] || fail "$f not installed"
done
unit=$prefix/lib/systemd/system/caseline.service
grep -qx "ExecStart=$prefix/bin/caseline serve --data /var/lib/caseline" "$unit" ||
  fail "the unit does not run the installed binary"
for line in User=caseline ProtectSystem=strict ReadWritePaths=/var/lib/caseline NoNewPrivileges=yes; do
  grep -qx "$line" "$unit" || fail "the unit lacks $line"
done
if grep -q "$source_dir" "$unit"; then fail "the unit names the source tree"; fi

# The server, in a private mount namespace where the source tree (and the build tree inside it)
# is an empty folder. Where mounts cannot be made private (inside a chroot, whose / is no mount
# point) the tree is not hidden, never a tmpfs that could reach the host's namespace: the binary
# still runs from / with no variable, and an installed binary never falls back to the tree.
if unshare --mount --propagation private -- true 2>/dev/null; then
  hide=(unshare --mount --propagation private -- sh -c 'mount -t tmpfs none "$1" && shift && exec "$@"' sh "$source_dir")
else
  echo "install_test: no private mount namespace here: the source tree stays visible"
  hide=()
fi
coproc server {
  cd /
  exec "${hide[@]}" env -i PATH=/usr/bin:/bin "$prefix/bin/caseline" serve --listen 127.0.0.1:0 --data "$prefix/data" 2>&1
}
server_pid=$server_PID
address=
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)) && IFS= read -r -t $((deadline - SECONDS)) line <&"${server[0]}"; do
  echo "server: $line"
  if [[ $line =~ listening\ on\ http://([0-9.]+:[0-9]+) ]]; then
    address=${BASH_REMATCH[1]}
    break
  fi
done
[[ -n $address ]] || fail "the installed server did not start"
[[ $line == *"data $prefix/data"* ]] || fail "unexpected start line: $line"
health=$(curl -sS --max-time 10 "http://$address/healthz") || fail "no answer on /healthz"
echo "healthz: $health"
[[ $health == *ok* ]] || fail "/healthz answered: $health"

# The first start hands out one admin token; with it, tokens are administered while it runs.
boot=
while ((SECONDS < deadline)) && IFS= read -r -t $((deadline - SECONDS)) line <&"${server[0]}"; do
  if [[ $line =~ ^bootstrap\ admin\ token.*:\ (clt_[0-9a-f]{64})$ ]]; then boot=${BASH_REMATCH[1]}; break; fi
done
[[ -n $boot ]] || fail "the first start printed no bootstrap admin token"
# The rest of its log (a line a request) is read as it comes: it never blocks on a full pipe.
# (A coprocess's descriptors do not reach a subshell; a copy of one does.)
exec {server_out}<&"${server[0]}"
sed 's/^/server: /' <&"$server_out" &
caseline=("$prefix/bin/caseline")
agent=$("${caseline[@]}" token create --url "http://$address" --token "$boot" --role agent \
  --center 410100 --expires 1h 2>/dev/null) || fail "token create through the server"
[[ $agent =~ ^clt_[0-9a-f]{64}$ ]] || fail "token create printed: $agent"
status() { curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $1" "http://$address/v1/cases"; }
[[ $(status "$agent") == 200 ]] || fail "the new token is refused"
listed=$("${caseline[@]}" token list --url "http://$address" --token "$boot") || fail "token list"
[[ $listed != *clt_* ]] || fail "token list shows a secret"
id=$(python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin)["tokens"] if t["role"]=="agent"][0])' <<<"$listed")
"${caseline[@]}" token revoke --url "http://$address" --token "$boot" "$id" >/dev/null || fail "token revoke"
[[ $(status "$agent") == 401 ]] || fail "a revoked token is still accepted"
# Without a token at all: through the running server's admin socket in its data folder.
admin=$(cd / && env -i PATH=/usr/bin:/bin "${caseline[@]}" token create --data "$prefix/data" \
  --role admin --center 410000 2>/dev/null) || fail "token create through the data folder"
[[ $admin =~ ^clt_[0-9a-f]{64}$ ]] || fail "token create through the data folder printed: $admin"
admin_status=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $admin" \
  "http://$address/v1/admin/tokens")
[[ $admin_status == 200 ]] || fail "the admin token made through the data folder: $admin_status"

kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not stop cleanly (exit $?)"
server_pid=
echo "install_test: installed caseline started from $prefix and answered /healthz"

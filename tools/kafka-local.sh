#!/usr/bin/env bash
# kafka-local.sh - a throwaway Apache Kafka (KRaft) on 127.0.0.1, for development and for the
# integration tests: one node by default, or a cluster of several. No Docker, no mock broker.
#
#   tools/kafka-local.sh fetch              resolve the pinned Kafka jars once (needs Maven Central)
#   tools/kafka-local.sh start [--brokers N] [--state DIR]
#                                           start N brokers (default 1), print KAFKA_STATE=DIR and
#                                           KAFKA_BOOTSTRAP=127.0.0.1:PORT[,127.0.0.1:PORT...],
#                                           run in the foreground until SIGINT/SIGTERM or `stop`,
#                                           then stop them all
#   tools/kafka-local.sh run [--brokers N] [--state DIR] -- CMD ARGS...
#                                           start, run CMD with KAFKA_BOOTSTRAP and KAFKA_STATE
#                                           exported, stop; exits with CMD's exit code
#   tools/kafka-local.sh stop [--state DIR] stop the brokers a `start` or `run` holds (and it)
#   tools/kafka-local.sh stop-broker I [--kill] [--state DIR]
#                                           stop node I (1..N) of a running cluster: SIGTERM (a
#                                           controlled shutdown), or SIGKILL with --kill; returns
#                                           once its JVM is gone
#   tools/kafka-local.sh start-broker I [--state DIR]
#                                           start node I again on its ports and data; returns once
#                                           it answers on its own port and lists itself
#
# --state DIR is the folder of a running start (its KAFKA_STATE line); stop, stop-broker and
# start-broker also take it from $KAFKA_STATE, which `run` exports to CMD. start and run never
# read $KAFKA_STATE (a private cluster started inside `run` must not take over the outer one's
# folder): without --state they make a fresh folder under $TMPDIR; with it, DIR must not exist
# or be empty. Either way the folder is removed when the brokers stop (unless KAFKA_KEEP_WORK=1).
#
# With N >= 2 every node is one JVM that is both broker and controller (why: see "Why" below),
# topics default to replication factor min(3, N) and min.insync.replicas min(2, that), and so do
# Kafka's internal topics.
#
# Environment (all optional):
#   KAFKA_CACHE          jar cache (default <repo>/.cache/kafka, ignored by git)
#   KAFKA_VERSION        pinned broker release (default below; not 4.0.0, whose dropped JoinGroup
#                        versions break librdkafka 2.0.x)
#   KAFKA_HEAP_OPTS      the brokers' heap flags (default -Xms256m -Xmx768m for one broker,
#                        -Xms128m -Xmx512m each for a cluster)
#   KAFKA_CLUSTER_JVM_OPTS added for a cluster's JVMs (default -XX:TieredStopAtLevel=1)
#   KAFKA_START_TIMEOUT  seconds to wait for the brokers to answer metadata (default 180)
#   KAFKA_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL when stopping (default 30)
#   KAFKA_CMD_STOP_TIMEOUT seconds between SIGTERM and SIGKILL for CMD after a signal (default 10)
#   KAFKA_KEEP_WORK=1    keep the brokers' data and logs folder after they stop
#   KAFKA_BOOTSTRAP_FILE `start` writes KAFKA_BOOTSTRAP=... there once ready (for callers that
#                        run it in the background) and removes it when the brokers stop
#   KAFKA_JAVA           java binary (default $JAVA_HOME/bin/java or java; needs 17+)
#
# Guarantees: the JVMs are stopped (SIGTERM for a controlled shutdown, then SIGKILL) whether CMD
# succeeds, fails or the script is interrupted; a watchdog also kills them (a node restarted by
# start-broker too) if the launcher itself dies without running its traps (SIGKILL). Needs java,
# kcat (readiness probe), flock, setsid, and mvn for the first fetch only.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.2.2}"
LOG4J2_VERSION="${LOG4J2_VERSION:-2.25.3}"
DEPENDENCY_PLUGIN_VERSION=3.6.1   # pinned: Maven 3.8.7 would pick an old default (2.8)

_kl_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_CACHE="${KAFKA_CACHE:-$_kl_repo_root/.cache/kafka}"
KAFKA_LIBS="$KAFKA_CACHE/kafka-$KAFKA_VERSION/libs"
KAFKA_JAVA="${KAFKA_JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:-}"   # default by broker count: _kl_heap_opts
# As bin/kafka-run-class.sh's performance options, minus GC logging and JMX.
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}"
# A cluster's JVMs also compile with C1 only: three JVMs warming up on 2 cores start in about
# 15 s instead of 25 s; a broker for tests does not need C2's peak throughput.
KAFKA_CLUSTER_JVM_OPTS="${KAFKA_CLUSTER_JVM_OPTS:--XX:TieredStopAtLevel=1}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-180}"   # a cold JVM on 2 busy cores is slow
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_CMD_STOP_TIMEOUT="${KAFKA_CMD_STOP_TIMEOUT:-10}"

_kl_log() { echo "kafka-local: $*" >&2; }
_kl_die() { _kl_log "$*"; exit 1; }

# ---------------------------------------------------------------------------------------- fetch

_kl_pom() {
  cat <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.caseline</groupId><artifactId>kafka-broker-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencyManagement><dependencies><dependency>
    <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-bom</artifactId>
    <version>${LOG4J2_VERSION}</version><type>pom</type><scope>import</scope>
  </dependency></dependencies></dependencyManagement>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <!-- the release tarball adds this binding; the published pom does not (Kafka 4.x: SLF4J 1.7) -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><scope>runtime</scope></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><scope>runtime</scope></dependency>
  </dependencies>
</project>
POM
}

# Resolves the broker's runtime classpath into $KAFKA_LIBS once; later calls do nothing and need
# no network. Serialised with flock so that concurrent first runs do not race.
kafka_fetch() {
  [[ -f "$KAFKA_LIBS/.complete" ]] && return 0
  mkdir -p "$KAFKA_CACHE"
  exec 8>"$KAFKA_CACHE/.fetch.lock"
  flock 8
  if [[ -f "$KAFKA_LIBS/.complete" ]]; then exec 8>&-; return 0; fi
  command -v mvn >/dev/null 2>&1 || _kl_die "mvn not found (needed once to fetch Kafka $KAFKA_VERSION)"
  local work staging
  work="$(mktemp -d "$KAFKA_CACHE/fetch.XXXXXX")"
  staging="$work/libs"
  _kl_pom >"$work/pom.xml"
  _kl_log "resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION into $KAFKA_LIBS"
  if ! mvn -B -q -Dstyle.color=never -f "$work/pom.xml" -Dmaven.repo.local="$KAFKA_CACHE/m2" \
      "org.apache.maven.plugins:maven-dependency-plugin:$DEPENDENCY_PLUGIN_VERSION:copy-dependencies" \
      -DoutputDirectory="$staging" -DincludeScope=runtime >&2; then
    rm -rf "$work"
    _kl_die "Maven could not resolve Kafka $KAFKA_VERSION (is Maven Central reachable?)"
  fi
  [[ -f "$staging/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$work"; _kl_die "kafka_2.13-$KAFKA_VERSION.jar missing after fetch"; }
  compgen -G "$staging/log4j-slf4j-impl-*.jar" >/dev/null || { rm -rf "$work"; _kl_die "no SLF4J->log4j2 binding after fetch"; }
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  mv "$staging" "$KAFKA_LIBS"       # whole folder appears at once: no half-filled classpath
  rm -rf "$work"
  touch "$KAFKA_LIBS/.complete"
  exec 8>&-
  _kl_log "Kafka $KAFKA_VERSION cached ($(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars)"
}

# ---------------------------------------------------------------------------------------- start

KAFKA_BROKERS=1   # nodes of the cluster; set by --brokers, or read from the state folder

# Why a cluster's nodes are combined broker+controller JVMs: separate controllers would be three
# more JVMs (six in all) on a 2-core machine, about twice the start time and memory, and nothing
# more to test, since what the tests exercise is a broker going away. A static quorum of the N
# combined nodes still survives one node down (2 of 3 voters are a majority), which is exactly
# what stop-broker makes. A production cluster separates them so that broker load cannot starve
# the quorum; this script is for development and tests.

_kl_free_port() {   # the kernel picks; the tiny race with another process is handled by retries
  local p
  if p="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null)" && [[ -n "$p" ]]; then
    echo "$p"; return 0
  fi
  local _i
  for _i in $(seq 1 100); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

_kl_java_major() {
  "$KAFKA_JAVA" -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n1
}

_kl_heap_opts() {
  if [[ -n "$KAFKA_HEAP_OPTS" ]]; then
    echo "$KAFKA_HEAP_OPTS"
  elif ((KAFKA_BROKERS == 1)); then
    echo "-Xms256m -Xmx768m"
  else
    echo "-Xms128m -Xmx512m"   # three JVMs side by side: each stays small
  fi
}

# A node's folder (server.properties, data/, logs/, kafka.pid): the state folder itself for a
# single broker (as it always was), node-I inside it for a cluster.
_kl_node_dir() {
  if ((KAFKA_BROKERS == 1)); then echo "$KAFKA_WORK"; else echo "$KAFKA_WORK/node-$1"; fi
}

_kl_node_pid() { cat "$(_kl_node_dir "$1")/kafka.pid" 2>/dev/null || true; }

# Alive and not a zombie (a node restarted by start-broker is nobody's child once that command
# exits, and PID 1 of a container may never reap it).
_kl_alive() {
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
  [[ "$state" != Z ]]
}

# server.properties of node $1 (broker port $2, controller port $3) with the quorum $4.
_kl_server_properties() {
  local id=$1 port=$2 cport=$3 voters=$4
  local rf=$((KAFKA_BROKERS < 3 ? KAFKA_BROKERS : 3))
  local isr=$((rf < 2 ? rf : 2))
  cat <<PROPS
# node $id of $KAFKA_BROKERS: KRaft, combined broker+controller, static quorum
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$(_kl_node_dir "$id")/data
# our code creates its topics (with retention and partition count it checks)
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
# small machine: few threads, small segments so many test topics stay cheap
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.segment.bytes=16777216
PROPS
  if ((KAFKA_BROKERS > 1)); then
    # A killed node (stop-broker --kill) is fenced after 6 s instead of 9 s, so its partitions
    # get new leaders well within a producer's 10 s delivery timeout.
    printf '%s\n' broker.heartbeat.interval.ms=1000 broker.session.timeout.ms=6000
  fi
}

_kl_write_log4j() {
  cat >"$KAFKA_WORK/log4j2.properties" <<'L4J'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
L4J
  cat >"$KAFKA_WORK/tools-log4j2.properties" <<'L4J'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
L4J
}

# How many brokers the cluster's metadata lists (0 when none answers).
_kl_metadata_brokers() {
  timeout 20 kcat -b "$KAFKA_BOOTSTRAP" -L -J -m 5 2>/dev/null |
    grep -o '"brokers":\[[^]]*\]' | grep -o '"id":' | wc -l
}

# 0 when node $1 itself answers a Metadata request on its own port and lists itself among the
# brokers: its JVM serves and the controller has it registered and unfenced. (Asking the cluster
# alone is not enough after a SIGKILL: the dead node stays listed until its session times out.)
_kl_node_serves() {
  local address
  address="$(cut -d, -f"$1" <<<"$KAFKA_BOOTSTRAP")"
  timeout 20 kcat -b "$address" -L -J -m 5 2>/dev/null |
    grep "\"originating_broker\":{\"id\":$1," | grep -q "{\"id\":$1,\"name\":\"$address\"}"
}

# 0 when a Metadata request is answered with every broker of the cluster.
kafka_ready() {
  (($(_kl_metadata_brokers) >= KAFKA_BROKERS))
}

# Starts node $1's JVM in the background (detached into its own session with $2 = setsid), its
# output to its log file only: it must never hold a pipe of whoever runs us.
_kl_launch_node() {
  local dir
  dir="$(_kl_node_dir "$1")"
  local extra=""
  ((KAFKA_BROKERS == 1)) || extra=$KAFKA_CLUSTER_JVM_OPTS
  # shellcheck disable=SC2046,SC2086  # word splitting of the option strings is intended
  ${2:-} "$KAFKA_JAVA" $(_kl_heap_opts) $KAFKA_JVM_OPTS $extra \
      -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$KAFKA_WORK/log4j2.properties" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
      </dev/null >>"$dir/logs/server.log" 2>&1 &
  echo "$!" >"$dir/kafka.pid"
}

# SIGTERM to every pid given (controlled shutdowns run side by side), SIGKILL to those still
# there after KAFKA_STOP_TIMEOUT, then reaped where they are our children.
_kl_stop_pids() {
  local pid live=()
  for pid in "$@"; do
    if _kl_alive "$pid"; then kill -TERM "$pid" 2>/dev/null && live+=("$pid"); fi
  done
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  for pid in "${live[@]}"; do
    while _kl_alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
    if _kl_alive "$pid"; then
      _kl_log "broker pid $pid did not stop in ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

_kl_all_node_pids() {
  local i
  for ((i = 1; i <= KAFKA_BROKERS; i++)); do _kl_node_pid "$i"; done
}

_kl_start_watchdog() {   # kills the JVMs if this script dies without running its traps
  local launcher=$$ stop_timeout=$KAFKA_STOP_TIMEOUT work=$KAFKA_WORK n=$KAFKA_BROKERS
  local keep=${KAFKA_KEEP_WORK:-0}
  (
    trap '' INT
    KAFKA_STOP_TIMEOUT=$stop_timeout KAFKA_WORK=$work KAFKA_BROKERS=$n
    while kill -0 "$launcher" 2>/dev/null; do sleep 2; done
    # The pid files are read now: a node restarted by start-broker is stopped too.
    # shellcheck disable=SC2046  # one pid per word
    _kl_stop_pids $(_kl_all_node_pids)
    [[ "$keep" == 1 ]] || rm -rf "$work"
  ) </dev/null >/dev/null 2>&1 &
  _kl_watchdog_pid=$!
}

# 22 characters of base64url over 16 random bytes, as StorageTool random-uuid prints (never
# starting with '-', which the tool would read as an option).
_kl_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    [[ "$id" == -* ]] || break
  done
  echo "$id"
}

# One attempt; returns 2 when a broker lost a port race and a retry with new ports may work.
_kl_start_once() {
  local i ports=() p
  for ((i = 1; i <= 2 * KAFKA_BROKERS; i++)); do
    p="$(_kl_free_port)" || _kl_die "no free port"
    while [[ " ${ports[*]} " == *" $p "* ]]; do p="$(_kl_free_port)" || _kl_die "no free port"; done
    ports+=("$p")
  done
  # node I: broker port ports[I-1], controller port ports[N+I-1]
  local voters="" bootstrap="" dir
  for ((i = 1; i <= KAFKA_BROKERS; i++)); do
    voters+="${voters:+,}$i@127.0.0.1:${ports[KAFKA_BROKERS + i - 1]}"
    bootstrap+="${bootstrap:+,}127.0.0.1:${ports[i - 1]}"
  done
  KAFKA_BOOTSTRAP="$bootstrap"
  KAFKA_PORT="${ports[0]}"
  echo "$KAFKA_BOOTSTRAP" >"$KAFKA_WORK/bootstrap"

  local cluster_id format_pids=()
  cluster_id="$(_kl_cluster_id)"
  for ((i = 1; i <= KAFKA_BROKERS; i++)); do
    dir="$(_kl_node_dir "$i")"
    rm -rf "$dir/data" "$dir/logs" "$dir/stopped"
    mkdir -p "$dir/data" "$dir/logs"
    _kl_server_properties "$i" "${ports[i - 1]}" "${ports[KAFKA_BROKERS + i - 1]}" "$voters" \
      >"$dir/server.properties"
    # static quorum (controller.quorum.voters) => no --standalone; nodes formatted side by side
    "$KAFKA_JAVA" -Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -Xshare:auto \
        -Dlog4j2.configurationFile="$KAFKA_WORK/tools-log4j2.properties" -cp "$KAFKA_LIBS/*" \
        kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
        >"$dir/logs/format.log" 2>&1 &
    format_pids+=($!)
  done
  for ((i = 1; i <= KAFKA_BROKERS; i++)); do
    wait "${format_pids[i - 1]}" || {
      cat "$(_kl_node_dir "$i")/logs/format.log" >&2
      _kl_die "storage format failed"
    }
  done

  for ((i = 1; i <= KAFKA_BROKERS; i++)); do _kl_launch_node "$i"; done
  KAFKA_PID="$(_kl_node_pid 1)"

  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until kafka_ready; do
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do
      _kl_alive "$(_kl_node_pid "$i")" && continue
      dir="$(_kl_node_dir "$i")"
      # shellcheck disable=SC2046  # one pid per word
      _kl_stop_pids $(_kl_all_node_pids)
      if grep -q 'Address already in use' "$dir/logs/server.log"; then return 2; fi
      tail -n 60 "$dir/logs/server.log" >&2 || true
      _kl_die "broker $i exited during startup (log above)"
    done
    if ((SECONDS >= deadline)); then
      tail -n 60 "$(_kl_node_dir 1)/logs/server.log" >&2 || true
      _kl_log "brokers not ready after ${KAFKA_START_TIMEOUT}s"
      kafka_stop
      exit 1
    fi
    sleep 1
  done
  return 0
}

# The state folder: DIR from --state (created; it must not exist or be empty), or a fresh one.
_kl_make_work() {
  if [[ -n "${1:-}" ]]; then
    mkdir -p "$1"
    [[ -z "$(ls -A "$1")" ]] || _kl_die "state folder $1 is not empty"
    KAFKA_WORK="$(cd "$1" && pwd)"
  else
    KAFKA_WORK="$(mktemp -d "${TMPDIR:-/tmp}/kafka-local.XXXXXX")"
  fi
  echo "$KAFKA_BROKERS" >"$KAFKA_WORK/brokers"
  echo "$$" >"$KAFKA_WORK/launcher.pid"
}

kafka_start() {   # $1: the state folder (--state), may be empty
  kafka_fetch
  local major started=$SECONDS
  major="$(_kl_java_major)"
  [[ -n "$major" && "$major" -ge 17 ]] || _kl_die "Kafka 4.x needs Java 17+, '$KAFKA_JAVA' is '${major:-unknown}'"
  command -v kcat >/dev/null 2>&1 || _kl_die "kcat not found (apt-get install kcat): it is the readiness probe"
  _kl_make_work "${1:-}"
  _kl_write_log4j
  _kl_start_watchdog
  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    _kl_start_once || rc=$?
    [[ $rc -eq 0 ]] && break
    [[ $rc -eq 2 && $attempt -lt 3 ]] || _kl_die "brokers could not bind their ports"
    _kl_log "port taken, retrying with other ports"
  done
  export KAFKA_BOOTSTRAP
  KAFKA_STATE="$KAFKA_WORK"
  export KAFKA_STATE
  if ((KAFKA_BROKERS == 1)); then
    _kl_log "Kafka $KAFKA_VERSION ready on $KAFKA_BOOTSTRAP (pid $KAFKA_PID, logs $KAFKA_WORK/logs)"
  else
    _kl_log "Kafka $KAFKA_VERSION: $KAFKA_BROKERS brokers ready on $KAFKA_BOOTSTRAP in $((SECONDS - started))s (pids $(_kl_all_node_pids | paste -sd,), state $KAFKA_WORK)"
  fi
}

# ----------------------------------------------------------------------------------------- stop

# Idempotent: every node SIGTERM (controlled shutdown), SIGKILL after KAFKA_STOP_TIMEOUT, reaped.
kafka_stop() {
  if [[ -n "${KAFKA_WORK:-}" && -d "$KAFKA_WORK" ]]; then
    local pids
    pids="$(_kl_all_node_pids)"
    if [[ -n "$pids" ]]; then
      # shellcheck disable=SC2086  # one pid per word
      _kl_stop_pids $pids
      rm -f "$KAFKA_WORK"/kafka.pid "$KAFKA_WORK"/node-*/kafka.pid
      if ((KAFKA_BROKERS == 1)); then _kl_log "broker stopped"; else _kl_log "brokers stopped"; fi
    fi
  fi
  KAFKA_PID=""
  if [[ -n "${_kl_watchdog_pid:-}" ]]; then
    kill "$_kl_watchdog_pid" 2>/dev/null || true
    wait "$_kl_watchdog_pid" 2>/dev/null || true
    _kl_watchdog_pid=""
  fi
  if [[ -n "${KAFKA_BOOTSTRAP_FILE:-}" ]]; then rm -f "$KAFKA_BOOTSTRAP_FILE"; fi
  if [[ -n "${KAFKA_WORK:-}" && -d "$KAFKA_WORK" ]]; then
    if [[ "${KAFKA_KEEP_WORK:-0}" == 1 ]]; then
      _kl_log "kept $KAFKA_WORK"
    else
      rm -rf "$KAFKA_WORK"
    fi
  fi
  KAFKA_WORK=""
}

# ----------------------------------------------------------------------------------- commands

_kl_cmd_pid=""

_kl_stop_cmd() {
  [[ -n "$_kl_cmd_pid" ]] || return 0
  if kill -0 "$_kl_cmd_pid" 2>/dev/null; then
    kill -TERM "$_kl_cmd_pid" 2>/dev/null || true
    local deadline=$((SECONDS + KAFKA_CMD_STOP_TIMEOUT))
    while kill -0 "$_kl_cmd_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$_kl_cmd_pid" 2>/dev/null || true
  fi
  wait "$_kl_cmd_pid" 2>/dev/null || true
  _kl_cmd_pid=""
}

_kl_on_signal() {   # $1 = signal name, $2 = its number
  trap '' INT TERM HUP
  _kl_log "got SIG$1, stopping"
  _kl_stop_cmd
  kafka_stop
  trap - EXIT
  exit $((128 + $2))
}

_kl_install_traps() {
  trap 'kafka_stop' EXIT
  trap '_kl_on_signal INT 2' INT
  trap '_kl_on_signal TERM 15' TERM
  trap '_kl_on_signal HUP 1' HUP
}

_kl_state_opt=""
_kl_kill_opt=0
# Parses --brokers N, --state DIR and --kill (where the command allows them) into globals;
# leaves the other arguments in _kl_args. For start and run (the ones taking --brokers) options
# end at the first other argument: what follows is CMD's.
_kl_parse() {
  local allowed=$1
  shift
  _kl_args=()
  while (($# > 0)); do
    case "$1" in
      --brokers | --state | --kill)
        [[ " $allowed " == *" $1 "* ]] || _kl_die "$1 is not an option of this command"
        case "$1" in
          --brokers)
            [[ "${2:-}" =~ ^[1-5]$ ]] || _kl_die "--brokers takes 1 to 5"
            KAFKA_BROKERS=$2; shift 2 ;;
          --state)
            [[ -n "${2:-}" ]] || _kl_die "--state takes a folder"
            _kl_state_opt=$2; shift 2 ;;
          --kill) _kl_kill_opt=1; shift ;;
        esac ;;
      --) _kl_args+=("$@"); break ;;
      *)
        if [[ " $allowed " == *" --brokers "* ]]; then _kl_args+=("$@"); break; fi
        _kl_args+=("$1"); shift ;;
    esac
  done
}

cmd_start() {
  _kl_install_traps
  kafka_start "$_kl_state_opt"
  echo "KAFKA_STATE=$KAFKA_WORK"
  echo "KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP"
  if [[ -n "${KAFKA_BOOTSTRAP_FILE:-}" ]]; then
    # written whole, then renamed: a reader never sees half a line
    echo "KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP" >"$KAFKA_BOOTSTRAP_FILE.tmp"
    mv "$KAFKA_BOOTSTRAP_FILE.tmp" "$KAFKA_BOOTSTRAP_FILE"
  fi
  # Until a trapped signal (the trap stops the brokers) or a broker that exits on its own; one
  # stopped by stop-broker leaves a `stopped` mark and may come back by start-broker. The wait
  # on a short sleep lets a signal's trap run at once.
  # The mark is read before the pid and again after a dead pid: stop-broker marks a node before
  # its signal, start-broker writes the new pid before it removes the mark, so a node stopped or
  # restarted between two of these reads is never taken for a crash (reading the pid first took
  # a restart's old, dead pid with its mark already gone, and stopped the whole cluster).
  local i pid rc stopped
  while :; do
    for ((i = 1; i <= KAFKA_BROKERS; i++)); do
      stopped="$(_kl_node_dir "$i")/stopped"
      [[ -e "$stopped" ]] && continue
      pid="$(_kl_node_pid "$i")"
      _kl_alive "$pid" && continue
      [[ -e "$stopped" || "$(_kl_node_pid "$i")" != "$pid" ]] && continue
      rc=0
      wait "$pid" 2>/dev/null || rc=$?
      tail -n 40 "$(_kl_node_dir "$i")/logs/server.log" >&2 || true
      _kl_die "broker $i exited on its own (status $rc)"
    done
    sleep 1 &
    wait $! || true
  done
}

cmd_run() {
  (($# > 0)) || _kl_die "usage: $0 run [--brokers N] [--state DIR] -- CMD [ARGS...]"
  _kl_install_traps
  kafka_start "$_kl_state_opt"
  echo "KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP" >&2
  # CMD runs in the background so that a signal to this script is handled at once (a foreground
  # child would delay the trap until it exits). Background children of a script get stdin from
  # /dev/null and SIGINT ignored: give back the real stdin and the default SIGINT.
  exec 9<&0
  env --default-signal=INT,QUIT "$@" <&9 9<&- &
  _kl_cmd_pid=$!
  local rc=0
  wait "$_kl_cmd_pid" || rc=$?
  _kl_cmd_pid=""
  kafka_stop
  trap - EXIT
  exit "$rc"
}

# The running cluster named by --state or $KAFKA_STATE: sets KAFKA_WORK, KAFKA_BROKERS and
# KAFKA_BOOTSTRAP from its folder.
_kl_attach() {
  local dir="${_kl_state_opt:-${KAFKA_STATE:-}}"
  [[ -n "$dir" ]] || _kl_die "which cluster? give --state DIR (the KAFKA_STATE line of start)"
  [[ -f "$dir/brokers" && -f "$dir/bootstrap" ]] || _kl_die "$dir is not the folder of a running start"
  KAFKA_WORK="$(cd "$dir" && pwd)"
  KAFKA_BROKERS="$(cat "$KAFKA_WORK/brokers")"
  KAFKA_BOOTSTRAP="$(cat "$KAFKA_WORK/bootstrap")"
}

_kl_node_arg() {   # $1: the node number argument
  [[ "${1:-}" =~ ^[1-9]$ ]] && (($1 <= KAFKA_BROKERS)) ||
    _kl_die "node number 1..$KAFKA_BROKERS expected, got '${1:-}'"
}

cmd_stop() {
  _kl_attach
  local launcher
  launcher="$(cat "$KAFKA_WORK/launcher.pid" 2>/dev/null || true)"
  _kl_alive "$launcher" || _kl_die "no start or run holds $KAFKA_WORK"
  kill -TERM "$launcher"
  # the launcher stops the brokers (each within KAFKA_STOP_TIMEOUT) and then exits
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT + KAFKA_CMD_STOP_TIMEOUT + 10))
  while _kl_alive "$launcher"; do
    ((SECONDS < deadline)) || _kl_die "the launcher (pid $launcher) did not exit"
    sleep 0.2
  done
  _kl_log "stopped"
}

cmd_stop_broker() {   # $1: node
  _kl_attach
  _kl_node_arg "${1:-}"
  local dir pid
  dir="$(_kl_node_dir "$1")"
  pid="$(_kl_node_pid "$1")"
  _kl_alive "$pid" || _kl_die "broker $1 is not running"
  touch "$dir/stopped"   # before the signal: the launcher must not take this for a crash
  if ((_kl_kill_opt)); then
    kill -KILL "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
    while _kl_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    ! _kl_alive "$pid" || _kl_die "broker $1 (pid $pid) survived SIGKILL"
  else
    _kl_stop_pids "$pid"
  fi
  _kl_log "broker $1 stopped (pid $pid)"
}

cmd_start_broker() {   # $1: node
  _kl_attach
  _kl_node_arg "${1:-}"
  local dir started=$SECONDS
  dir="$(_kl_node_dir "$1")"
  ! _kl_alive "$(_kl_node_pid "$1")" || _kl_die "broker $1 is running"
  # Its own session: a signal to whoever runs this command must not reach the broker, which
  # outlives it (the launcher's watchdog and `stop` read its pid from the node's folder).
  _kl_launch_node "$1" setsid
  rm -f "$dir/stopped"
  local pid deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  pid="$(_kl_node_pid "$1")"
  until _kl_node_serves "$1"; do
    if ! _kl_alive "$pid"; then
      touch "$dir/stopped"
      tail -n 60 "$dir/logs/server.log" >&2 || true
      _kl_die "broker $1 exited during startup (log above)"
    fi
    if ((SECONDS >= deadline)); then
      _kl_stop_pids "$pid"
      touch "$dir/stopped"
      _kl_die "broker $1 not in the cluster's metadata after ${KAFKA_START_TIMEOUT}s (stopped again)"
    fi
    sleep 0.5
  done
  _kl_log "broker $1 back in $((SECONDS - started))s (pid $pid)"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  command="${1:-}"
  (($# > 0)) && shift
  case "$command" in
    fetch) kafka_fetch ;;
    start)
      _kl_parse "--brokers --state" "$@"
      ((${#_kl_args[@]} == 0)) || _kl_die "start takes no argument '${_kl_args[0]}'"
      cmd_start ;;
    run)
      _kl_parse "--brokers --state" "$@"
      set -- "${_kl_args[@]}"
      [[ "${1:-}" == "--" ]] && shift
      cmd_run "$@" ;;
    stop)
      _kl_parse "--state" "$@"
      cmd_stop ;;
    stop-broker)
      _kl_parse "--state --kill" "$@"
      cmd_stop_broker "${_kl_args[@]}" ;;
    start-broker)
      _kl_parse "--state" "$@"
      cmd_start_broker "${_kl_args[@]}" ;;
    *)
      echo "usage: $0 fetch | start [--brokers N] [--state DIR] | run [--brokers N] [--state DIR] -- CMD [ARGS...]" >&2
      echo "       $0 stop [--state DIR] | stop-broker I [--kill] [--state DIR] | start-broker I [--state DIR]" >&2
      exit 2 ;;
  esac
fi

#!/usr/bin/env bash
# kafka-local.sh - a throwaway single-node Apache Kafka (KRaft, broker+controller in one JVM) on
# 127.0.0.1, for development and for the integration tests. No Docker, no mock broker.
#
#   tools/kafka-local.sh fetch              resolve the pinned Kafka jars once (needs Maven Central)
#   tools/kafka-local.sh start              start a broker, print KAFKA_BOOTSTRAP=127.0.0.1:PORT,
#                                           run in the foreground until SIGINT/SIGTERM, then stop
#   tools/kafka-local.sh run -- CMD ARGS... start, run CMD with KAFKA_BOOTSTRAP exported, stop;
#                                           exits with CMD's exit code
#
# Environment (all optional):
#   KAFKA_CACHE          jar cache (default <repo>/.cache/kafka, ignored by git)
#   KAFKA_VERSION        pinned broker release (default below; not 4.0.0, whose dropped JoinGroup
#                        versions break librdkafka 2.0.x)
#   KAFKA_START_TIMEOUT  seconds to wait for the broker to answer metadata (default 180)
#   KAFKA_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL when stopping (default 30)
#   KAFKA_CMD_STOP_TIMEOUT seconds between SIGTERM and SIGKILL for CMD after a signal (default 10)
#   KAFKA_KEEP_WORK=1    keep the broker's data and logs folder after it stops
#   KAFKA_BOOTSTRAP_FILE `start` writes KAFKA_BOOTSTRAP=... there once ready (for callers that
#                        run it in the background) and removes it when the broker stops
#   KAFKA_JAVA           java binary (default $JAVA_HOME/bin/java or java; needs 17+)
#
# Guarantees: the JVM is stopped (SIGTERM for a controlled shutdown, then SIGKILL) whether CMD
# succeeds, fails or the script is interrupted; a watchdog also kills it if this script itself
# dies without running its traps (SIGKILL). Needs java, kcat (readiness probe), flock, and mvn for
# the first fetch only.
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-4.2.2}"
LOG4J2_VERSION="${LOG4J2_VERSION:-2.25.3}"
DEPENDENCY_PLUGIN_VERSION=3.6.1   # pinned: Maven 3.8.7 would pick an old default (2.8)

_kl_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_CACHE="${KAFKA_CACHE:-$_kl_repo_root/.cache/kafka}"
KAFKA_LIBS="$KAFKA_CACHE/kafka-$KAFKA_VERSION/libs"
KAFKA_JAVA="${KAFKA_JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
# As bin/kafka-run-class.sh's performance options, minus GC logging and JMX.
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}"
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

_kl_write_configs() {
  cat >"$KAFKA_WORK/server.properties" <<PROPS
# single-node KRaft, combined broker+controller, static quorum
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${KAFKA_WORK}/data
# our code creates its topics (with retention and partition count it checks)
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# small machine: few threads, small segments so many test topics stay cheap
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.segment.bytes=16777216
PROPS
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

# 0 when a Metadata request is answered with at least one broker.
kafka_ready() {
  timeout 20 kcat -b "$KAFKA_BOOTSTRAP" -L -J -m 5 2>/dev/null | grep -q '"brokers":\[{'
}

_kl_start_watchdog() {   # kills the JVM if this script dies without running its traps
  local launcher=$$ jvm=$KAFKA_PID stop_timeout=$KAFKA_STOP_TIMEOUT work=$KAFKA_WORK
  local keep=${KAFKA_KEEP_WORK:-0}
  (
    trap '' INT
    while kill -0 "$launcher" 2>/dev/null; do
      kill -0 "$jvm" 2>/dev/null || exit 0
      sleep 2
    done
    if kill -TERM "$jvm" 2>/dev/null; then
      for _ in $(seq 1 "$stop_timeout"); do kill -0 "$jvm" 2>/dev/null || break; sleep 1; done
      kill -KILL "$jvm" 2>/dev/null || true
    fi
    while kill -0 "$jvm" 2>/dev/null; do sleep 0.2; done
    [[ "$keep" == 1 ]] || rm -rf "$work"
  ) </dev/null >/dev/null 2>&1 &
  _kl_watchdog_pid=$!
}

# One attempt; returns 2 when the broker lost a port race and a retry with new ports may work.
_kl_start_once() {
  rm -rf "$KAFKA_WORK/data" "$KAFKA_WORK/logs"
  mkdir -p "$KAFKA_WORK/data" "$KAFKA_WORK/logs"
  KAFKA_PORT="$(_kl_free_port)" || _kl_die "no free port"
  KAFKA_CONTROLLER_PORT="$(_kl_free_port)" || _kl_die "no free port"
  while [[ "$KAFKA_CONTROLLER_PORT" == "$KAFKA_PORT" ]]; do
    KAFKA_CONTROLLER_PORT="$(_kl_free_port)" || _kl_die "no free port"
  done
  KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
  _kl_write_configs

  local tools=(-Xms64m -Xmx256m -XX:TieredStopAtLevel=1 -Xshare:auto
               -Dlog4j2.configurationFile="$KAFKA_WORK/tools-log4j2.properties" -cp "$KAFKA_LIBS/*")
  local cluster_id
  cluster_id="$("$KAFKA_JAVA" "${tools[@]}" kafka.tools.StorageTool random-uuid 2>"$KAFKA_WORK/logs/uuid.log" | tail -n1)"
  [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || { cat "$KAFKA_WORK/logs/uuid.log" >&2; _kl_die "bad cluster id '$cluster_id'"; }
  # static quorum (controller.quorum.voters) => no --standalone
  "$KAFKA_JAVA" "${tools[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$KAFKA_WORK/server.properties" >"$KAFKA_WORK/logs/format.log" 2>&1 \
    || { cat "$KAFKA_WORK/logs/format.log" >&2; _kl_die "storage format failed"; }

  # The JVM's output goes to a file only: it must never hold a pipe of whoever runs us.
  # shellcheck disable=SC2086  # word splitting of the option strings is intended
  "$KAFKA_JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS \
      -Dkafka.logs.dir="$KAFKA_WORK/logs" -Dlog4j2.configurationFile="$KAFKA_WORK/log4j2.properties" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_WORK/server.properties" \
      </dev/null >"$KAFKA_WORK/logs/server.log" 2>&1 &
  KAFKA_PID=$!
  echo "$KAFKA_PID" >"$KAFKA_WORK/kafka.pid"
  _kl_start_watchdog

  local deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until kafka_ready; do
    if ! kill -0 "$KAFKA_PID" 2>/dev/null; then
      wait "$KAFKA_PID" 2>/dev/null || true
      KAFKA_PID=""
      if grep -q 'Address already in use' "$KAFKA_WORK/logs/server.log"; then return 2; fi
      tail -n 60 "$KAFKA_WORK/logs/server.log" >&2 || true
      _kl_die "broker exited during startup (log above)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 60 "$KAFKA_WORK/logs/server.log" >&2 || true
      _kl_log "broker not ready after ${KAFKA_START_TIMEOUT}s"
      kafka_stop
      exit 1
    fi
    sleep 1
  done
  return 0
}

kafka_start() {
  kafka_fetch
  local major
  major="$(_kl_java_major)"
  [[ -n "$major" && "$major" -ge 17 ]] || _kl_die "Kafka 4.x needs Java 17+, '$KAFKA_JAVA' is '${major:-unknown}'"
  command -v kcat >/dev/null 2>&1 || _kl_die "kcat not found (apt-get install kcat): it is the readiness probe"
  KAFKA_WORK="$(mktemp -d "${TMPDIR:-/tmp}/kafka-local.XXXXXX")"
  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    _kl_start_once || rc=$?
    [[ $rc -eq 0 ]] && break
    [[ $rc -eq 2 && $attempt -lt 3 ]] || _kl_die "broker could not bind its ports"
    _kl_log "port taken, retrying with other ports"
  done
  export KAFKA_BOOTSTRAP
  _kl_log "Kafka $KAFKA_VERSION ready on $KAFKA_BOOTSTRAP (pid $KAFKA_PID, logs $KAFKA_WORK/logs)"
}

# ----------------------------------------------------------------------------------------- stop

# Idempotent: SIGTERM (controlled shutdown), SIGKILL after KAFKA_STOP_TIMEOUT, then reap.
kafka_stop() {
  if [[ -n "${KAFKA_PID:-}" ]]; then
    if kill -0 "$KAFKA_PID" 2>/dev/null; then
      kill -TERM "$KAFKA_PID" 2>/dev/null || true
      local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
      while kill -0 "$KAFKA_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
      if kill -0 "$KAFKA_PID" 2>/dev/null; then
        _kl_log "broker did not stop in ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
        kill -KILL "$KAFKA_PID" 2>/dev/null || true
      fi
    fi
    wait "$KAFKA_PID" 2>/dev/null || true
    KAFKA_PID=""
    _kl_log "broker stopped"
  fi
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

cmd_start() {
  _kl_install_traps
  kafka_start
  echo "KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP"
  if [[ -n "${KAFKA_BOOTSTRAP_FILE:-}" ]]; then
    # written whole, then renamed: a reader never sees half a line
    echo "KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP" >"$KAFKA_BOOTSTRAP_FILE.tmp"
    mv "$KAFKA_BOOTSTRAP_FILE.tmp" "$KAFKA_BOOTSTRAP_FILE"
  fi
  # wait returns when a trapped signal arrives (the trap then stops the broker) or the JVM dies.
  local rc=0
  wait "$KAFKA_PID" || rc=$?
  if ! kill -0 "$KAFKA_PID" 2>/dev/null; then
    tail -n 40 "$KAFKA_WORK/logs/server.log" >&2 || true
    KAFKA_PID=""
    _kl_die "broker exited on its own (status $rc)"
  fi
}

cmd_run() {
  (($# > 0)) || _kl_die "usage: $0 run -- CMD [ARGS...]"
  _kl_install_traps
  kafka_start
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

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  case "${1:-}" in
    fetch) kafka_fetch ;;
    start) cmd_start ;;
    run)
      shift
      [[ "${1:-}" == "--" ]] && shift
      cmd_run "$@" ;;
    *)
      echo "usage: $0 fetch | start | run -- CMD [ARGS...]" >&2
      exit 2 ;;
  esac
fi

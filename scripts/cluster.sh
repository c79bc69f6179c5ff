#!/usr/bin/env bash
# Tumen across several machines, on loopback: start | stop | status [COMPONENT...]
#
#   scripts/cluster.sh start              # everything (first run: database, catalog, index)
#   scripts/cluster.sh status             # each component: pid, port, health
#   scripts/cluster.sh stop               # everything this script started
#   scripts/cluster.sh start search2 app1 # bring back components (after a kill -9)
#   scripts/cluster.sh env                # (re)write and print the app's environment (source it for manage.py)
#
# Components, all on 127.0.0.1 (ports overridable, see below), state under var/cluster/:
#   search1..3  a 3-node OpenSearch 2.19 cluster (scripts/search-engine.sh with seed hosts):
#               HTTP 9231-9233, transport 9331-9333, heap CLUSTER_SEARCH_HEAP (512m) each;
#               the index has 1 primary shard and 1 replica
#   app1..2     gunicorn app servers on 8181, 8182 (CLUSTER_APP_WORKERS sync workers each, 3)
#   lb          HAProxy on 8180 (stats page on 8189): round robin over the app servers,
#               health-checking /healthz every second, a server out after 2 failed checks,
#               a refused connection re-sent to the other server at once
#   worker1..3  background-task workers (manage.py db_worker --queue-name '*')
#   PostgreSQL  NOT started or stopped here when one already answers: the database
#               CLUSTER_DATABASE (tumen_cluster) in the server of scripts/postgres.sh
#               (started with it only if nothing answers on its URL)
#
# The app runs with cms.settings.production over plain HTTP (TLS would end at the load
# balancer): SECURE_SSL_REDIRECT and HSTS off, TUMEN_TRUSTED_PROXIES=1 (HAProxy adds
# X-Forwarded-For), sessions in the database (Django's default engine: any app server reads
# any session), uploads in var/cluster/shared/ (one folder both app servers see, standing in
# for shared storage). Loopback-only differences from production, each in var/cluster/env:
# every client is 127.0.0.1, so the per-address rate limit is off; deliveries may go over
# http to loopback (the bench's agency); the delivery lease is 15 s and the sweep 5 s (120 s
# and 60 s by default) so that a killed worker's deliveries come back within a bench run.
#
# First start loads the catalog: CLUSTER_CATALOG=full (default: the demo catalog plus the
# 11,250 services of ../shared/catalog/ when present) or demo. Delete var/cluster/ (after
# stop) and drop the database to start over: scripts/cluster.sh drop.
#
# Environment overrides: CLUSTER_DIR, CLUSTER_DATABASE, CLUSTER_CATALOG, CLUSTER_LB_PORT,
# CLUSTER_LB_STATS_PORT, CLUSTER_APP_PORTS ("8181 8182"), CLUSTER_SEARCH_PORTS
# ("9231 9232 9233"), CLUSTER_TRANSPORT_PORTS ("9331 9332 9333"), CLUSTER_WORKERS (3),
# CLUSTER_APP_WORKERS (3), CLUSTER_SEARCH_HEAP (512m).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${CLUSTER_DIR:-$ROOT/var/cluster}"
PY="$ROOT/.venv/bin/python"
GUNICORN="$ROOT/.venv/bin/gunicorn"
DATABASE="${CLUSTER_DATABASE:-tumen_cluster}"
CATALOG="${CLUSTER_CATALOG:-full}"
SHARED_CATALOG="$ROOT/../shared/catalog"
[[ -d "$SHARED_CATALOG" ]] || SHARED_CATALOG="$(dirname "$ROOT")/../shared/catalog"
LB_PORT="${CLUSTER_LB_PORT:-8180}"
LB_STATS_PORT="${CLUSTER_LB_STATS_PORT:-8189}"
read -r -a APP_PORTS <<<"${CLUSTER_APP_PORTS:-8181 8182}"
read -r -a SEARCH_PORTS <<<"${CLUSTER_SEARCH_PORTS:-9231 9232 9233}"
read -r -a TRANSPORT_PORTS <<<"${CLUSTER_TRANSPORT_PORTS:-9331 9332 9333}"
WORKERS="${CLUSTER_WORKERS:-3}"
APP_WORKERS="${CLUSTER_APP_WORKERS:-3}"
SEARCH_HEAP="${CLUSTER_SEARCH_HEAP:-512m}"
INDEX="tumen_cluster"

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && { exec 3>&- 3<&-; return 0; }; return 1; }

search_urls() {
  local urls=() port
  for port in "${SEARCH_PORTS[@]}"; do urls+=("http://127.0.0.1:$port"); done
  (IFS=,; echo "${urls[*]}")
}

pg_server_url() {
  # The server of scripts/postgres.sh (the shared one when it runs), without a database name.
  local url
  url="$("$ROOT/scripts/postgres.sh" url)"
  echo "${url%/*}"
}

# -- the app's environment ------------------------------------------------------------------------

write_env() {
  mkdir -p "$DIR/shared"
  [[ -s "$DIR/secret_key" ]] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(60))' >"$DIR/secret_key"
  [[ -s "$DIR/health_token" ]] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$DIR/health_token"
  [[ -s "$DIR/admin_password" ]] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(12))' >"$DIR/admin_password"
  # The key that encrypts agencies' secrets at rest (plugins.secrets); production refuses to start without it.
  [[ -s "$DIR/secrets_keys" ]] || "$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' >"$DIR/secrets_keys"
  chmod 600 "$DIR/secret_key" "$DIR/health_token" "$DIR/admin_password" "$DIR/secrets_keys"
  cat >"$DIR/env" <<EOF
# Written by scripts/cluster.sh (every start): the environment of the app servers and workers.
DJANGO_SETTINGS_MODULE=cms.settings.production
SECRET_KEY=$(cat "$DIR/secret_key")
TUMEN_SECRETS_KEYS=$(cat "$DIR/secrets_keys")
ALLOWED_HOSTS=127.0.0.1,localhost
DATABASE_URL=$(pg_server_url)/$DATABASE
SEARCH_URL=$(search_urls)
SEARCH_INDEX=$INDEX
TUMEN_VAR_DIR=$DIR/shared
TUMEN_TRUSTED_PROXIES=1
FORWARDED_ALLOW_IPS=127.0.0.1
SECURE_SSL_REDIRECT=false
SECURE_HSTS_SECONDS=0
TUMEN_HEALTH_TOKEN=$(cat "$DIR/health_token")
ADMIN_USERNAME=admin
ADMIN_PASSWORD=$(cat "$DIR/admin_password")
# Loopback only: every client is 127.0.0.1; the bench's agency listens on http://127.0.0.1.
TUMEN_RATE_PER_IP=0
TUMEN_DELIVERY_ALLOW_HTTP=true
TUMEN_DELIVERY_LEASE_SECONDS=15
TUMEN_DELIVERY_SWEEP_SECONDS=5
# Index creation in a 3-node cluster on a shared 2-core machine can take more than the default 5 s.
SEARCH_TIMEOUT=30
LOG_LEVEL=WARNING
EOF
}

# Run a command with the app's environment (and nothing of the caller's Tumen settings).
with_env() {
  local vars
  mapfile -t vars < <(grep -v '^#' "$DIR/env" | grep .)
  env -u DATABASE_URL -u SEARCH_URL -u SEARCH_INDEX -u DJANGO_SETTINGS_MODULE -u DEBUG "${vars[@]}" "$@"
}

exec_with_env() {
  local vars
  mapfile -t vars < <(grep -v '^#' "$DIR/env" | grep .)
  exec env -u DATABASE_URL -u SEARCH_URL -u SEARCH_INDEX -u DJANGO_SETTINGS_MODULE -u DEBUG "${vars[@]}" "$@"
}

manage() { (cd "$ROOT" && with_env "$PY" manage.py "$@"); }

# -- processes ------------------------------------------------------------------------------------

pid_of() {
  # The pid in var/cluster/<name>.pid, if that process still runs (its own session/group leader).
  local file="$DIR/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# Start "$@" with the app's environment in its own session (kill -9 of the group = the machine
# dying), output to logs/<name>.log; the pid (= the group id) in <name>.pid.
spawn() {
  local name="$1"; shift
  mkdir -p "$DIR/logs"
  # 9>&-: not holding cluster.sh's lock for the rest of its life.
  (cd "$ROOT" && exec_with_env setsid "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null 9>&-) &
  echo $! >"$DIR/$name.pid"
}

stop_group() {
  local name="$1" pid i
  pid="$(pid_of "$name")" || { rm -f "$DIR/$name.pid"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$DIR/$name.pid"
  log "$name stopped"
}

wait_http() {  # url seconds
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    curl -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.25
  done
  return 1
}

# -- components -----------------------------------------------------------------------------------

search_env() {  # node number (1-based)
  local n="$1" seeds=() managers=() i
  for i in "${!TRANSPORT_PORTS[@]}"; do
    seeds+=("127.0.0.1:${TRANSPORT_PORTS[$i]}")
    managers+=("tumen-search-$((i + 1))")
  done
  echo SEARCH_ENGINE_HOME="$DIR/search$n" SEARCH_ENGINE_PORT="${SEARCH_PORTS[$((n - 1))]}" \
    SEARCH_ENGINE_TRANSPORT_PORT="${TRANSPORT_PORTS[$((n - 1))]}" SEARCH_ENGINE_NODE_NAME="tumen-search-$n" \
    SEARCH_ENGINE_CLUSTER_NAME=tumen-cluster SEARCH_ENGINE_SEED_HOSTS="$(IFS=,; echo "${seeds[*]}")" \
    SEARCH_ENGINE_INITIAL_MANAGERS="$(IFS=,; echo "${managers[*]}")" \
    SEARCH_ENGINE_HEAP_MIN="$SEARCH_HEAP" SEARCH_ENGINE_HEAP_MAX="$SEARCH_HEAP" SEARCH_ENGINE_TIMEOUT=300
}

start_search() {  # node numbers; started in parallel (a new cluster needs a majority to form)
  local n pids=() failed=0
  "$ROOT/scripts/search-engine.sh" build
  for n in "$@"; do
    # shellcheck disable=SC2046
    env $(search_env "$n") "$ROOT/scripts/search-engine.sh" start >"$DIR/logs/search$n.start.log" 2>&1 &
    pids+=($!)
  done
  for n in "${!pids[@]}"; do
    wait "${pids[$n]}" || failed=1
    tail -n 1 "$DIR/logs/search$(( $(printf '%s\n' "$@" | sed -n "$((n + 1))p") )).start.log" | sed 's/^/cluster: /' >&2
  done
  [[ $failed == 0 ]] || die "a search node did not start (var/cluster/logs/search*.start.log, var/cluster/search*/logs/)"
}

stop_search() {
  local n
  # shellcheck disable=SC2046
  for n in "$@"; do env $(search_env "$n") "$ROOT/scripts/search-engine.sh" stop 2>/dev/null | sed "s/^/cluster: search$n: /" || true; done
}

start_app() {  # app server numbers
  local n port
  for n in "$@"; do
    port="${APP_PORTS[$((n - 1))]}"
    if pid_of "app$n" >/dev/null; then log "app$n already running"; continue; fi
    port_in_use "$port" && die "port $port (app$n) is taken by something else"
    spawn "app$n" env GUNICORN_BIND="127.0.0.1:$port" GUNICORN_WORKERS="$APP_WORKERS" \
      "$GUNICORN" -c gunicorn.conf.py --access-logfile /dev/null
  done
  for n in "$@"; do
    port="${APP_PORTS[$((n - 1))]}"
    wait_http "http://127.0.0.1:$port/healthz" 60 || die "app$n did not answer on :$port (var/cluster/logs/app$n.log)"
    log "app$n ready on http://127.0.0.1:$port (pid $(pid_of "app$n"))"
  done
}

write_haproxy_config() {
  local n servers=""
  for n in "${!APP_PORTS[@]}"; do
    servers+="    server app$((n + 1)) 127.0.0.1:${APP_PORTS[$n]} check"$'\n'
  done
  cat >"$DIR/haproxy.cfg" <<EOF
# Written by scripts/cluster.sh.
global
    maxconn 4096
    # Runtime API (bench/scaleout.py reads server states and takes a server out of rotation).
    stats socket $DIR/haproxy.sock mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    # A refused or failed connection is re-sent at once, to the other server (never a request
    # an app server has started on: a submission is never sent twice).
    retries 2
    option redispatch 1
    option forwardfor
    option http-keep-alive

frontend web
    bind 127.0.0.1:$LB_PORT
    default_backend app

backend app
    balance roundrobin
    # /healthz answers 200 while the database answers (ok or degraded), 503 when it is down.
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    # Checked every second (every 250 ms once one fails): a dead server (connection refused) is
    # out after 2 failures, within 1.25 s, and back after 2 good checks. A slow answer counts as
    # a failure only after 5 s: a busy server (its queue is the answer's latency) is not dead.
    timeout check 5s
    default-server inter 1s fastinter 250ms downinter 1s fall 2 rise 2 on-marked-down shutdown-sessions
$servers
listen stats
    bind 127.0.0.1:$LB_STATS_PORT
    stats enable
    stats uri /
    stats refresh 2s
EOF
}

start_lb() {
  command -v haproxy >/dev/null || die "haproxy not found (apt-get install haproxy)"
  if pid_of lb >/dev/null; then log "lb already running"; return 0; fi
  port_in_use "$LB_PORT" && die "port $LB_PORT (lb) is taken by something else"
  write_haproxy_config
  haproxy -c -q -f "$DIR/haproxy.cfg" || die "haproxy refused $DIR/haproxy.cfg"
  spawn lb haproxy -f "$DIR/haproxy.cfg"
  wait_http "http://127.0.0.1:$LB_PORT/healthz" 20 || die "the load balancer did not answer on :$LB_PORT"
  log "lb ready on http://127.0.0.1:$LB_PORT (stats http://127.0.0.1:$LB_STATS_PORT/, pid $(pid_of lb))"
}

start_workers() {  # worker numbers
  local n
  for n in "$@"; do
    if pid_of "worker$n" >/dev/null; then log "worker$n already running"; continue; fi
    # A fresh id per start: a restarted worker is a new member of the pool.
    spawn "worker$n" env PYTHONUNBUFFERED=1 \
      "$PY" manage.py db_worker --queue-name '*' --no-reload --worker-id "cluster-worker-$n-$(date +%s)"
    log "worker$n started (pid $(pid_of "worker$n"))"
  done
}

# -- the database, catalog and index (first start) ------------------------------------------------

ensure_database() {
  local server
  server="$(pg_server_url)"
  if ! "$PY" -c 'import sys, psycopg; psycopg.connect(sys.argv[1], connect_timeout=3).close()' "$server/postgres" 2>/dev/null; then
    log "no PostgreSQL answers at $server: starting scripts/postgres.sh"
    "$ROOT/scripts/postgres.sh" start >&2
    server="$(pg_server_url)"
  fi
  "$PY" - "$server/postgres" "$DATABASE" <<'EOF'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [sys.argv[2]]).fetchone():
        conn.execute(f'CREATE DATABASE "{sys.argv[2]}"')
        print(f"cluster: created database {sys.argv[2]}", file=sys.stderr)
EOF
}

load_site() {
  [[ -f "$DIR/loaded" ]] && return 0
  local started
  started="$(date +%s)"
  log "first start: migrate, load the catalog ($CATALOG), index it, collect static files"
  manage migrate --noinput -v0
  (cd "$ROOT" && with_env "$PY" manage.py compilemessages -v0 --ignore=.venv >/dev/null)
  manage load_demo_catalog
  if [[ "$CATALOG" == full && -f "$SHARED_CATALOG/services.csv" ]]; then
    manage import_agencies "$SHARED_CATALOG/agencies.csv"
    manage import_services "$SHARED_CATALOG/services.csv"
  fi
  manage db_worker --queue-name '*' --batch --no-startup-delay --no-reload -v0
  manage update_index
  manage refresh_statistics --schedule -v0 >/dev/null
  manage ensure_admin >/dev/null
  manage collectstatic --noinput -v0
  echo "$CATALOG" >"$DIR/loaded"
  log "site loaded in $(( $(date +%s) - started ))s"
}

check_index() {
  # 1 primary + 1 replica of every Tumen index, all copies assigned (green). A node that leaves
  # is waited for 5 minutes (the default is 1) before its copies are rebuilt on the others: a
  # restart takes minutes on this machine, and the rebuild's load slowed searches past their 2 s
  # timeout (docs/benchmarks.md, "Scale-out").
  local url="http://127.0.0.1:${SEARCH_PORTS[0]}"
  curl -fsS --max-time 10 -XPUT "$url/$INDEX*/_settings" -H 'Content-Type: application/json' \
    -d '{"index":{"number_of_replicas":1,"unassigned.node_left.delayed_timeout":"5m"}}' >/dev/null \
    || log "warning: could not set the replicas of $INDEX*"
  curl -fsS --max-time 70 "$url/_cluster/health/$INDEX*?wait_for_status=green&timeout=60s" >/dev/null \
    || log "warning: the index is not green after 60 s"
  curl -fsS --max-time 5 "$url/_cat/shards/$INDEX*?h=index,shard,prirep,state,node" | sed 's/^/cluster:   /' >&2 || true
}

# -- commands -------------------------------------------------------------------------------------

# Which components a list of names means (none = all).
expand() {
  local name
  if [[ $# == 0 ]]; then
    set -- search app lb worker
  fi
  for name in "$@"; do
    case "$name" in
      search) seq -f 'search%g' 1 "${#SEARCH_PORTS[@]}" ;;
      app) seq -f 'app%g' 1 "${#APP_PORTS[@]}" ;;
      worker) seq -f 'worker%g' 1 "$WORKERS" ;;
      lb|search[0-9]*|app[0-9]*|worker[0-9]*) echo "$name" ;;
      *) die "unknown component $name (search, app, lb, worker, or one of them: search2, app1, worker3)" ;;
    esac
  done
}

numbers() {  # prefix, names...: the numbers of the names with that prefix
  local prefix="$1" name; shift
  for name in "$@"; do [[ "$name" =~ ^$prefix([0-9]+)$ ]] && echo "${BASH_REMATCH[1]}"; done
  return 0
}

cmd_start() {
  local names search apps workers
  mapfile -t names < <(expand "$@")
  mkdir -p "$DIR/logs"
  exec 9>"$DIR/.lock"
  flock -w 600 9 || die "another cluster.sh holds $DIR/.lock"
  mapfile -t search < <(numbers search "${names[@]}")
  mapfile -t apps < <(numbers app "${names[@]}")
  mapfile -t workers < <(numbers worker "${names[@]}")
  ensure_database
  write_env
  if [[ ${#search[@]} -gt 0 ]]; then start_search "${search[@]}"; fi
  if [[ ! -f "$DIR/loaded" ]]; then load_site; check_index; fi
  if [[ ${#apps[@]} -gt 0 ]]; then start_app "${apps[@]}"; fi
  if printf '%s\n' "${names[@]}" | grep -qx lb; then start_lb; fi
  if [[ ${#workers[@]} -gt 0 ]]; then start_workers "${workers[@]}"; fi
  [[ $# -gt 0 ]] || cmd_status
}

cmd_stop() {
  local names name
  mapfile -t names < <(expand "$@")
  for name in "${names[@]}"; do
    case "$name" in
      search*) stop_search "${name#search}" ;;
      *) stop_group "$name" ;;
    esac
  done
}

cmd_status() {
  local n port pid state down=0 health
  [[ -f "$DIR/env" ]] || { echo "cluster: never started (no $DIR/env)"; return 1; }
  for n in $(seq 1 "${#SEARCH_PORTS[@]}"); do
    port="${SEARCH_PORTS[$((n - 1))]}"
    if health="$(curl -fsS --max-time 3 "http://127.0.0.1:$port/_cluster/health" 2>/dev/null)"; then
      state="up, cluster $(echo "$health" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], "with", d["number_of_nodes"], "nodes")')"
    else
      state="DOWN"; down=1
    fi
    printf '%-8s http://127.0.0.1:%-5s %s\n' "search$n" "$port" "$state"
  done
  for n in $(seq 1 "${#APP_PORTS[@]}"); do
    port="${APP_PORTS[$((n - 1))]}"
    if pid="$(pid_of "app$n")" && health="$(curl -sS --max-time 10 "http://127.0.0.1:$port/healthz" 2>/dev/null)"; then
      state="up (pid $pid): $health"
    else
      state="DOWN"; down=1
    fi
    printf '%-8s http://127.0.0.1:%-5s %s\n' "app$n" "$port" "$state"
  done
  if pid="$(pid_of lb)"; then state="up (pid $pid), stats http://127.0.0.1:$LB_STATS_PORT/"; else state="DOWN"; down=1; fi
  printf '%-8s http://127.0.0.1:%-5s %s\n' lb "$LB_PORT" "$state"
  for n in $(seq 1 "$WORKERS"); do
    if pid="$(pid_of "worker$n")"; then state="up (pid $pid)"; else state="DOWN"; down=1; fi
    printf '%-8s %-22s %s\n' "worker$n" "" "$state"
  done
  printf '%-8s %-22s %s\n' database "" "$(grep ^DATABASE_URL "$DIR/env" | sed 's/:[^:@/]*@/:***@/')"
  return $down
}

cmd_drop() {
  # Everything stopped, the database dropped, var/cluster/ removed.
  cmd_stop
  [[ -f "$DIR/env" ]] && "$PY" - "$(pg_server_url)/postgres" "$DATABASE" <<'EOF'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{sys.argv[2]}" WITH (FORCE)')
EOF
  rm -rf "$DIR"
  log "dropped database $DATABASE and removed $DIR"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status ;;
  env) write_env; cat "$DIR/env" ;;
  drop) cmd_drop ;;
  *) echo "usage: $0 start|stop|status|env|drop [search|app|lb|worker|search1|app2|worker3 ...]" >&2; exit 2 ;;
esac

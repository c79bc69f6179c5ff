#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, under var/postgres.
#
#   scripts/postgres.sh start    # init (first time) + start on 127.0.0.1, prints DATABASE_URL
#   scripts/postgres.sh stop
#   scripts/postgres.sh status   # exit 0 when it accepts connections
#   scripts/postgres.sh url      # print the DATABASE_URL for the running cluster
#
# Uses Debian's `postgresql` package (its binaries in /usr/lib/postgresql/<v>/bin).
# It never touches the system cluster: data, socket and log live under var/.
# PostgreSQL refuses to run as root, so as root the cluster runs as the
# `postgres` system user. Idempotent: `start` on a running cluster just prints
# the URL. PGPORT (default 5432; the next free port if 5432 is taken by
# something else) and PGDATABASE (default tumen) can be set.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
PGROOT="$VAR/postgres"
# As root the cluster runs as `postgres`, which must be able to reach var/. When the
# checkout lives somewhere it cannot (e.g. under a 0700 home), use a folder in /tmp.
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$VAR" 2>/dev/null; then
  mkdir -p "$VAR" 2>/dev/null || true
  if ! runuser -u postgres -- test -x "$VAR" 2>/dev/null; then
    PGROOT="/tmp/tumen-postgres-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)"
  fi
fi
DATA="$PGROOT/data"
LOG="$PGROOT/postgres.log"
PORT_FILE="$PGROOT/port"
DB_NAME="${PGDATABASE:-tumen}"
DB_USER="tumen"
DB_PASSWORD="tumen"

find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  done
  echo "PostgreSQL server binaries not found; install Debian's package: apt-get install -y postgresql" >&2
  return 1
}

as_owner() {
  # Run a command as the cluster owner: ourselves, or `postgres` when we are root.
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && { exec 3>&- 3<&-; return 0; }
  return 1
}

current_port() {
  if [ -f "$PORT_FILE" ]; then cat "$PORT_FILE"; else echo "${PGPORT:-5432}"; fi
}

is_running() {
  local bin
  bin="$(find_bin)"
  [ -f "$DATA/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

url() {
  echo "postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$(current_port)/$DB_NAME"
}

init_cluster() {
  local bin="$1"
  mkdir -p "$PGROOT"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PGROOT"; fi
  echo "postgres: initialising a new cluster in $DATA"
  local pwfile
  pwfile="$(mktemp)"
  echo "$DB_PASSWORD" >"$pwfile"
  chmod 644 "$pwfile"
  as_owner "$bin/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$pwfile" -A scram-sha-256 -E UTF8 \
    --locale=C.UTF-8 >"$PGROOT/initdb.log" 2>&1 || { cat "$PGROOT/initdb.log" >&2; rm -f "$pwfile"; return 1; }
  rm -f "$pwfile"
  # Loopback TCP only, socket inside var/, tuned for a small test machine (fsync off is
  # safe here: this cluster holds only development and test data).
  cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGROOT'
max_connections = 100
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

start() {
  local bin port
  bin="$(find_bin)"
  if is_running; then
    echo "postgres: already running on 127.0.0.1:$(current_port)"
    echo "DATABASE_URL=$(url)"
    return 0
  fi
  [ -f "$DATA/PG_VERSION" ] || init_cluster "$bin"
  port="${PGPORT:-5432}"
  while port_in_use "$port"; do
    echo "postgres: port $port is taken, trying $((port + 1))"
    port=$((port + 1))
  done
  echo "$port" >"$PORT_FILE"
  as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" -o "-p $port" -w -t 60 start >/dev/null \
    || { echo "postgres: failed to start; last log lines:" >&2; tail -n 30 "$LOG" >&2; return 1; }
  # The database the app uses; created once.
  if ! PGPASSWORD="$DB_PASSWORD" "$bin/psql" -h 127.0.0.1 -p "$port" -U "$DB_USER" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
    PGPASSWORD="$DB_PASSWORD" "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME"
  fi
  echo "postgres: running on 127.0.0.1:$port (data in $DATA)"
  echo "DATABASE_URL=$(url)"
}

stop() {
  local bin
  bin="$(find_bin)"
  if is_running; then
    as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    echo "postgres: stopped"
  else
    echo "postgres: not running"
  fi
}

status() {
  if is_running; then
    echo "postgres: running on 127.0.0.1:$(current_port)"
  else
    echo "postgres: not running"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The demo national identity provider (ДАН stand-in, scripts/oidc_provider/): a real OpenID
# Connect provider (django-oauth-toolkit) on loopback for `make run`'s citizen sign-in.
# Its own SQLite database, signing key and secrets live under var/oidc/ (DAN_VAR_DIR).
#
#   scripts/oidc-provider.sh start    migrate, register Tumen's client, serve on 127.0.0.1:9300 (idempotent)
#   scripts/oidc-provider.sh stop | status | url
#   scripts/oidc-provider.sh env      the TUMEN_OIDC_* lines for Tumen (eval "$(scripts/oidc-provider.sh env)")
#
# DAN_PORT (9300) and TUMEN_URL (http://127.0.0.1:8000, where Tumen's callback is) change the defaults.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
PORT="${DAN_PORT:-9300}"
export DAN_VAR_DIR="${DAN_VAR_DIR:-$ROOT/var/oidc}"
PIDFILE="$DAN_VAR_DIR/provider.pid"
LOG="$DAN_VAR_DIR/provider.log"
CLIENT_ID="tumen-demo"
TUMEN_URL="${TUMEN_URL:-http://127.0.0.1:8000}"
ISSUER="http://127.0.0.1:$PORT/o"

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

client_secret() {
  mkdir -p "$DAN_VAR_DIR"
  [ -s "$DAN_VAR_DIR/client-secret" ] || (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$DAN_VAR_DIR/client-secret")
  cat "$DAN_VAR_DIR/client-secret"
}

manage() { (cd "$ROOT/scripts/oidc_provider" && env -u DJANGO_SETTINGS_MODULE "$PY" manage.py "$@"); }

case "${1:-}" in
  start)
    if running; then echo "identity provider already running: $ISSUER"; exit 0; fi
    secret="$(client_secret)"
    manage migrate --noinput -v0
    manage dan_setup --client-id "$CLIENT_ID" --client-secret="$secret" \
      --redirect-uri "$TUMEN_URL/signin/callback/" --post-logout-uri "$TUMEN_URL/signout/done/" \
      --post-logout-uri "$TUMEN_URL/en/signout/done/" --redirect-uri "${TUMEN_URL/127.0.0.1/localhost}/signin/callback/" \
      --post-logout-uri "${TUMEN_URL/127.0.0.1/localhost}/signout/done/" \
      --post-logout-uri "${TUMEN_URL/127.0.0.1/localhost}/en/signout/done/" > /dev/null
    (cd "$ROOT/scripts/oidc_provider" && exec setsid env -u DJANGO_SETTINGS_MODULE "$ROOT/.venv/bin/gunicorn" \
      --bind "127.0.0.1:$PORT" --workers 1 --threads 4 --access-logfile - dan.wsgi:application \
      >> "$LOG" 2>&1 < /dev/null) &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 60); do
      if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('$ISSUER/.well-known/openid-configuration', timeout=2)" 2>/dev/null; then
        echo "identity provider: $ISSUER (demo citizens bold, saraa, tuya; password: demo)"; exit 0
      fi
      running || { echo "identity provider did not start; see $LOG" >&2; exit 1; }
      sleep 0.5
    done
    echo "identity provider did not answer in 30 s; see $LOG" >&2; exit 1
    ;;
  stop)
    if running; then kill "$(cat "$PIDFILE")"; echo "identity provider stopped"; else echo "identity provider not running"; fi
    rm -f "$PIDFILE"
    ;;
  status)
    if running; then echo "running: $ISSUER (pid $(cat "$PIDFILE"))"; else echo "stopped"; exit 3; fi
    ;;
  url)
    echo "$ISSUER"
    ;;
  env)
    echo "export TUMEN_OIDC_ISSUER='$ISSUER' TUMEN_OIDC_CLIENT_ID='$CLIENT_ID' TUMEN_OIDC_CLIENT_SECRET='$(client_secret)'"
    ;;
  *)
    echo "usage: $0 start|stop|status|url|env" >&2; exit 2
    ;;
esac

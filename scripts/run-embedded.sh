#!/usr/bin/env bash
# Serve the site in embedded mode (SQLite, database search) together with the
# django-tasks worker that applies search-index updates, delivers applications and
# other background work, the demo agency endpoint the demo agencies' applications are
# delivered to (scripts/demo_agency.py, port TUMEN_DEMO_AGENCY_PORT, default 8765), and the
# demo identity provider for citizen sign-in. Ctrl-C stops them all. Used by `make run`
# (runserver) and `make serve` (gunicorn).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
MODE="${1:-runserver}"

# Citizen sign-in: unless an identity provider is configured, start the demo one (ДАН stand-in,
# scripts/oidc-provider.sh) beside the site, and stop it with the site.
STARTED_PROVIDER=""
if [ -z "${TUMEN_OIDC_ISSUER:-}" ]; then
  if ! scripts/oidc-provider.sh status >/dev/null 2>&1; then
    scripts/oidc-provider.sh start && STARTED_PROVIDER=yes
  fi
  eval "$(scripts/oidc-provider.sh env)"
fi

"$PY" scripts/demo_agency.py --port "${TUMEN_DEMO_AGENCY_PORT:-8765}" &
AGENCY=$!
"$PY" manage.py db_worker --queue-name '*' --no-reload -v0 &
WORKER=$!
trap 'kill "$WORKER" "$AGENCY" 2>/dev/null || true; [ -z "$STARTED_PROVIDER" ] || scripts/oidc-provider.sh stop >/dev/null' EXIT INT TERM

PORT="${TUMEN_PORT:-8000}"
echo "Tumen: http://127.0.0.1:$PORT/  (admin: http://127.0.0.1:$PORT/admin/, health: /healthz)"
[ -z "$STARTED_PROVIDER" ] || echo "Citizens sign in at $TUMEN_OIDC_ISSUER as bold, saraa or tuya (password: demo)"
if [ "$MODE" = gunicorn ]; then
  DEBUG="${DEBUG:-false}" "$ROOT/.venv/bin/gunicorn" -c gunicorn.conf.py
else
  "$PY" manage.py runserver "127.0.0.1:$PORT"
fi

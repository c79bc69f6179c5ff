#!/usr/bin/env bash
# Serve the site in embedded mode (SQLite, database search) together with the
# django-tasks worker that applies search-index updates, delivers applications and
# other background work, and the demo agency endpoint the demo agencies' applications
# are delivered to (scripts/demo_agency.py, port TUMEN_DEMO_AGENCY_PORT, default 8765).
# Ctrl-C stops all three. Used by `make run` (runserver) and `make serve` (gunicorn).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
MODE="${1:-runserver}"

"$PY" scripts/demo_agency.py --port "${TUMEN_DEMO_AGENCY_PORT:-8765}" &
AGENCY=$!
"$PY" manage.py db_worker --queue-name '*' --no-reload -v0 &
WORKER=$!
trap 'kill "$WORKER" "$AGENCY" 2>/dev/null || true' EXIT INT TERM

echo "Tumen: http://127.0.0.1:8000/  (admin: http://127.0.0.1:8000/admin/, health: /healthz)"
if [ "$MODE" = gunicorn ]; then
  DEBUG="${DEBUG:-false}" "$ROOT/.venv/bin/gunicorn" -c gunicorn.conf.py
else
  "$PY" manage.py runserver 127.0.0.1:8000
fi

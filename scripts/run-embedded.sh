#!/usr/bin/env bash
# Serve the site in embedded mode (SQLite, database search) together with the
# django-tasks worker that applies search-index updates and other background
# work. Ctrl-C stops both. Used by `make run` (runserver) and `make serve` (gunicorn).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
MODE="${1:-runserver}"

"$PY" manage.py db_worker --queue-name '*' --no-reload -v0 &
WORKER=$!
trap 'kill "$WORKER" 2>/dev/null || true' EXIT INT TERM

echo "Tumen: http://127.0.0.1:8000/  (admin: http://127.0.0.1:8000/admin/, health: /healthz)"
if [ "$MODE" = gunicorn ]; then
  DEBUG="${DEBUG:-false}" "$ROOT/.venv/bin/gunicorn" -c gunicorn.conf.py
else
  "$PY" manage.py runserver 127.0.0.1:8000
fi

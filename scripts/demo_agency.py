#!/usr/bin/env python3
"""A demo agency endpoint for `make run`: receives Tumen's signed webhooks on 127.0.0.1.

`make run` loads the demo catalog with `--endpoint-base http://127.0.0.1:8765`, so every demo
agency gets a webhook target at `/agencies/<code>/submissions` here, and starts this server beside
the site and the worker. It checks each delivery the way an agency should (docs/plugins.md, "What
the agency receives from webhook"): the HMAC-SHA256 signature with the agency's secret, the
5-minute replay window, and the idempotency key (a repeated key is answered 200 without counting
it twice). A good delivery is answered 200 and the application becomes "sent to the agency";
a bad signature gets 401 (and the delivery ends in the dead letters, visible on the dashboard).

The secrets are read from TUMEN_VAR_DIR/demo-agency-secrets.json (written by load_demo_catalog),
again on every request, so targets added later are known at once. Standard library only; it logs
one line per delivery: the agency, the tracking code and the verdict (no answers, no names).

    python scripts/demo_agency.py [--port 8765] [--secrets var/demo-agency-secrets.json]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WINDOW_SECONDS = 300
PATH = re.compile(r"^/agencies/([A-Za-z0-9_-]+)/submissions/?$")
MAX_BODY = 50 * 1024 * 1024


def verify(secret: str, headers, body: bytes, now: float | None = None) -> bool:
    """The check of docs/plugins.md: timestamp within the window, then the signature."""
    timestamp = headers.get("X-Tumen-Timestamp", "")
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > WINDOW_SECONDS:
        return False
    message = (
        f"{timestamp}.{headers.get('X-Tumen-Submission', '')}.{headers.get('Idempotency-Key', '')}.".encode() + body
    )
    expected = "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-Tumen-Signature", ""))


def make_handler(secrets_path: Path, seen: set):
    class Handler(BaseHTTPRequestHandler):
        server_version = "TumenDemoAgency/1"

        def log_message(self, *args):
            pass

        def answer(self, status: int, payload: dict):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self):  # the admin's "Test connection"
            self.answer(200 if PATH.match(self.path) else 404, {})

        do_GET = do_HEAD

        def do_POST(self):
            match = PATH.match(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if match is None or length > MAX_BODY:
                self.answer(404, {"error": "unknown endpoint"})
                return
            body = self.rfile.read(length)
            code = match.group(1)
            try:
                secret = json.loads(secrets_path.read_text()).get(code, "")
            except (OSError, ValueError):
                secret = ""
            tracking = self.headers.get("X-Tumen-Submission", "?")
            if not secret or not verify(secret, self.headers, body):
                print(f"demo agency {code}: {tracking} refused (bad or unknown signature)", flush=True)
                self.answer(401, {"error": "bad signature"})
                return
            key = self.headers.get("Idempotency-Key", "")
            duplicate = key in seen
            seen.add(key)
            print(
                f"demo agency {code}: {tracking} {'again (duplicate, ignored)' if duplicate else 'received'}",
                flush=True,
            )
            self.answer(200, {"received": tracking, "duplicate": duplicate})

    return Handler


def main(argv=None) -> int:
    var_dir = Path(os.environ.get("TUMEN_VAR_DIR", ROOT / "var"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--secrets", type=Path, default=var_dir / "demo-agency-secrets.json")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.secrets, set()))
    server.daemon_threads = True
    print(
        f"demo agency endpoint: http://{args.host}:{server.server_address[1]}/agencies/<code>/submissions", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

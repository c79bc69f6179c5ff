"""A stand-in agency endpoint: a real HTTP server on 127.0.0.1 that records what it receives.

Its behaviour is a script of responses (``server.plan = [500, 500, 200]``; the last one repeats)
where each item is an HTTP status, ``"slow"`` (answers after ``slow_seconds``), ``"close"``
(drops the connection without answering) or ``"big"`` (a 1 MB body). ``stop()`` takes it down
(connection refused) and ``start()`` brings it back on the same port.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class AgencyServer:
    def __init__(self, port: int = 0):
        self.received: list[Received] = []
        self.plan: list = [200]
        self.slow_seconds = 2.0
        self.reply_body = b'{"ok": true}'
        self.lock = threading.Lock()
        self.port = port
        self._server = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/submissions"

    def _next(self):
        with self.lock:
            return self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]

    def start(self):
        agency = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with agency.lock:
                    agency.received.append(Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                action = agency._next()
                if action == "close":
                    self.close_connection = True
                    self.connection.close()
                    return
                if action == "slow":
                    time.sleep(agency.slow_seconds)
                    action = 200
                payload = b"x" * (1024 * 1024) if action == "big" else agency.reply_body
                status = 200 if action == "big" else int(action)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_HEAD = do_GET = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def keys(self) -> list[str]:
        return [item.headers.get("idempotency-key") for item in self.received]

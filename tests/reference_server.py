"""A stand-in agency reference source: a real HTTP server on 127.0.0.1 speaking signed JSON.

It checks Tumen's signature on every request (``plugins.signing``), records it, and answers with
the next step of its script (``server.plan = ["slow", 200]``; the last one repeats):

- ``200``: the document (``server.document``), signed;
- ``"slow"``: the same after ``slow_seconds``;
- ``404``: "no record", signed, with a bilingual message;
- ``500`` / ``503``: a server error;
- ``"unsigned"``: the document without a signature; ``"badsig"``: with a wrong one;
- ``"wrong_types"``, ``"missing"``, ``"huge"``, ``"notjson"``: answers that cannot be rendered
  (signed, so only their content is wrong).

``delay_ms`` adds a fixed latency to every answer (the benchmark's 50 ms agency);
``format = "xml"`` answers in the ХУР-style SOAP envelope of ``plugins.contrib.xyp.reference``
instead. Used by the tests and by ``bench/references.py``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from plugins import signing

SECRET = "reference-source-secret-0123456789"

DOCUMENT = {
    "title_mn": "Оршин суугаа хаягийн лавлагаа",
    "title_en": "Reference on the registered address",
    "rows": [
        {"label_mn": "Хаяг", "label_en": "Address", "value": "Улаанбаатар, Сүхбаатар дүүрэг, 1-р хороо, Өлзийт гудамж 12"},
        {"label_mn": "Бүртгэсэн огноо", "label_en": "Registered on", "value": "2019-05-04"},
        {"label_mn": "Өрхийн тэргүүн", "label_en": "Head of household", "value": "Тийм / Yes"},
    ],
    "valid_until": "2099-12-31",
}


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    signature_ok: bool

    def json(self):
        return json.loads(self.body)


def as_xml(payload: dict) -> bytes:
    """An answer in the ХУР-style envelope (``plugins.contrib.xyp.reference``)."""

    def text(value):
        return escape(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))

    if "error" in payload:
        message = payload.get("message") or {}
        inner = f"<Found>false</Found><MessageMn>{text(message.get('mn', ''))}</MessageMn><MessageEn>{text(message.get('en', ''))}</MessageEn>"
    else:
        rows = "".join(
            f"<Row><LabelMn>{text(row.get('label_mn', ''))}</LabelMn><LabelEn>{text(row.get('label_en', ''))}</LabelEn>"
            f"<Value>{text(row.get('value', ''))}</Value></Row>"
            for row in payload.get("rows", [])
        )
        inner = (
            f"<Found>true</Found><TitleMn>{text(payload.get('title_mn', ''))}</TitleMn><TitleEn>{text(payload.get('title_en', ''))}</TitleEn>"
            f"<ValidUntil>{text(payload.get('valid_until', ''))}</ValidUntil>{rows}"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:tmn="urn:tumen:reference:1"><soapenv:Body><tmn:ReferenceResponse>{inner}</tmn:ReferenceResponse></soapenv:Body></soapenv:Envelope>'
    ).encode()


class ReferenceServer:
    def __init__(self, secret: str = SECRET):
        self.secret = secret
        self.received: list[Received] = []
        self.plan: list = [200]
        self.slow_seconds = 3.0
        self.delay_ms = 0
        self.format = "json"
        self.document = dict(DOCUMENT)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request_id = self.headers.get("X-Tumen-Request", "")
                ok = signing.verify(
                    server.secret, self.headers.get("X-Tumen-Timestamp", ""), [request_id], body, self.headers.get("X-Tumen-Signature", "")
                )
                with server.lock:
                    server.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, ok))
                    action = server.plan.pop(0) if len(server.plan) > 1 else server.plan[0]
                if server.delay_ms:
                    time.sleep(server.delay_ms / 1000)
                if not ok:
                    return self._send(401, {"error": "bad signature"}, request_id)
                if action == "slow":
                    time.sleep(server.slow_seconds)
                    action = 200
                if action in (500, 503):
                    return self._send(action, {"error": "internal"}, request_id, sign=False)
                if action == 404:
                    message = {"mn": "Бүртгэлд олдсонгүй.", "en": "Not found in the register."}
                    return self._send(404, {"error": "not_found", "message": message}, request_id)
                document = dict(server.document)
                if action == "wrong_types":
                    document["rows"] = [{"label_mn": ["list"], "value": {"object": 1}}]
                elif action == "missing":
                    document.pop("title_mn")
                elif action == "huge":
                    document["rows"] = [{"label_mn": f"Мөр {n}", "value": "ө" * 200} for n in range(500)]
                if action == "notjson":
                    return self._send_raw(200, b"<html>oops</html>", request_id, sign=True)
                if action == "unsigned":
                    return self._send(200, document, request_id, sign=False)
                if action == "badsig":
                    return self._send(200, document, request_id, secret="another-secret-0123456789abcdef")
                return self._send(200, document, request_id)

            def _send(self, status, payload, request_id, *, sign=True, secret=None):
                if server.format == "xml" and status in (200, 404):
                    return self._send_raw(status, as_xml(payload), request_id, sign=sign, secret=secret)
                self._send_raw(status, json.dumps(payload, ensure_ascii=False).encode(), request_id, sign=sign, secret=secret)

            def _send_raw(self, status, body, request_id, *, sign=True, secret=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if sign:
                    for key, value in signing.signed_headers(secret or server.secret, [request_id], body).items():
                        self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/references"

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

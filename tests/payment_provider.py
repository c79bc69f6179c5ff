"""A stand-in QPay-style payment provider: a real HTTP server on 127.0.0.1 (``plugins.contrib.qpay``).

It checks Tumen's signature on every request, makes invoices (once per ``sender_invoice_no``),
answers "is it paid?" and refunds. The test (or ``bench/payments.py``) pays an invoice with
:meth:`PaymentProvider.pay`, choosing how the callback behaves:

- ``"normal"``: one signed callback; ``"duplicate"``: the same callback twice;
- ``"late"``: sent by :meth:`send_late` only (after the test did other things);
- ``"none"``: never sent (a lost callback: Tumen must find it by polling);
- ``"forged"``: a callback with a wrong signature (the invoice is *not* paid: a forgery);
- ``"wrong_amount"``: a signed callback claiming another amount (the invoice is paid).

``down = True`` answers 503 to everything; ``paid_amount_override`` makes the check report another
amount. Callbacks go by HTTP POST to the invoice's ``callback_url``; tests without a live server
set ``transport`` (``fn(url, body, headers) -> status``, e.g. the Django test client).
"""

from __future__ import annotations

import datetime
import itertools
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from plugins import signing

MERCHANT = "TUMEN_TEST"
SECRET = "payment-provider-secret-0123456789"


class PaymentProvider:
    def __init__(self, *, secret: str = SECRET, merchant: str = MERCHANT):
        self.secret, self.merchant = secret, merchant
        self.invoices: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.refunds: list[dict] = []
        self.requests: list[tuple[str, str, bool]] = []
        self.late: list[tuple[str, bytes, dict]] = []
        self.down = False
        self.check_amount_override = None
        self.transport = None
        self.lock = threading.Lock()
        self.counter = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def options(self, **extra) -> dict:
        """The ``qpay`` plugin's options for this provider."""
        return {"url": self.url, "merchant": self.merchant, "secret": self.secret, "timeout": 5, "expiry_minutes": 30, **extra}

    # -- the provider's side -------------------------------------------------------------------------

    def pay(self, invoice_id: str, *, callback: str = "normal") -> list[int]:
        """The citizen pays ``invoice_id`` in their bank app; the provider calls back as told."""
        invoice = self.invoices[invoice_id]
        if callback != "forged":
            with self.lock:
                if not invoice["paid"]:
                    invoice.update(paid=True, paid_at=datetime.datetime.now(datetime.UTC).isoformat(),
                                   payment_id=f"PAY-{next(self.counter)}")  # fmt: skip
        amount = invoice["amount"] + (1000 if callback == "wrong_amount" else 0)
        body = json.dumps({"invoice_id": invoice_id, "payment_id": invoice.get("payment_id", "PAY-X"), "amount": amount,
                           "currency": invoice["currency"]}).encode()  # fmt: skip
        headers = self.callback_headers(invoice_id, body, forged=callback == "forged")
        if callback == "none":
            return []
        if callback == "late":
            self.late.append((invoice["callback_url"], body, headers))
            return []
        times = 2 if callback == "duplicate" else 1
        return [self.send(invoice["callback_url"], body, headers) for _ in range(times)]

    def send_late(self) -> list[int]:
        late, self.late = self.late, []
        return [self.send(*item) for item in late]

    def callback_headers(self, invoice_id: str, body: bytes, *, forged: bool = False) -> dict:
        signed = signing.signed_headers("not-the-secret" if forged else self.secret, [invoice_id], body)
        return {"Content-Type": "application/json", "X-QPay-Timestamp": signed["X-Tumen-Timestamp"],
                "X-QPay-Signature": signed["X-Tumen-Signature"]}  # fmt: skip

    def send(self, url: str, body: bytes, headers: dict) -> int:
        if self.transport is not None:
            return self.transport(url, body, headers)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def paid_total(self) -> int:
        """What the provider holds: paid minus refunded (the reconciliation's other side)."""
        paid = sum(item["amount"] for item in self.invoices.values() if item["paid"])
        return paid - sum(item["amount"] for item in self.refunds)

    # -- HTTP ------------------------------------------------------------------------------------------

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self):
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _signed(self, body):
                return signing.verify(provider.secret, self.headers.get("X-QPay-Timestamp", ""), [provider.merchant], body,
                                      self.headers.get("X-QPay-Signature", ""))  # fmt: skip

            def do_GET(self):
                self._route("GET", b"")

            def do_POST(self):
                self._route("POST", self._body())

            def _route(self, method, body):
                path = urlsplit(self.path).path
                ok = self._signed(body)
                provider.requests.append((method, path, ok))
                if provider.down:
                    return self._answer(503, {"error": "maintenance"})
                if not ok:
                    return self._answer(401, {"error": "bad signature"})
                if method == "POST" and path == "/v2/invoice":
                    return self._answer(200, provider._invoice(json.loads(body)))
                if method == "GET" and path.startswith("/v2/payment/check/"):
                    invoice = provider.invoices.get(path.rsplit("/", 1)[-1])
                    if invoice is None:
                        return self._answer(404, {"error": "no such invoice"})
                    amount = provider.check_amount_override if provider.check_amount_override is not None else invoice["amount"]
                    return self._answer(200, {"invoice_id": invoice["invoice_id"], "paid": invoice["paid"], "amount": amount,
                                              "currency": invoice["currency"], "paid_at": invoice.get("paid_at"),
                                              "payment_id": invoice.get("payment_id", "")})  # fmt: skip
                if method == "POST" and path.startswith("/v2/payment/refund/"):
                    invoice = provider.invoices.get(path.rsplit("/", 1)[-1])
                    if invoice is None or not invoice["paid"]:
                        return self._answer(409, {"error": "not paid"})
                    with provider.lock:
                        if invoice.get("refund_id"):
                            return self._answer(200, {"refund_id": invoice["refund_id"]})
                        invoice["refund_id"] = f"REF-{next(provider.counter)}"
                        provider.refunds.append({"invoice_id": invoice["invoice_id"], "amount": invoice["amount"]})
                    return self._answer(200, {"refund_id": invoice["refund_id"]})
                return self._answer(404, {"error": "unknown path"})

        return Handler

    def _invoice(self, data: dict) -> dict:
        with self.lock:
            key = data["sender_invoice_no"]
            if key not in self.by_key:
                invoice_id = f"INV-{next(self.counter):06d}"
                self.by_key[key] = invoice_id
                self.invoices[invoice_id] = {
                    "invoice_id": invoice_id, "amount": data["amount"], "currency": data["currency"], "paid": False,
                    "callback_url": data["callback_url"], "expires_at": data.get("expires_at"), "key": key,
                }  # fmt: skip
            invoice = self.invoices[self.by_key[key]]
        qr = f"0002010102121531{invoice['invoice_id']}5303496540{invoice['amount']}"
        return {
            "invoice_id": invoice["invoice_id"], "qr_text": qr, "expires_at": invoice["expires_at"],
            "urls": [{"name": "Khan Bank", "link": f"khanbank://q?qPay_QRcode={qr}"},
                     {"name": "Golomt Bank", "link": f"golomtbank://q?qPay_QRcode={qr}"}],
        }  # fmt: skip

#!/usr/bin/env python
"""Benchmark: 1,000 paid applications through the fake QPay-style provider, with faulty callbacks.

A throw-away embedded site (SQLite in a temporary folder, ``cms.settings.test``: migrate, the demo
catalog) with one fee-charging service whose agency takes payments through the fake provider
(``tests/payment_provider.py``, a real HTTP server on loopback) and receives deliveries at a
stand-in agency (``tests/agency.py``). For each application: ``POST /api/v1/services/<code>/
submissions`` → ``POST /pay/<code>/`` "Pay" (the invoice, at the provider over HTTP) → the
provider is paid and calls back (through the Django test client: no web server, the views run
in-process), with the mix of faults:

- 20% duplicated callbacks (sent twice), 10% lost (never sent: found by polling),
  5% forged (a wrong signature first, then the real payment's callback), the rest one callback.

Then one polling pass (``payments.poll_open_payments``) finds the lost ones, and the delivery
worker drains. Checked: 0 delivered unpaid, 0 paid twice, 0 paid and lost (paid at the provider
but not in Tumen), reconciliation totals (``payment_report``) equal to the provider's.

The payment step's overhead is the "Pay" request's wall time minus the time spent waiting for the
provider (measured around ``plugins.http.request``); its CPU (``time.thread_time``, the request's
own thread: the provider's threads do not count) is printed too, since the machine is shared.
The API submission's own latency is printed beside it, as a ratio, from the same run.

    .venv/bin/python bench/payments.py                  # 1,000 applications
    .venv/bin/python bench/payments.py --count 200
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_P95_MS = 100.0


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def setup_site(var: str):
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("SEARCH_URL", None)
    os.environ["TUMEN_VAR_DIR"] = var
    os.environ["DJANGO_SETTINGS_MODULE"] = "cms.settings.test"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.TUMEN_PRIVATE_MEDIA_ROOT = Path(var) / "private"
    settings.TUMEN_DELIVERY_BACKOFF_BASE_SECONDS = 0
    with open(os.devnull, "w") as devnull:
        call_command("migrate", "--noinput", verbosity=0, stdout=devnull)
        call_command("load_demo_catalog", stdout=devnull)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    var = tempfile.mkdtemp(prefix="tumen-bench-payments-")
    print(f"load: {os.getloadavg()} (uptime), site in {var}", flush=True)
    setup_site(var)
    import logging

    logging.getLogger("django_tasks").setLevel(logging.WARNING)
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the forged callbacks' 403s
    refusals = []

    class Count(logging.Handler):
        def emit(self, record):
            refusals.append(record.getMessage())

    logging.getLogger("tumen.payments").addHandler(Count(logging.WARNING))
    logging.getLogger("tumen.payments").propagate = False

    from django.test import Client

    from bench.bench_answers import answers
    from form_builder import payment_report, payments
    from form_builder.models import Payment, Status, Submission
    from form_builder.payments import PaymentState
    from plugins import http
    from plugins.delivery import drain
    from plugins.models import Delivery, PluginConfig
    from service_pages.models import ServicePage
    from tests.agency import AgencyServer
    from tests.payment_provider import PaymentProvider

    rng = random.Random(args.seed)
    provider, agency = PaymentProvider(), AgencyServer()
    service = ServicePage.objects.live().canonical().filter(channel_online=True).select_related("agency").order_by("code").first()
    ServicePage.objects.filter(pk=service.pk).update(fee_mnt=5000)
    PluginConfig.objects.create(plugin_id="qpay", agency=service.agency, options=provider.options())
    PluginConfig.objects.create(plugin_id="webhook", agency=service.agency, options={"url": agency.url, "secret": "bench-secret-0123456789"})
    client = Client()
    from service_pages.models import Soum

    places = [[aimag, code] for code, aimag in Soum.objects.values_list("code", "aimag__code")[:200]]

    def transport(url, body, headers):
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
        return client.post(path, body, content_type="application/json", **extra).status_code

    provider.transport = transport
    waited = threading.local()
    original_request = http.request

    def timed_request(*a, **kw):  # the provider's time, to take out of the payment step's
        started = time.perf_counter()
        try:
            return original_request(*a, **kw)
        finally:
            waited.seconds = getattr(waited, "seconds", 0.0) + time.perf_counter() - started

    http.request = timed_request
    submit_ms, pay_wall_ms, pay_overhead_ms, pay_cpu_ms, provider_ms = [], [], [], [], []
    mix = {"duplicate": 0, "none": 0, "forged": 0, "normal": 0}
    refused_forged = 0
    started_all = time.perf_counter()
    for number in range(args.count):
        t0 = time.perf_counter()
        response = client.post(f"/api/v1/services/{service.code}/submissions", {"data": answers(number, rng, places)}, content_type="application/json")
        submit_ms.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 201, response.content[:300]
        code = response.json()["tracking_code"]
        waited.seconds = 0.0
        cpu0, t0 = time.thread_time(), time.perf_counter()
        response = client.post(f"/pay/{code}/", {"action": "pay"})
        wall = (time.perf_counter() - t0) * 1000
        pay_cpu_ms.append((time.thread_time() - cpu0) * 1000)
        assert response.status_code == 302, response.status_code
        pay_wall_ms.append(wall)
        provider_ms.append(waited.seconds * 1000)
        pay_overhead_ms.append(wall - waited.seconds * 1000)
        reference = Payment.objects.get(submission__tracking_code=code, state=PaymentState.PENDING).reference
        draw = rng.random()
        mode = "duplicate" if draw < 0.20 else "none" if draw < 0.30 else "forged" if draw < 0.35 else "normal"
        mix[mode] += 1
        if mode == "forged":
            refused_forged += provider.pay(reference, callback="forged") == [403]
            provider.pay(reference)
        else:
            provider.pay(reference, callback=mode)
    elapsed = time.perf_counter() - started_all
    polled = payments.poll_open_payments(older_than_seconds=0, limit=args.count, deadline_seconds=120)
    delivered_rounds = 0
    while Delivery.objects.exclude(state__in=["delivered", "dead"]).exists() and delivered_rounds < 200:
        drain()
        delivered_rounds += 1
    http.request = original_request

    subs = Submission.objects.filter(service_code=service.code)
    paid_ids = set(Payment.objects.filter(state=PaymentState.PAID).values_list("submission_id", flat=True))
    delivered_unpaid = Delivery.objects.exclude(submission_id__in=paid_ids).count()
    from django.db.models import Count

    paid_twice = Payment.objects.filter(state=PaymentState.PAID).values("submission").annotate(n=Count("id")).filter(n__gt=1).count()
    paid_twice += sum(1 for s in subs.annotate(n=Count("payments")).filter(n__gt=1) if s.payments.filter(state=PaymentState.PAID).count() > 1)
    provider_paid = {ref for ref, item in provider.invoices.items() if item["paid"]}
    known = set(Payment.objects.filter(state__in=[PaymentState.PAID, PaymentState.REFUNDED]).values_list("reference", flat=True))
    paid_and_lost = len(provider_paid - known)
    rows = payment_report.report_rows(payment_report.agency_payments(service.agency.code))
    sums = payment_report.totals(rows)
    ours = sums["paid_mnt"] - sums["refunded_mnt"]
    not_delivered = subs.exclude(status=Status.DELIVERED).count()
    agency.stop()
    provider.stop()

    print(f"applications: {args.count} in {elapsed:.1f} s; callbacks: {mix}; forged refused: {refused_forged}/{mix['forged']}")
    print(f"refused and logged: {sum('refused' in line for line in refusals)} callback(s)")
    print(f"polling pass: {polled}; delivery drains: {delivered_rounds}; not delivered at the end: {not_delivered}")
    print(f"delivered unpaid: {delivered_unpaid}; paid twice: {paid_twice}; paid and lost: {paid_and_lost}")
    print(f"reconciliation: Tumen paid {sums['paid_mnt']} − refunded {sums['refunded_mnt']} = {ours} MNT; provider holds {provider.paid_total()} MNT")
    p95_over, p95_submit = percentile(pay_overhead_ms, 95), percentile(submit_ms, 95)
    print(f"payment step (Pay → invoice), overhead without the provider: p50 {statistics.median(pay_overhead_ms):.1f} ms, "
          f"p95 {p95_over:.1f} ms, p99 {percentile(pay_overhead_ms, 99):.1f} ms; CPU p50 {statistics.median(pay_cpu_ms):.1f} ms, "
          f"p95 {percentile(pay_cpu_ms, 95):.1f} ms; provider time p50 {statistics.median(provider_ms):.1f} ms")  # fmt: skip
    print(f"API submission in the same run: p50 {statistics.median(submit_ms):.1f} ms, p95 {p95_submit:.1f} ms; "
          f"payment overhead / submission p95 ratio {p95_over / p95_submit:.2f}")  # fmt: skip
    print(f"load after: {os.getloadavg()}")
    ok = delivered_unpaid == 0 and paid_twice == 0 and paid_and_lost == 0 and ours == provider.paid_total() and not_delivered == 0
    print(f"target (0/0/0, totals equal, p95 <= {TARGET_P95_MS:.0f} ms): {'met' if ok and p95_over <= TARGET_P95_MS else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

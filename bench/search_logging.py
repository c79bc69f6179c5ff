#!/usr/bin/env python
"""Benchmark: what logging a search (``search.analytics``) adds to the search page.

In one run, on a throw-away database (SQLite by default, the embedded default; PostgreSQL
with ``--postgres URL``), with the demo catalog loaded and ``--prefill`` rows already in the
log (weeks of traffic, so the log's indexes are not empty):

1. the search page (``GET /search/?q=…`` through Django's WSGI application as a WSGI server
   calls it, the embedded index answering), each query with logging on and off in a pair
   (``TUMEN_SEARCH_ANALYTICS``): median and p95 until the response is in hand, the median of
   the pairs' differences, and apart the time of the response's close, where the INSERT runs
   (``search.analytics.save_after``: the citizen already has the page);
2. directly: ``analytics.entry`` (the work the request still does: the row and the signed
   token; the parse of the parameters is included) and ``analytics.log_search`` (entry + the INSERT): median and p95.

    .venv/bin/python bench/search_logging.py
    .venv/bin/python bench/search_logging.py --postgres postgresql://…/scratch_db   # a scratch database
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = ["иргэний үнэмлэх", "гадаад паспорт", "jolooni unemleh", "тэтгэвэр", "газар өмчлөх", "зуурмагжуулалт",
           "төрсний гэрчилгээ", "гэрлэлт бүртгэх", "хувь хүний орлогын албан татвар", "малын тооллого"]  # fmt: skip


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def setup(postgres: str | None, prefill: int):
    os.environ["DJANGO_SETTINGS_MODULE"] = "cms.settings.base"
    os.environ["TUMEN_VAR_DIR"] = tempfile.mkdtemp(prefix="tumen-logging-")
    os.environ["DEBUG"] = "false"  # the debug cursor would log every query
    os.environ.pop("SEARCH_URL", None)
    if postgres:
        os.environ["DATABASE_URL"] = postgres
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    with open(os.devnull, "w") as devnull:
        call_command("migrate", verbosity=0, stdout=devnull)
        call_command("load_demo_catalog", stdout=devnull, stderr=devnull)
    from django.utils import timezone

    from search.models import SearchQueryLog

    rng = random.Random(17)
    today = timezone.localdate()
    rows = [
        SearchQueryLog(token=f"{n:032x}", day=today - timezone.timedelta(days=rng.randrange(91)),
                       text=f"{rng.choice(QUERIES)} {n % 500}", query_key=f"{n % 5000}", language="mn",
                       result_count=rng.randrange(40), agencies=f"|{rng.randrange(60)}|")
        for n in range(prefill)
    ]  # fmt: skip
    SearchQueryLog.objects.bulk_create(rows, batch_size=5000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="rounds of each mode, alternating (default 30)")
    parser.add_argument("--prefill", type=int, default=200_000, help="rows already in the log (default 200,000)")
    parser.add_argument("--postgres", help="a scratch PostgreSQL database URL (its tables are created)")
    parser.add_argument("--alone", action="store_true",
                        help="SQLite: no other connection open (by default one is held, as `make run`'s task worker does)")  # fmt: skip
    args = parser.parse_args()
    setup(args.postgres, args.prefill)
    held = None
    if not args.postgres and not args.alone:
        # Django opens and closes a SQLite connection per request. When the last connection to a
        # WAL database closes, SQLite checkpoints the log into the file, syncs it and deletes it,
        # and the next write creates it again: ~15 ms after any write. `make run` has the task
        # worker's connection open in another process, so that does not happen there; hold one
        # in another process here as it does (locks are per process: one here would not count).
        import subprocess

        from django.conf import settings

        keep_open = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                     "c.execute('SELECT 1 FROM sqlite_master LIMIT 1').fetchall(); print(1, flush=True); sys.stdin.read()")  # fmt: skip
        held = subprocess.Popen([sys.executable, "-c", keep_open, str(settings.DATABASES["default"]["NAME"])],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # fmt: skip
        held.stdout.readline()
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import override_settings

    from search import analytics, finder
    from search.models import SearchQueryLog
    from search.params import parse_query

    app, factory = get_wsgi_application(), RequestFactory()

    def serve(q: str) -> tuple[float, float]:
        """(ms until the whole page is in hand, ms of the close after it), as a WSGI server sees them."""
        statuses = []
        started = time.perf_counter()
        body = app(factory.get("/search/", {"q": q}).environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(body)
        sent = time.perf_counter()
        body.close()  # the server closes the response after the last byte went out
        assert statuses[0].startswith("200"), statuses
        return (sent - started) * 1000, (time.perf_counter() - sent) * 1000

    for q in QUERIES:  # warm the caches (vocabulary, facets, templates)
        serve(q)
    times = {True: [], False: []}
    closes = {True: [], False: []}
    differences = []
    for round_number in range(args.rounds):
        for q in QUERIES:
            pair = {}
            # Each query twice in a row, on then off (off then on every other round): the pair
            # shares the machine's momentary load, and their difference is the logging's cost.
            for logging_on in (True, False) if round_number % 2 == 0 else (False, True):
                with override_settings(TUMEN_SEARCH_ANALYTICS=logging_on):
                    pair[logging_on], closed = serve(q)
                times[logging_on].append(pair[logging_on])
                closes[logging_on].append(closed)
            differences.append(pair[True] - pair[False])
    inserts, entries = [], []
    results = {q: finder.search(parse_query({"q": q})) for q in QUERIES}
    for _round in range(args.rounds):
        for q in QUERIES:
            started = time.perf_counter()
            analytics.entry(parse_query({"q": q}), results[q], "mn")  # what the request itself does
            entries.append((time.perf_counter() - started) * 1000)
    for _round in range(args.rounds):
        for q in QUERIES:
            started = time.perf_counter()
            analytics.log_search(parse_query({"q": q}), results[q], "mn")
            inserts.append((time.perf_counter() - started) * 1000)

    on, off = times[True], times[False]
    other = "; another connection held open" if held else ("; no other connection" if not args.postgres else "")
    print(f"database: {connection.vendor}{other}; log rows at the end: {SearchQueryLog.objects.count():,}; load: {os.getloadavg()}")
    print(f"search page until the response is sent, {len(on)} requests per mode, in on/off pairs of the same query:")
    print(f"  logging on : median {statistics.median(on):6.2f} ms  p95 {percentile(on, 0.95):6.2f} ms")
    print(f"  logging off: median {statistics.median(off):6.2f} ms  p95 {percentile(off, 0.95):6.2f} ms")
    print(f"  added by logging: median of the pairs' differences {statistics.median(differences):+.2f} ms, "
          f"difference of the medians {statistics.median(on) - statistics.median(off):+.2f} ms")  # fmt: skip
    print(f"  mean on {statistics.mean(on):.2f} ms, off {statistics.mean(off):.2f} ms, "
          f"mean of the differences {statistics.mean(differences):+.2f} ms")
    print(f"after the response (the INSERT, the worker busy, the citizen not waiting): median on "
          f"{statistics.median(closes[True]):.2f} ms, off {statistics.median(closes[False]):.2f} ms; mean on "
          f"{statistics.mean(closes[True]):.2f} ms, off {statistics.mean(closes[False]):.2f} ms")  # fmt: skip
    print(f"in the request, analytics.entry (the row and the signed token), {len(entries)} calls: "
          f"median {statistics.median(entries):.3f} ms  p95 {percentile(entries, 0.95):.3f} ms")  # fmt: skip
    print(f"log_search alone, {len(inserts)} calls: median {statistics.median(inserts):.3f} ms  "
          f"mean {statistics.mean(inserts):.3f} ms  p95 {percentile(inserts, 0.95):.3f} ms")  # fmt: skip
    if held:
        held.stdin.close()
        held.wait()


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark: ``/statistics/`` computed per request (before issue 13) against the snapshot read.

On a throw-away database (SQLite in a temporary folder, or ``--database postgres``: a
``tumen_bench_statistics`` database in the private cluster of ``scripts/postgres.sh``) with the
demo catalog, writes ``--rows`` completed applications of the last year (and a tenth as many
still open) spread over the demo's services, then times, each the median of several runs:

1. **old per request**: the computation every anonymous request ran before the fix (kept below
   verbatim as ``old_processing_times``: every completed application of the year loaded into
   Python, grouped and sorted there);
2. **snapshot read**: what a request does now (``statistics.current_snapshot()``: one row);
3. **page with the snapshot**: a whole ``GET /en/statistics/`` through Django's test client;
4. **refresh (task)**: ``statistics.refresh_snapshot()``, the database-side computation that the
   ``refresh_statistics`` task runs once per ``TUMEN_STATISTICS_REFRESH_SECONDS``;

and prints the ratio old / snapshot read. It also checks that the old and the new computation
agree on every count and median (the 90th percentile is now the nearest rank, so it may differ
by one rank from the old rounding).

    .venv/bin/python bench/processing_statistics.py                       # 30,000 rows, SQLite
    .venv/bin/python bench/processing_statistics.py --database postgres
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import shutil
import statistics as pystats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "tumen_bench_statistics"


def old_processing_times(since_days: int = 365):
    """The per-request computation of form_builder/statistics.py before issue 13 (verbatim logic)."""
    from django.db.models import Min
    from django.utils import timezone

    from form_builder.models import Status, Submission

    since = timezone.now() - datetime.timedelta(days=since_days)
    base = Submission.objects.all()
    completed = base.filter(status=Status.COMPLETED, submitted_at__gte=since).values(
        "pk", "service_code", "service_title", "agency__code", "agency__name_mn", "submitted_at", "service__processing_days"
    )
    done = dict(
        base.filter(status=Status.COMPLETED, submitted_at__gte=since, events__status=Status.COMPLETED)
        .annotate(at=Min("events__created_at"))
        .values_list("pk", "at")
    )
    by_service: dict[str, list] = {}
    by_agency: dict[str, list] = {}
    for row in completed:
        finished = done.get(row["pk"])
        if finished is None:
            continue
        days = (finished - row["submitted_at"]).total_seconds() / 86400
        promise = row["service__processing_days"]
        by_service.setdefault(row["service_code"], []).append((days, promise))
        by_agency.setdefault(row["agency__code"] or "", []).append((days, promise))

    def rows(groups):
        result = {}
        for key, items in groups.items():
            days = sorted(d for d, _p in items)
            promised = [(d, p) for d, p in items if p]
            index = max(0, min(len(days) - 1, int(round(0.9 * (len(days) - 1)))))
            within = (sum(1 for d, p in promised if d <= p) / len(promised)) if promised else None
            result[key] = (len(days), pystats.median(days), days[index], within)
        return result

    return rows(by_service), rows(by_agency)


def timed(function, runs: int) -> tuple[float, object]:
    """Median milliseconds over ``runs`` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - started) * 1000)
    return pystats.median(times), result


def make_rows(count: int, seed: int):
    from django.utils import timezone

    from form_builder.models import FormVersion, Status, Submission, SubmissionEvent, new_tracking_code
    from service_pages.models import ServicePage

    rng = random.Random(seed)
    services = list(ServicePage.objects.live().canonical().select_related("agency"))
    version = FormVersion.objects.order_by("pk").first()
    now = timezone.now()
    batch = 2000
    for start in range(0, count + count // 10, batch):
        rows, finished = [], []
        for index in range(start, min(start + batch, count + count // 10)):
            service = rng.choice(services)
            submitted = now - datetime.timedelta(days=rng.uniform(1, 360))
            status = Status.COMPLETED if index < count else Status.IN_PROGRESS
            rows.append(
                Submission(
                    tracking_code=new_tracking_code(), service=service, service_code=service.code, service_title=service.title,
                    agency=service.agency, form_version=version, data={"full_name": "Бат"}, status=status, submitted_at=submitted,
                )  # fmt: skip
            )
            finished.append(min(now, submitted + datetime.timedelta(days=rng.expovariate(1 / 12))) if index < count else None)
        created = Submission.objects.bulk_create(rows)
        events = [SubmissionEvent(submission=row, status=Status.RECEIVED, created_at=row.submitted_at) for row in created]
        events += [
            SubmissionEvent(submission=row, status=Status.COMPLETED, created_at=at)
            for row, at in zip(created, finished, strict=True)
            if at is not None
        ]
        SubmissionEvent.objects.bulk_create(events)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=30_000, help="completed applications (default 30,000)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=5, help="runs of each computation (the reads run 40 times as many)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="tumen-bench-statistics-"))
    for name in ("DATABASE_URL", "SEARCH_URL"):
        os.environ.pop(name, None)
    os.environ.update(DJANGO_SETTINGS_MODULE="cms.settings.base", TUMEN_VAR_DIR=str(var), DEBUG="false")
    database = None
    if args.database == "postgres":
        from bench_postgres import fresh_database

        database = fresh_database(BENCH_DB)
        os.environ["DATABASE_URL"] = database.url

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from form_builder import statistics

    try:
        print(f"database: {connection.vendor}; preparing (migrate, demo catalog, {args.rows:,} completed rows)...", flush=True)
        with open(os.devnull, "w") as devnull:
            call_command("migrate", verbosity=0, stdout=devnull)
            call_command("load_demo_catalog", stdout=devnull)
        started = time.perf_counter()
        make_rows(args.rows, args.seed)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(f"  rows written in {time.perf_counter() - started:.1f} s", flush=True)

        old_ms, (old_services, old_agencies) = timed(old_processing_times, args.runs)
        refresh_ms, snapshot = timed(statistics.refresh_snapshot, args.runs)
        read_ms, read = timed(lambda: statistics.current_snapshot().data["services"], args.runs * 40)
        client = Client()
        page_ms, response = timed(lambda: client.get("/en/statistics/"), args.runs * 4)
        assert response.status_code == 200 and b"being prepared" not in response.content

        new = {row["key"]: row for row in snapshot.data["services"]}
        agree = all(
            new[key]["count"] == count and abs(new[key]["median_days"] - median) < 1e-6
            for key, (count, median, _p90, _within) in old_services.items()
        ) and len(new) == len(old_services)
        print()
        print(f"| measure ({connection.vendor}, {args.rows:,} completed + {args.rows // 10:,} open) | median |")
        print("|---|---|")
        print(f"| old: computed per request (every row into Python) | {old_ms:.1f} ms |")
        print(f"| now: snapshot read per request (one row) | {read_ms:.2f} ms |")
        print(f"| now: whole GET /en/statistics/ with the snapshot | {page_ms:.1f} ms |")
        print(f"| refresh_statistics task (database aggregation), once an hour | {refresh_ms:.1f} ms |")
        print(f"| ratio old per request / snapshot read | **{old_ms / read_ms:,.0f}×** |")
        print(f"| ratio old per request / refresh in the database | {old_ms / refresh_ms:.1f}× |")
        print(f"\n{len(new)} services, {len(old_agencies)} agencies; old and new counts and medians agree: {agree}")
        return 0 if agree else 1
    finally:
        connection.close()
        if database is not None:
            import psycopg

            with psycopg.connect(database.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

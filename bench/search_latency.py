#!/usr/bin/env python
"""Benchmark: search API latency at 11,250 and 112,500 services, engine and embedded.

For each scale (the shared catalog, then the catalog multiplied with distinct
codes) in a fresh database, times ``GET /api/v1/services/search?q=`` through the
whole Django stack (in-process client: view, validation, search, facets, JSON)
over the dev queries plus 500 random title fragments, and prints p50/p95/max.
In the same run it prints, on the same queries:

- the raw engine time of our query (OpenSearch's own ``took``), engine mode only;
- stock Wagtail search, ``ServicePage.objects.live().search(q)[:10]`` on the
  configured backend, on a sample (it is slow on the database backend).

Embedded mode (default: throw-away SQLite, no engine)::

    .venv/bin/python bench/search_latency.py
    .venv/bin/python bench/search_latency.py --scales 1,10

Engine mode (PostgreSQL + OpenSearch, ``<db>_bench`` database, ``tumen_bench_`` index)::

    DATABASE_URL=$(scripts/postgres.sh url) SEARCH_URL=http://127.0.0.1:9200 \\
        .venv/bin/python bench/search_latency.py --scales 1,10
"""

import argparse
import csv
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_catalog import fresh_environment  # noqa: E402
from search_latency_embedded import percentile, title_fragments  # noqa: E402


def scaled_rows(rows: list[dict], copy: int) -> list[dict]:
    """Copy number ``copy`` of the catalog rows, with distinct codes (copy 0 is the original)."""
    if copy == 0:
        return rows
    return [dict(row, code=f"{row['code']}-{copy}") for row in rows]


def summary(label: str, values: list[float]) -> str:
    return (f"{label:<22} n={len(values):<4} p50={percentile(values, 0.5):6.1f}ms  "
            f"p95={percentile(values, 0.95):6.1f}ms  max={max(values):7.1f}ms")  # fmt: skip


def record_engine_took() -> list[float]:
    """Collect the engine's own time (its ``took``, ms) of every search request of this process.

    Wraps the search client's ``search`` method (the client Wagtail's backend holds); the caller
    sums and clears the list per query (a query that finds nothing makes a second, any-word request).
    """
    from wagtail.search.backends import get_search_backend

    client_class = type(get_search_backend().es)
    original = client_class.search
    took: list[float] = []

    def search(self, *args, **kwargs):
        response = original(self, *args, **kwargs)
        took.append(float(response.get("took", 0)))
        return response

    client_class.search = search
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(ROOT.parent / "shared" / "catalog"))
    parser.add_argument("--scales", default="1,10", help="catalog multiples to measure, e.g. 1 or 1,10 (default 1,10)")
    parser.add_argument("--fragments", type=int, default=500)
    parser.add_argument("--stock-queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    catalog_dir = Path(args.catalog)
    os.environ["DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    database = fresh_environment()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from search.failover import engine_configured
    from service_pages.bulk import import_service_rows
    from service_pages.files import SERVICE_COLUMNS, read_table
    from service_pages.models import ServicePage

    engine = engine_configured()
    engine_took = record_engine_took() if engine else []
    backend = settings.WAGTAILSEARCH_BACKENDS["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"database: {database}; search: {'engine ' + backend if engine else 'embedded index'}")
    call_command("migrate", verbosity=0)
    if engine:
        call_command("update_index", verbosity=0)
    call_command("import_agencies", str(catalog_dir / "agencies.csv"), stdout=open(os.devnull, "w"))
    rows = read_table(catalog_dir / "services.csv", SERVICE_COLUMNS)
    with (catalog_dir / "queries_dev.csv").open(encoding="utf-8") as handle:
        dev = [row["query"] for row in csv.DictReader(handle)]
    queries = dev + title_fragments([row["title_mn"] for row in rows], args.fragments, args.seed)
    client = Client()

    imported = 0
    for scale in sorted(int(s) for s in args.scales.split(",")):
        started = time.monotonic()
        for copy in range(imported, scale):
            report = import_service_rows(scaled_rows(rows, copy))
            assert not report.problems, report.problems[:3]
        imported = scale
        total = ServicePage.objects.canonical().count()
        print(f"\n== {total} services (imported in {time.monotonic() - started:.0f}s) ==")
        for query in dev[:5]:  # warm caches: vocabulary, catalog summary, engine
            client.get("/api/v1/services/search", {"q": query})
        engine_took.clear()

        api_ms, engine_ms = [], []
        for query in queries:
            started = time.perf_counter()
            response = client.get("/api/v1/services/search", {"q": query})
            api_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:200]
            if engine:
                engine_ms.append(sum(engine_took))
                engine_took.clear()
        print(summary("API (whole request)", api_ms))
        if engine:
            print(summary("raw engine (took)", engine_ms))

        # Stock database search slows down with the catalog (seconds per query at 112,500):
        # sample fewer queries at larger scales so the run ends in minutes.
        sample = random.Random(args.seed).sample(range(len(queries)), max(2, args.stock_queries // scale))
        stock = []
        for index in sample:
            started = time.perf_counter()
            list(ServicePage.objects.live().search(queries[index])[:10])
            stock.append((time.perf_counter() - started) * 1000)
        ours = [api_ms[index] for index in sample]
        print(summary("stock Wagtail search", stock))
        print(f"{'ratio (same sample)':<22} stock mean {statistics.mean(stock):.1f}ms / Tumen API mean "
              f"{statistics.mean(ours):.1f}ms = {statistics.mean(stock) / statistics.mean(ours):.1f}x")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark: search API latency at 11,250 and 112,500 services, engine and embedded.

For each scale (the shared catalog, then the catalog multiplied with distinct
codes) in a fresh database, times ``GET /api/v1/services/search?q=`` through the
whole Django stack (in-process client: view, validation, search, facets, JSON)
over the dev queries plus 500 random title fragments, and prints p50/p95/max.
In the same run it prints, on the same queries:

- the raw engine time of our query (the engine's own ``took``), engine mode only;
- stock Wagtail search, ``ServicePage.objects.live().search(q)[:10]`` on the
  configured backend, on a sample (it is slow on the database backend).

Embedded mode (default: throw-away SQLite, no engine)::

    .venv/bin/python bench/search_latency.py
    .venv/bin/python bench/search_latency.py --scales 1,10

Engine mode (PostgreSQL + the engine at SEARCH_URL, ``<db>_bench`` database,
``tumen_bench_`` index; SEARCH_BACKEND names the engine as for the site)::

    DATABASE_URL=$(scripts/postgres.sh url) SEARCH_URL=http://127.0.0.1:9200 \\
        .venv/bin/python bench/search_latency.py --scales 1,10

Both engines side by side (``--engines dev``: every dev node of ``make
services-start`` that answers, OpenSearch on :9200 and Elasticsearch 7 on :9201;
or ``--engines URL,URL``): one run per engine in a child process, one after the
other on the same fresh database name, then a table of both::

    DATABASE_URL=$(scripts/postgres.sh url) .venv/bin/python bench/search_latency.py --engines dev --scales 1
"""

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import engines  # noqa: E402
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


def figures(values: list[float]) -> dict:
    return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95), "max": max(values)}


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
    parser.add_argument(
        "--engines",
        metavar="dev|URL,URL",
        help="measure each engine in turn and print them side by side ('dev': the dev nodes that answer, :9200 and :9201)",
    )
    parser.add_argument("--results-json", help=argparse.SUPPRESS)  # a child run of --engines writes its figures here
    args = parser.parse_args()
    if args.engines:
        side_by_side(args)
        return
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
    recorded = []
    for scale in sorted(int(s) for s in args.scales.split(",")):
        started = time.monotonic()
        for copy in range(imported, scale):
            report = import_service_rows(scaled_rows(rows, copy))
            assert not report.problems, report.problems[:3]
        imported = scale
        total = ServicePage.objects.canonical().count()
        import_seconds = time.monotonic() - started
        print(f"\n== {total} services (imported in {import_seconds:.0f}s) ==")
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
        recorded.append({
            "services": total, "import_seconds": import_seconds, "api": figures(api_ms),
            "engine": figures(engine_ms) if engine else None, "stock": figures(stock),
        })  # fmt: skip
    if args.results_json:
        Path(args.results_json).write_text(json.dumps(recorded))


def side_by_side(args) -> None:
    """One child run per engine (Django settings are per process), then a table of all."""
    urls = list(engines.DEV_NODES) if args.engines == "dev" else args.engines.split(",")
    found = engines.reachable(urls)
    if not found:
        sys.exit(f"no search engine answers at {', '.join(urls)}")
    print("engines: " + "; ".join(f"{e.label} at {e.url} (SEARCH_BACKEND={e.backend})" for e in found), flush=True)
    results = {}
    for engine in found:
        print(f"\n#### {engine.label} ####", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "results.json"
            command = [sys.executable, __file__, "--catalog", args.catalog, "--scales", args.scales,
                       "--fragments", str(args.fragments), "--stock-queries", str(args.stock_queries),
                       "--seed", str(args.seed), "--results-json", str(out)]  # fmt: skip
            env = {**os.environ, "SEARCH_URL": engine.url, "SEARCH_BACKEND": engine.backend}
            subprocess.run(command, env=env, check=True)
            results[engine.label] = json.loads(out.read_text())
    print_side_by_side(results)


def print_side_by_side(results: dict[str, list[dict]]) -> None:
    labels = list(results)
    width = max(24, *(len(label) + 2 for label in labels))
    print("\n== side by side: p50 / p95 ms (import: seconds to import and index) ==")
    print(f"{'services':>9}  {'measure':<22}" + "".join(f"{label:>{width}}" for label in labels))
    for row in range(len(results[labels[0]])):
        services = results[labels[0]][row]["services"]
        print(f"{services:>9}  {'import (s)':<22}" + "".join(
            f"{results[label][row]['import_seconds']:>{width}.0f}" for label in labels))  # fmt: skip
        for key, name in (("api", "API (whole request)"), ("engine", "raw engine (took)"), ("stock", "stock Wagtail search")):
            cells = [results[label][row][key] for label in labels]
            print(f"{'':>9}  {name:<22}" + "".join(f"{c['p50']:>{width - 9}.1f} / {c['p95']:<6.1f}" for c in cells))

if __name__ == "__main__":
    main()

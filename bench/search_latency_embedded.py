#!/usr/bin/env python
"""Benchmark: latency of the embedded search index against stock Wagtail database search.

In one run, on a throw-away SQLite database (the approach of
``bench/import_catalog.py``):

1. imports ../shared/catalog/services.csv (11,250 services) with the bulk import;
2. rebuilds the embedded index (``search.embedded.rebuild``) and prints the time;
3. times ``embedded.search_ids`` (every match, as the search page asks for its
   facets) over the queries of queries_dev.csv plus 500 random 2–3-word title
   fragments (seeded) and, with ``--generated N``, N generated queries of each kind of
   ``bench/search_relevance.py`` (typos, places, other forms: the ones that expand), and
   prints p50 / p95 / max and how many dev queries have an expected service in the top 10;
4. times stock Wagtail, ``ServicePage.objects.live().search(q)[:10]`` on the
   database backend, on a sample of 20 of those queries, and prints the ratio.

    .venv/bin/python bench/search_latency_embedded.py
    .venv/bin/python bench/search_latency_embedded.py --compare /tmp/main-export   # before/after

``--compare DIR`` also times ``DIR/search/embedded.py`` (another version of the module, e.g. an
export of main: ``git archive main | tar -x -C DIR``) on the same index and queries, each query
timed with both versions one after the other, and prints the ratio of the medians: a
side-by-side comparison on a noisy machine. Both read the index this version built.
"""

import argparse
import csv
import importlib.util
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_catalog import fresh_environment  # noqa: E402


def title_fragments(titles: list[str], count: int, seed: int) -> list[str]:
    """``count`` runs of 2–3 consecutive words of random titles."""
    rng = random.Random(seed)
    fragments = []
    while len(fragments) < count:
        words = rng.choice(titles).replace("—", " ").replace(",", " ").split()
        size = min(len(words), rng.choice((2, 3)))
        start = rng.randrange(len(words) - size + 1)
        fragments.append(" ".join(words[start : start + size]))
    return fragments


def load_module(path: Path):
    """Another version of search/embedded.py, as a module of its own (its own cached vocabulary)."""
    spec = importlib.util.spec_from_file_location("compared_embedded", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(ROOT.parent / "shared" / "catalog"),
                        help="folder with services.csv, agencies.csv and queries_dev.csv")  # fmt: skip
    parser.add_argument("--fragments", type=int, default=500, help="random title fragments to time (default 500)")
    parser.add_argument("--stock-queries", type=int, default=20, help="queries timed on stock Wagtail (default 20)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--compare", metavar="DIR", help="also time DIR/search/embedded.py, query by query")
    parser.add_argument("--generated", type=int, default=0, metavar="N",
                        help="also time N generated queries per kind of bench/search_relevance.py (typos ...)")  # fmt: skip
    args = parser.parse_args()
    catalog_dir = Path(args.catalog)

    # Always SQLite with Wagtail's database backend: the embedded mode being measured. DEBUG off
    # as in production: Django's debug cursor re-quotes every query's parameters for its log.
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("SEARCH_URL", None)
    os.environ["DEBUG"] = "false"
    database = fresh_environment()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("import_agencies", str(catalog_dir / "agencies.csv"), stdout=open(os.devnull, "w"))

    from search import embedded
    from service_pages.bulk import import_service_rows
    from service_pages.files import SERVICE_COLUMNS, read_table
    from service_pages.models import ServicePage

    rows = read_table(catalog_dir / "services.csv", SERVICE_COLUMNS)
    started = time.monotonic()
    report = import_service_rows(rows)
    print(f"database: {database}")
    print(f"import:        {report.summary()} (wall {time.monotonic() - started:.1f}s, Wagtail index included)")

    started = time.monotonic()
    indexed = embedded.rebuild()
    print(f"rebuild:       indexed={indexed} seconds={time.monotonic() - started:.2f}")
    started = time.monotonic()
    embedded.vocabulary()
    print(f"vocabulary:    {len(embedded.vocabulary().df)} terms loaded in {time.monotonic() - started:.3f}s "
          "(once per process and after each change)")  # fmt: skip

    with (catalog_dir / "queries_dev.csv").open(encoding="utf-8") as handle:
        dev = list(csv.DictReader(handle))
    titles = list(ServicePage.objects.canonical().values_list("title", flat=True))
    queries = [row["query"] for row in dev] + title_fragments(titles, args.fragments, args.seed)
    if args.generated:
        from search_relevance import generated_queries

        queries += [row["query"] for row in generated_queries(args.generated, args.seed)]

    codes = dict(ServicePage.objects.values_list("pk", "code"))
    expected = {row["query"]: {code.strip() for code in row["expected_codes"].split("|")} for row in dev}
    other = load_module(Path(args.compare) / "search" / "embedded.py") if args.compare else None
    if other:
        other.vocabulary()
    ms, other_ms, found = [], [], 0
    for query in queries:
        started = time.perf_counter()
        ranked = embedded.search_ids(query, limit=20000)
        ms.append((time.perf_counter() - started) * 1000)
        if other:
            started = time.perf_counter()
            other.search_ids(query, limit=20000)
            other_ms.append((time.perf_counter() - started) * 1000)
        if query in expected:
            found += bool(expected.pop(query) & {codes[page_id] for page_id, _score in ranked[:10]})
    print(f"embedded:      {len(ms)} queries  p50={percentile(ms, 0.5):.1f}ms  p95={percentile(ms, 0.95):.1f}ms  "
          f"max={max(ms):.1f}ms  (every match returned, for facets)")  # fmt: skip
    print(f"dev queries:   expected service in the top 10 for {found}/{len(dev)}")
    if other:
        print(f"compared:      {len(other_ms)} queries  p50={percentile(other_ms, 0.5):.1f}ms  "
              f"p95={percentile(other_ms, 0.95):.1f}ms  max={max(other_ms):.1f}ms  ({args.compare})")  # fmt: skip
        print(f"ratio:         this version / compared: p50 {percentile(ms, 0.5) / percentile(other_ms, 0.5):.2f}, "
              f"p95 {percentile(ms, 0.95) / percentile(other_ms, 0.95):.2f}, "
              f"mean {statistics.mean(ms) / statistics.mean(other_ms):.2f}")  # fmt: skip

    sample = random.Random(args.seed).sample(range(len(queries)), args.stock_queries)
    stock = []
    for index in sample:
        started = time.perf_counter()
        list(ServicePage.objects.live().search(queries[index])[:10])
        stock.append(time.perf_counter() - started)
    stock_mean = statistics.mean(stock) * 1000
    embedded_mean = statistics.mean(ms[index] for index in sample)
    print(f"stock Wagtail: {len(sample)} queries  mean={stock_mean:.0f}ms  p50={percentile(stock, 0.5) * 1000:.0f}ms  "
          f"max={max(stock) * 1000:.0f}ms  (database backend, first 10 results)")  # fmt: skip
    print(f"ratio:         embedded is {stock_mean / embedded_mean:.0f}x faster on the same {len(sample)} queries "
          f"(mean {embedded_mean:.1f}ms vs {stock_mean:.0f}ms)")

    from django.db import connection

    connection.close()
    shutil.rmtree(os.environ["TUMEN_VAR_DIR"], ignore_errors=True)  # the throw-away database


if __name__ == "__main__":
    main()

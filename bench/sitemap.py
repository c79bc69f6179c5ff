#!/usr/bin/env python
"""Benchmark: /sitemap.xml and its files for the whole 11,250-service catalog in two languages.

Imports ../shared/catalog into a throw-away SQLite database (as ``bench/import_catalog.py``),
translates it (``translate_catalog``), then serves, through Django's test client in this process:

- the sitemap index and every file, cold (empty cache: the queries and the XML are built);
- the same again, warm (from the cache), ``--repeat`` times: median and max per request;
- side by side, Wagtail's own ``wagtail.contrib.sitemaps`` view over the same pages (one
  ``page.specific`` and URL routing per page, Django's sitemap template), cold, as the stock
  baseline, and the ratio.

Goal (issue 17): the sitemap answers in ≤ 1 s, cached.

    .venv/bin/python bench/sitemap.py
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(ROOT.parent / "shared" / "catalog"), help="folder with services.csv and agencies.csv")
    parser.add_argument("--repeat", type=int, default=20, help="warm requests per file (default 20)")
    args = parser.parse_args()
    catalog_dir = Path(args.catalog)

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.stock_forms.settings"  # + Wagtail's own sitemap app, the baseline
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("SEARCH_URL", None)
    os.environ["TUMEN_VAR_DIR"] = tempfile.mkdtemp(prefix="tumen-bench-sitemap-")
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client

    from service_pages.bulk import import_service_rows
    from service_pages.files import SERVICE_COLUMNS, read_table
    from service_pages.translations import translate

    print("loading the catalog (import + English translations)...", file=sys.stderr)
    call_command("migrate", verbosity=0)
    call_command("import_agencies", str(catalog_dir / "agencies.csv"), stdout=open(os.devnull, "w"))
    report = import_service_rows(read_table(catalog_dir / "services.csv", SERVICE_COLUMNS))
    english = translate("en")
    print(f"catalog: {report.created} services, {english.created} English pages")

    client = Client(HTTP_HOST="localhost")

    def timed(path: str) -> tuple[float, int]:
        started = time.perf_counter()
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return time.perf_counter() - started, len(response.content)

    cache.clear()
    index_seconds, _size = timed("/sitemap.xml")
    files = [f"/sitemap-{number}.xml" for number in range(1, client.get("/sitemap.xml").content.count(b"<sitemap>") + 1)]
    cold = [timed(path) for path in files]
    urls = sum(client.get(path).content.count(b"<url>") for path in files)
    print(f"tumen cold:  index {index_seconds * 1000:.0f} ms; {len(files)} files, {urls} URLs, "
          f"max {max(s for s, _ in cold) * 1000:.0f} ms per file, largest {max(n for _, n in cold) / 1e6:.1f} MB")  # fmt: skip
    warm = [timed(path)[0] for path in ["/sitemap.xml", *files] for _ in range(args.repeat)]
    print(f"tumen warm:  median {statistics.median(warm) * 1000:.1f} ms, max {max(warm) * 1000:.1f} ms per request")

    stock_seconds, stock_urls = stock_sitemap()
    print(f"stock:       wagtail.contrib.sitemaps, one file of {stock_urls} URLs, cold, {stock_seconds:.1f} s")
    total_cold = index_seconds + sum(s for s, _ in cold)
    print(f"ratio:       stock cold / tumen cold (all files) = {stock_seconds / total_cold:.1f}x")


def stock_sitemap() -> tuple[float, int]:
    """Wagtail's sitemap view over the same site (no cache), as a project would add it."""
    from django.test import RequestFactory
    from wagtail.contrib.sitemaps.views import sitemap

    request = RequestFactory(HTTP_HOST="localhost").get("/sitemap.xml")
    started = time.perf_counter()
    response = sitemap(request)
    response.render()
    return time.perf_counter() - started, response.content.count(b"<url>")


if __name__ == "__main__":
    main()

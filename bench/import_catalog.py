#!/usr/bin/env python
"""Benchmark: import the 11,250-service national catalog into a fresh database.

Prints, in one run:
- the bulk import (``import_service_rows``) of every row, search index included:
  wall time, pages/s;
- the re-import of the unchanged file;
- the English translations of the whole catalog (``translations.translate``,
  i.e. ``manage.py translate_catalog``), then again with nothing to change;
- stock Wagtail (``add_child`` + ``save_revision().publish()`` with the search
  index updated synchronously, as the worker would) on the first 1,000 rows,
  and the ratio of pages/s between the two;
- the peak RSS of the process.

Embedded mode (default): a throw-away SQLite file and the database search
backend. With DATABASE_URL (PostgreSQL) and SEARCH_URL set, it uses a fresh
``<db>_bench`` database and the ``tumen_bench_`` index prefix, so development
data is never touched:

    .venv/bin/python bench/import_catalog.py
    DATABASE_URL=$(scripts/postgres.sh url) SEARCH_URL=http://127.0.0.1:9200 .venv/bin/python bench/import_catalog.py
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fresh_environment() -> str:
    """Point Django at a new, empty database and index; returns a description."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cms.settings.base")
    os.environ["SEARCH_INDEX"] = "tumen_bench"
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        parts = urlsplit(url)
        bench_db = parts.path.lstrip("/") + "_bench"
        admin_url = urlunsplit((parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", "", ""))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{bench_db}"')
        os.environ["DATABASE_URL"] = urlunsplit((parts.scheme, parts.netloc, "/" + bench_db, "", ""))
        return f"postgresql ({bench_db})"
    os.environ.pop("DATABASE_URL", None)
    os.environ["TUMEN_VAR_DIR"] = tempfile.mkdtemp(prefix="tumen-bench-")
    return "sqlite (" + os.environ["TUMEN_VAR_DIR"] + ")"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=str(ROOT.parent / "shared" / "catalog"), help="folder with services.csv and agencies.csv")
    parser.add_argument("--stock-rows", type=int, default=1000, help="rows imported the stock Wagtail way (default 1000)")
    args = parser.parse_args()
    catalog_dir = Path(args.catalog)

    database = fresh_environment()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    search = settings.WAGTAILSEARCH_BACKENDS["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"database: {database}; search backend: {search}")
    call_command("migrate", verbosity=0)
    if search != "database":
        call_command("update_index", verbosity=0)  # empty index with Tumen's mapping, like a deploy
    call_command("import_agencies", str(catalog_dir / "agencies.csv"), stdout=open(os.devnull, "w"))

    from service_pages.bulk import import_service_rows
    from service_pages.files import SERVICE_COLUMNS, read_table

    rows = read_table(catalog_dir / "services.csv", SERVICE_COLUMNS)
    started = time.monotonic()
    report = import_service_rows(rows)
    bulk_seconds = time.monotonic() - started
    assert report.problems == [], report.problems[:5]
    bulk_rate = report.created / bulk_seconds
    print(f"bulk import:   {report.summary()}  pages/s={bulk_rate:.0f}  (search index included)")

    started = time.monotonic()
    again = import_service_rows(rows)
    print(f"re-import:     {again.summary()}  wall={time.monotonic() - started:.1f}s")

    from service_pages.translations import translate

    english = translate("en")
    print(f"translate en:  {english.summary()}  pages/s={english.created / english.seconds:.0f}")
    english_again = translate("en")
    print(f"re-translate:  {english_again.summary()}")

    stock_seconds, stock_count = stock_import(rows[: args.stock_rows])
    stock_rate = stock_count / stock_seconds
    print(f"stock Wagtail: {stock_count} pages in {stock_seconds:.1f}s  pages/s={stock_rate:.1f}  (add_child + publish + index)")
    print(f"ratio:         bulk is {bulk_rate / stock_rate:.1f}x stock Wagtail (pages/s)")
    print(f"               stock for all {len(rows)} rows would take ~{len(rows) / stock_rate:.0f}s")
    print(f"peak RSS:      {peak_rss_mib():.0f} MiB")


def stock_import(rows):
    """The stock way: one add_child and one published revision per page."""
    from django.utils.text import slugify
    from django_tasks import default_task_backend  # noqa: F401  (tasks are configured)
    from wagtail.search.backends import get_search_backends

    from service_pages.catalog import Lookups, ensure_agency_page, service_fields
    from service_pages.models import ServicePage

    lookups = Lookups.load()
    backends = list(get_search_backends(with_auto_update=True))
    started = time.monotonic()
    for row in rows:
        values = service_fields(dict(row, code="STOCK-" + row["code"]), lookups)
        parent = ensure_agency_page(values["agency"])
        page = ServicePage(slug=slugify(values["code"]), **values)
        parent.add_child(instance=page)
        page.save_revision().publish()
        # What the queued search task does for each save, done here so both sides index.
        for backend in backends:
            backend.add(page)
    return time.monotonic() - started, len(rows)


if __name__ == "__main__":
    main()

"""Load the demo catalog that ships with Tumen (a few hundred services)."""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand

from service_pages import catalog
from service_pages.models import ServicePage

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


class Command(BaseCommand):
    help = (
        "Load the small demo catalog shipped in service_pages/demo/ (categories, agencies and about "
        "300 services with Mongolian titles) so a fresh site has something to show. Services that "
        "already exist (same code) are left alone, so running it twice is harmless."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--directory",
            default=str(DEMO_DIR),
            help="Folder holding categories.csv, agencies.csv and services.csv (default: the shipped demo).",
        )

    def handle(self, *args, **options):
        directory = Path(options["directory"])
        started = time.monotonic()
        catalog.load_categories(catalog.read_csv(directory / "categories.csv"))
        for row in catalog.read_csv(directory / "agencies.csv"):
            catalog.upsert_agency(row)
        rows = catalog.read_csv(directory / "services.csv")
        existing = set(ServicePage.objects.values_list("code", flat=True))
        lookups = catalog.Lookups.load()
        created = skipped = 0
        for number, row in enumerate(rows, start=1):
            if row["code"] in existing:
                skipped += 1
            else:
                catalog.create_service_page(catalog.service_fields(row, lookups))
                created += 1
            if sys.stdout.isatty() and number % 25 == 0:
                self.stdout.write(f"\r  {number}/{len(rows)} services", ending="")
                self.stdout.flush()
        if sys.stdout.isatty():
            self.stdout.write("")
        seconds = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"demo catalog: created={created} already_present={skipped} seconds={seconds:.1f}")
        )

"""Load a catalog that ships with Tumen: the national one (11,250 services) or the small demo."""

import json
import os
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from service_pages import catalog, translations
from service_pages.bulk import import_service_rows
from service_pages.governance import sync_agency_groups
from service_pages.management.commands.import_agencies import provision_targets

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
# The whole generated national catalog (63 agencies, 11,250 services; services.csv.xz), the same
# CSV format as ../shared/catalog/. ``make run`` loads it; ``make run DEMO=small`` loads DEMO_DIR.
NATIONAL_DIR = Path(__file__).resolve().parents[2] / "data" / "catalog"
# Where the demo agency endpoint (scripts/demo_agency.py) reads the signing secrets it verifies.
DEMO_SECRETS_FILE = "demo-agency-secrets.json"


def remember_demo_secrets(targets) -> Path:
    """Add the new targets' signing secrets to the demo agency endpoint's file (owner-only)."""
    path = Path(settings.VAR_DIR) / DEMO_SECRETS_FILE
    known = json.loads(path.read_text()) if path.exists() else {}
    known.update({target.agency_code: target.secret for target in targets if target.created})
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(known, handle, indent=1, sort_keys=True)
    return path


class Command(BaseCommand):
    help = (
        "Load the small demo catalog shipped in service_pages/demo/ (ten agencies and about 300 "
        "services with Mongolian titles), or with --national the whole generated national catalog shipped in "
        "service_pages/data/catalog/ (63 agencies, 11,250 services), and its English pages (translate_catalog), so a fresh site has "
        "something to show in both languages. It goes through the same bulk import and translation as "
        "import_services and translate_catalog, so running it twice changes nothing. With --endpoint-base "
        "(make run passes the local demo agency endpoint, scripts/demo_agency.py) every demo agency gets a "
        "signed webhook target there, whose secrets go to TUMEN_VAR_DIR/" + DEMO_SECRETS_FILE + " for that "
        "endpoint to verify."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--directory",
            default=str(DEMO_DIR),
            help="Folder holding agencies.csv and services.csv (or .csv.xz) (default: the shipped demo).",
        )
        parser.add_argument(
            "--national",
            action="store_true",
            help="Load the shipped national catalog (service_pages/data/catalog/, 11,250 services) instead.",
        )
        parser.add_argument(
            "--endpoint-base", default="", help="Deliver the demo agencies' applications to this base URL + endpoint_path."
        )

    def handle(self, *args, **options):
        directory = NATIONAL_DIR if options["national"] else Path(options["directory"])
        endpoint_base = options["endpoint_base"]
        started = time.monotonic()
        agency_rows = catalog.read_csv(catalog.catalog_file(directory, "agencies.csv"))
        service_rows = catalog.read_csv(catalog.catalog_file(directory, "services.csv"))
        # Step lines on stdout; the bars of each step (core.progress) on a terminal's stderr.
        self.stdout.write(f"loading {len(service_rows):,} services of {len(agency_rows)} agencies from {directory}")
        with transaction.atomic():
            agencies = [catalog.upsert_agency(row, endpoint_base)[0] for row in agency_rows]
            targets = provision_targets(agencies) if endpoint_base else []
        if any(target.created for target in targets):
            path = remember_demo_secrets(targets)
            self.stdout.write(f"demo delivery targets: {sum(t.created for t in targets)} created, secrets in {path}")
        report = import_service_rows(service_rows, progress_stream=sys.stderr)
        if report.problems:
            raise CommandError("; ".join(str(problem) for problem in report.problems))
        self.stdout.write(f"services: {report.summary()}; translating to English")
        english = translations.translate("en", progress_stream=sys.stderr)
        # Each agency's editors/moderators groups and review workflows (see service_pages.governance).
        agencies = sync_agency_groups()
        self.stdout.write(
            self.style.SUCCESS(
                f"demo catalog: {report.summary()}; english: {english.summary()}; groups for {agencies} agencies; "
                f"{time.monotonic() - started:.1f} s"
            )
        )

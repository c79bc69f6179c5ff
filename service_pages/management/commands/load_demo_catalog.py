"""Load the demo catalog that ships with Tumen (a few hundred services)."""

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from service_pages import catalog, translations
from service_pages.bulk import import_service_rows
from service_pages.governance import sync_agency_groups
from service_pages.management.commands.import_agencies import provision_targets

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
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
        "services with Mongolian titles), and its English pages (translate_catalog), so a fresh site has "
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
            help="Folder holding agencies.csv and services.csv (default: the shipped demo).",
        )
        parser.add_argument(
            "--endpoint-base", default="", help="Deliver the demo agencies' applications to this base URL + endpoint_path."
        )

    def handle(self, *args, **options):
        directory = Path(options["directory"])
        endpoint_base = options["endpoint_base"]
        with transaction.atomic():
            agencies = [catalog.upsert_agency(row, endpoint_base)[0] for row in catalog.read_csv(directory / "agencies.csv")]
            targets = provision_targets(agencies) if endpoint_base else []
        if any(target.created for target in targets):
            path = remember_demo_secrets(targets)
            self.stdout.write(f"demo delivery targets: {sum(t.created for t in targets)} created, secrets in {path}")
        report = import_service_rows(catalog.read_csv(directory / "services.csv"))
        if report.problems:
            raise CommandError("; ".join(str(problem) for problem in report.problems))
        english = translations.translate("en")
        # Each agency's editors/moderators groups and review workflows (see service_pages.governance).
        agencies = sync_agency_groups()
        self.stdout.write(
            self.style.SUCCESS(
                f"demo catalog: {report.summary()}; english: {english.summary()}; groups for {agencies} agencies"
            )
        )

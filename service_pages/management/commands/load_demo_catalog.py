"""Load the demo catalog that ships with Tumen (a few hundred services)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from service_pages import catalog, translations
from service_pages.bulk import import_service_rows
from service_pages.governance import sync_agency_groups

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


class Command(BaseCommand):
    help = (
        "Load the small demo catalog shipped in service_pages/demo/ (ten agencies and about 300 "
        "services with Mongolian titles), and its English pages (translate_catalog), so a fresh site has "
        "something to show in both languages. It goes through the same bulk import and translation as "
        "import_services and translate_catalog, so running it twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--directory",
            default=str(DEMO_DIR),
            help="Folder holding agencies.csv and services.csv (default: the shipped demo).",
        )

    def handle(self, *args, **options):
        directory = Path(options["directory"])
        for row in catalog.read_csv(directory / "agencies.csv"):
            catalog.upsert_agency(row)
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

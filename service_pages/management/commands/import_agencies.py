"""Create or update agencies from agencies.csv."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from service_pages.catalog import RowError, upsert_agency
from service_pages.files import AGENCY_COLUMNS, ImportFileError, read_table


class Command(BaseCommand):
    help = (
        "Import agencies from a CSV or XLSX file with the columns " + ", ".join(AGENCY_COLUMNS) + ". "
        "Creates or updates each agency by `code` and gives it a page in the catalog. With "
        "--endpoint-base, each agency's delivery URL becomes that base followed by its endpoint_path "
        "(e.g. --endpoint-base http://127.0.0.1:8765 for a local test receiver). All rows or none are imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The agencies .csv or .xlsx file.")
        parser.add_argument("--endpoint-base", default="", help="URL prefixed to each endpoint_path.")

    def handle(self, *args, **options):
        try:
            rows = read_table(options["path"], AGENCY_COLUMNS)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        created = updated = 0
        with transaction.atomic():
            # Parents first, so parent_code always finds its agency.
            for number, row in sorted(enumerate(rows, start=2), key=lambda item: bool(item[1].get("parent_code"))):
                try:
                    _agency, was_created = upsert_agency(row, options["endpoint_base"])
                except RowError as error:
                    raise CommandError(f"row {number}: {error}") from None
                created += was_created
                updated += not was_created
        self.stdout.write(f"agencies: created={created} updated={updated}")

"""Create or update agencies from agencies.csv (and, with --endpoint-base, their delivery targets)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from service_pages.catalog import RowError, agencies_imported, upsert_agency
from service_pages.files import AGENCY_COLUMNS, ImportFileError, read_table


def provision_targets(agencies) -> list:
    """Ask the apps above (plugins) for each agency's delivery target; what they made, flattened."""
    with_endpoint = [agency for agency in agencies if agency.endpoint_url]
    if not with_endpoint:
        return []
    return [target for _receiver, targets in agencies_imported.send(sender=None, agencies=with_endpoint) for target in targets or []]


def report_targets(stdout, targets) -> None:
    created = [target for target in targets if target.created]
    stdout.write(f"delivery targets: created={len(created)} existing={len(targets) - len(created)}")
    for target in created:
        stdout.write(
            f"  {target.agency_code}: webhook to {target.url}\n"
            f"    signing secret (shown only now; give it to the agency, stored encrypted): {target.secret}\n"
            f"    admin: {target.admin_url}"
        )


class Command(BaseCommand):
    help = (
        "Import agencies from a CSV or XLSX file with the columns " + ", ".join(AGENCY_COLUMNS) + ". "
        "Creates or updates each agency by `code` and gives it a page in the catalog. With "
        "--endpoint-base, each agency's delivery URL becomes that base followed by its endpoint_path "
        "(e.g. --endpoint-base http://127.0.0.1:8765 for a local test receiver), and each agency with such a "
        "URL and no delivery target yet gets one: a signed webhook to that URL with a generated signing "
        "secret, printed once here (give it to the agency; it is stored encrypted and never shown again; "
        "its admin page is printed too). Agencies that already have a target keep it. Without a target an "
        "agency's applications wait undelivered (the delivery dashboard and /healthz list them). All rows "
        "or none are imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The agencies .csv or .xlsx file.")
        parser.add_argument(
            "--endpoint-base", default="", help="URL prefixed to each endpoint_path; also creates the agencies' webhook targets."
        )

    def handle(self, *args, **options):
        try:
            rows = read_table(options["path"], AGENCY_COLUMNS)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        created = updated = 0
        agencies = []
        with transaction.atomic():
            # Parents first, so parent_code always finds its agency.
            for number, row in sorted(enumerate(rows, start=2), key=lambda item: bool(item[1].get("parent_code"))):
                try:
                    agency, was_created = upsert_agency(row, options["endpoint_base"])
                except RowError as error:
                    raise CommandError(f"row {number}: {error}") from None
                agencies.append(agency)
                created += was_created
                updated += not was_created
            targets = provision_targets(agencies) if options["endpoint_base"] else None
        self.stdout.write(f"agencies: created={created} updated={updated}")
        if targets is not None:
            report_targets(self.stdout, targets)

import datetime
import sys

from django.core.management.base import BaseCommand, CommandError

from form_builder import payment_report
from service_pages.models import Agency


def _day(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "The reconciliation report of one agency's fees: per day and payment method, how many "
        "payments and how much (MNT) were paid, refunded, and are waiting for staff to refund "
        "(refund_due). For online payments, paid minus refunded equals what the payment provider "
        "holds for the agency. Written as CSV (default) or XLSX to --output or standard output."
    )

    def add_arguments(self, parser):
        parser.add_argument("--agency", required=True, help="The agency's code (as in the catalog).")
        parser.add_argument("--from", dest="start", type=_day, help="First day (YYYY-MM-DD), inclusive.")
        parser.add_argument("--to", dest="end", type=_day, help="Last day (YYYY-MM-DD), inclusive.")
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv", help="csv (default) or xlsx.")
        parser.add_argument("--output", help="A file to write; default: standard output (CSV only).")

    def handle(self, *args, **options):
        if not Agency.objects.filter(code=options["agency"]).exists():
            raise CommandError(f"no agency has the code {options['agency']!r}")
        rows = payment_report.report_rows(payment_report.agency_payments(options["agency"]), options["start"], options["end"])
        data = payment_report.as_xlsx(rows) if options["format"] == "xlsx" else payment_report.as_csv(rows)
        if options["output"]:
            with open(options["output"], "wb") as handle:
                handle.write(data)
            self.stderr.write(f"{len(rows)} row(s) written to {options['output']}")
        elif options["format"] == "xlsx":
            raise CommandError("XLSX needs --output FILE")
        else:
            sys.stdout.flush()
            self.stdout.write(data.decode(), ending="")

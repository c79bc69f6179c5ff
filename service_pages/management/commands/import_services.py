"""Create or update service pages from a catalog spreadsheet."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from service_pages.bulk import import_service_rows
from service_pages.files import SERVICE_COLUMNS, ImportFileError, read_table


class Command(BaseCommand):
    help = (
        "Import services from a CSV (UTF-8) or XLSX file in the format of the national catalog "
        "(columns: " + ", ".join(SERVICE_COLUMNS) + "). Each row creates or updates the service page "
        "with the same `code` under its agency, as a new published revision; the English translations of "
        "changed services get the new facts (fee, agency, channels, ...) and any text no translator edited "
        "(run translate_catalog to give new services their English pages). Re-importing an unchanged "
        "file changes nothing. Rows with errors are listed (row number, column, reason) and skipped; "
        "the others are imported unless --atomic is given. Ends with a summary line "
        "'created=N updated=N unchanged=N errors=N seconds=S'; exits with status 1 when any row had an error."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .csv or .xlsx file to import.")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report what would change; write nothing.")
        parser.add_argument("--atomic", action="store_true", help="Import nothing at all if any row has an error.")
        parser.add_argument(
            "--language", choices=["mn", "en"], default=None,
            help="Language of the messages (default: the site's language, Mongolian).",
        )  # fmt: skip

    def handle(self, *args, **options):
        with translation.override(options["language"] or translation.get_language() or "mn"):
            try:
                rows = read_table(options["path"], SERVICE_COLUMNS)
            except ImportFileError as error:
                raise CommandError(str(error)) from None
            report = import_service_rows(rows, dry_run=options["dry_run"], atomic=options["atomic"])
        for problem in report.problems:
            self.stderr.write(str(problem))
        prefix = "dry run: " if options["dry_run"] else ""
        if options["atomic"] and report.problems:
            prefix = "atomic: nothing imported: "
        self.stdout.write(prefix + report.summary())
        if report.translations_updated:
            self.stdout.write(f"translations updated: {report.translations_updated}")
        if report.problems:
            raise CommandError(f"{report.error_rows} row(s) with errors", returncode=1)

"""Write the whole service catalog to a CSV, XLSX or JSON file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from service_pages.files import SERVICE_COLUMNS
from service_pages.resources import FORMATS, ServiceResource, export_bytes


class Command(BaseCommand):
    help = (
        "Export every service page to PATH in the format that import_services reads, one row per "
        "service ordered by code. The file type comes from the extension: .csv (UTF-8 with a header "
        "row), .xlsx (Excel) or .json (a list of objects). Columns: " + ", ".join(SERVICE_COLUMNS) + ". "
        "Lists are separated by ' | '. Importing the exported file again changes nothing, so you can "
        "export, edit the file in a spreadsheet and import it back. Example: "
        "python manage.py export_services catalog.xlsx"
    )
    resource_class = ServiceResource
    noun = "services"

    def add_arguments(self, parser):
        parser.add_argument("path", help="The file to write; its extension (.csv, .xlsx, .json) picks the format.")

    def handle(self, *args, **options):
        path = Path(options["path"])
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise CommandError(
                f"Cannot tell the format from {path.name!r}: the file name must end in "
                + ", ".join("." + name for name in FORMATS)
            )
        if not path.parent.is_dir():
            raise CommandError(f"Folder {path.parent} does not exist")
        dataset = self.resource_class().export()
        path.write_bytes(export_bytes(dataset, fmt))
        self.stdout.write(f"exported {len(dataset)} {self.noun} to {path}")

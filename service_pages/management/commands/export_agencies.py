"""Write every agency to a CSV, XLSX or JSON file (the format import_agencies reads)."""

from service_pages.files import AGENCY_COLUMNS
from service_pages.resources import AgencyResource

from .export_services import Command as ExportServicesCommand


class Command(ExportServicesCommand):
    help = (
        "Export every agency to PATH in the format that import_agencies reads, one row per agency "
        "ordered by code. The file type comes from the extension: .csv (UTF-8 with a header row), "
        ".xlsx (Excel) or .json (a list of objects). Columns: " + ", ".join(AGENCY_COLUMNS) + "; "
        "parent_code is the code of the parent agency. Example: python manage.py export_agencies agencies.csv"
    )
    resource_class = AgencyResource
    noun = "agencies"

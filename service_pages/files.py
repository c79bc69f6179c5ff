"""Reading catalog spreadsheets (CSV in UTF-8, or XLSX) with clear errors.

Everything that can be wrong with the file as a whole (too big, not UTF-8,
wrong format, missing columns) raises ``ImportFileError`` with a translatable
message before any row is looked at.
"""

import csv
import io
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

SERVICE_COLUMNS = [
    "code", "title_mn", "title_en", "agency_code", "category", "summary_mn", "description_mn",
    "required_documents", "fee_mnt", "processing_days", "channels", "stages", "stage_agencies",
    "legal_basis", "aimag_code", "soum_code", "xyp_code", "keywords_mn",
]  # fmt: skip
AGENCY_COLUMNS = ["code", "name_mn", "name_en", "kind", "parent_code", "endpoint_path"]
SUPPORTED = (".csv", ".xlsx")


class ImportFileError(ValueError):
    """The file cannot be imported at all; the message says why and what to do."""


def max_import_bytes() -> int:
    return getattr(settings, "TUMEN_IMPORT_MAX_BYTES", 50 * 1024 * 1024)


def read_table(path, required_columns: list[str]) -> list[dict]:
    """Rows of a CSV or XLSX file as dicts keyed by the header row."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(_("File not found: %(path)s") % {"path": path})
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ImportFileError(
            _("Unsupported file type %(suffix)s: use .csv (UTF-8) or .xlsx") % {"suffix": suffix or "?"}
        )
    size, limit = path.stat().st_size, max_import_bytes()
    if size > limit:
        raise ImportFileError(
            _("The file is %(size).1f MB; the limit is %(limit).1f MB") % {"size": size / 2**20, "limit": limit / 2**20}
        )
    header, rows = _read_xlsx(path) if suffix == ".xlsx" else _read_csv(path)
    missing = [column for column in required_columns if column not in header]
    if missing:
        raise ImportFileError(_("Missing column(s): %(columns)s") % {"columns": ", ".join(missing)})
    return rows


def _read_csv(path: Path) -> tuple[list[str], list[dict]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(
            _("The file is not UTF-8 text (bad byte at position %(position)s); save it as “CSV UTF-8”")
            % {"position": error.start}
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    # " title_mn" from a hand-edited header must still be the title column.
    reader.fieldnames = [name.strip() for name in (reader.fieldnames or [])]
    try:
        rows = [{key: (value or "") for key, value in row.items() if key is not None} for row in reader]
    except csv.Error as error:
        raise ImportFileError(_("The CSV file is malformed: %(error)s") % {"error": error}) from None
    return reader.fieldnames, rows


def _read_xlsx(path: Path) -> tuple[list[str], list[dict]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged or renamed file
        raise ImportFileError(_("The file is not a readable .xlsx workbook")) from None
    sheet = workbook.active
    values = sheet.iter_rows(values_only=True)
    header = [str(cell).strip() if cell is not None else "" for cell in next(values, ())]
    rows = []
    for cells in values:
        if cells is None or all(cell is None for cell in cells):
            continue
        rows.append({name: _cell_text(cell) for name, cell in zip(header, cells, strict=False) if name})
    workbook.close()
    return header, rows


def _cell_text(cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)

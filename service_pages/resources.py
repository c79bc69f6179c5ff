"""Exporting the catalog in the spreadsheet format that ``import_services`` reads.

django-import-export resources name the columns once (``files.SERVICE_COLUMNS``
and ``files.AGENCY_COLUMNS``) and turn each object into one row; the
``export_services`` command and the admin's download buttons both use them, so
a file exported anywhere re-imports unchanged. Import does not go through
these resources: it goes through ``bulk.import_service_rows``, which validates
with ``catalog.service_fields`` and writes Wagtail pages in bulk.
"""

import html
import io
import re

from django.utils.html import strip_tags
from import_export import resources
from import_export.fields import Field
from import_export.widgets import IntegerWidget

from .catalog import LIST_SEPARATOR, split_list
from .channels import CHANNELS
from .files import AGENCY_COLUMNS, SERVICE_COLUMNS
from .models import Agency, ServicePage

LIST_JOINER = f" {LIST_SEPARATOR} "
# Numbers stay numbers (in JSON and XLSX) and are never localised ("3 000").
NUMBER = IntegerWidget(coerce_to_string=False)
# Where one block of rich text ends; the text of consecutive blocks is joined by a space.
_BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|blockquote|div)\s*>|<br\s*/?>", re.IGNORECASE)

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def rich_text_to_plain(value: str) -> str:
    """Plain text of a rich-text field, as the ``description_mn`` column holds it.

    The import stores a description as ``<p>escaped text</p>``, so for that
    form this gives back exactly the imported text; richer HTML written in the
    editor becomes the text of its blocks joined by a space.
    """
    blocks = (html.unescape(strip_tags(block)).strip() for block in _BLOCK_END.split(value or ""))
    return " ".join(block for block in blocks if block)


def _joined(value: str) -> str:
    return LIST_JOINER.join(split_list(value))


class ServiceResource(resources.ModelResource):
    """One row of ``services.csv`` per service page, ordered by code."""

    code = Field(attribute="code", column_name="code")
    title_mn = Field(attribute="title", column_name="title_mn")
    title_en = Field(attribute="title_en", column_name="title_en")
    agency_code = Field(attribute="agency__code", column_name="agency_code")
    category = Field(attribute="category__slug", column_name="category")
    summary_mn = Field(attribute="summary", column_name="summary_mn")
    description_mn = Field(column_name="description_mn")
    required_documents = Field(column_name="required_documents")
    fee_mnt = Field(attribute="fee_mnt", column_name="fee_mnt", widget=NUMBER)
    processing_days = Field(attribute="processing_days", column_name="processing_days", widget=NUMBER)
    channels = Field(column_name="channels")
    stages = Field(attribute="stages", column_name="stages", widget=NUMBER)
    stage_agencies = Field(column_name="stage_agencies")
    legal_basis = Field(attribute="legal_basis", column_name="legal_basis")
    aimag_code = Field(attribute="aimag__code", column_name="aimag_code")
    soum_code = Field(attribute="soum__code", column_name="soum_code")
    xyp_code = Field(attribute="xyp_code", column_name="xyp_code")
    keywords_mn = Field(column_name="keywords_mn")

    class Meta:
        model = ServicePage
        fields = tuple(SERVICE_COLUMNS)
        export_order = tuple(SERVICE_COLUMNS)
        # Big chunks: one round trip per 2,000 pages instead of per 100.
        chunk_size = 2000

    def get_queryset(self):
        """All services (the Mongolian originals) with their codes joined in: one query for 11,250 rows."""
        return (
            ServicePage.objects.canonical()
            .select_related("agency", "category", "aimag", "soum")
            .only(
                "code", "title", "title_en", "summary", "description", "required_documents", "fee_mnt",
                "processing_days", "channel_online", "channel_operator", "channel_in_person", "stages",
                "stage_agencies", "legal_basis", "xyp_code", "keywords",
                "agency__code", "category__slug", "aimag__code", "soum__code",
            )  # fmt: skip
            .order_by("code")
        )

    def dehydrate_description_mn(self, page):
        return rich_text_to_plain(page.description)

    def dehydrate_required_documents(self, page):
        return LIST_JOINER.join(page.document_list)  # stored one per line

    def dehydrate_channels(self, page):
        return LIST_JOINER.join(key for key, channel in CHANNELS.items() if getattr(page, channel.field))

    def dehydrate_stage_agencies(self, page):
        return _joined(page.stage_agencies)

    def dehydrate_keywords_mn(self, page):
        return _joined(page.keywords)


class AgencyResource(resources.ModelResource):
    """One row of ``agencies.csv`` per agency, ordered by code (parents by code too)."""

    code = Field(attribute="code", column_name="code")
    name_mn = Field(attribute="name_mn", column_name="name_mn")
    name_en = Field(attribute="name_en", column_name="name_en")
    kind = Field(attribute="kind", column_name="kind")
    parent_code = Field(attribute="parent__code", column_name="parent_code")
    endpoint_path = Field(attribute="endpoint_path", column_name="endpoint_path")

    class Meta:
        model = Agency
        fields = tuple(AGENCY_COLUMNS)
        export_order = tuple(AGENCY_COLUMNS)

    def get_queryset(self):
        return Agency.objects.select_related("parent").order_by("code")


def export_bytes(dataset, fmt: str, *, excel_bom: bool = False) -> bytes:
    """A resource's exported rows (``resource.export()``) as a file of format ``fmt`` (a key of ``FORMATS``).

    ``excel_bom`` starts a CSV with a byte-order mark: Excel then reads it as
    UTF-8 instead of mangling Cyrillic; our own readers accept it either way.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "xlsx":
        return _xlsx_bytes(dataset)
    data = dataset.export(fmt)
    if fmt == "csv" and excel_bom:
        data = "\ufeff" + data
    return data.encode("utf-8")


def _xlsx_bytes(dataset) -> bytes:
    """An .xlsx workbook in which text stays text (numbers stay numbers).

    tablib's own xlsx export writes a value starting with "=" as a formula:
    Excel would run it, and reading the file back (values only) would lose it.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("catalog")
    for values in [dataset.headers, *dataset]:
        row = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            row.append(cell)
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

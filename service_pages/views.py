"""Catalog import/export in the Wagtail admin, for editors who work in spreadsheets.

Export downloads the catalog through the same resources as ``export_services``.
Import is two steps so nothing is written by surprise: the uploaded file is
kept in a private folder (``VAR_DIR/imports``, never under ``MEDIA_ROOT`` where
it could be served) under a random token, a dry run of
``bulk.import_service_rows`` shows what would change and which rows are wrong,
and only "Confirm import" writes the pages, then deletes the file.

Who may use it: superusers and users with the ``service_pages.change_agency``
permission (give it to a group under Settings → Groups → "Agency: Can change").
Editing the catalog's agencies and replacing any service in bulk are the same
level of trust; per-agency editors keep using page permissions instead.
"""

import re
import secrets
import time
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods
from wagtail.admin import messages

from .bulk import import_service_rows, plan_import
from .files import SERVICE_COLUMNS, SUPPORTED, ImportFileError, max_import_bytes, read_table
from .resources import FORMATS, AgencyResource, ServiceResource, export_bytes

EXPORTS = {"services": ServiceResource, "agencies": AgencyResource}
SESSION_KEY = "catalog_import_tokens"
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
PREVIEW_ROWS = 50  # planned changes listed on the preview
MAX_PROBLEMS_SHOWN = 500  # a wrong column in 11,250 rows should not make a 200,000-row page
STALE_SECONDS = 24 * 3600  # uploads never confirmed are removed after a day
# Spreadsheet column of each compared model field, to tell editors what changed in their terms.
FIELD_COLUMNS = {
    "title": "title_mn", "summary": "summary_mn", "description": "description_mn", "agency_id": "agency_code",
    "category_id": "category", "required_documents": "required_documents", "channel_online": "channels",
    "channel_operator": "channels", "channel_in_person": "channels", "aimag_id": "aimag_code",
    "soum_id": "soum_code", "keywords": "keywords_mn",
    # Derived from these columns (catalog.is_instant_reference): an editor's tick reset by the import.
    "instant_reference": "xyp_code",
}  # fmt: skip


def can_manage_catalog(user) -> bool:
    """Whether ``user`` may bulk export/import the catalog (see the module docstring)."""
    return user.is_active and (user.is_superuser or user.has_perm("service_pages.change_agency"))


def _check(request):
    # Wagtail's admin URL wrapper turns PermissionDenied into a redirect with a message.
    if not can_manage_catalog(request.user):
        raise PermissionDenied


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Catalog file"),
        help_text=gettext_lazy("A .csv (UTF-8) or .xlsx file with the columns of the catalog export."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in SUPPORTED:
            raise forms.ValidationError(_("Upload a .csv (UTF-8) or .xlsx file."))
        if upload.size > max_import_bytes():
            raise forms.ValidationError(
                _("The file is %(size).1f MB; the limit is %(limit).1f MB")
                % {"size": upload.size / 2**20, "limit": max_import_bytes() / 2**20}
            )
        return upload


# --- the private upload folder ---------------------------------------------------------------


def imports_dir() -> Path:
    folder = Path(settings.VAR_DIR) / "imports"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _store_upload(request, upload) -> str:
    """Save the upload under a random token remembered in this session; return the token."""
    _remove_stale_uploads()
    token = secrets.token_hex(16)
    with (imports_dir() / (token + Path(upload.name).suffix.lower())).open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), token]
    return token


def _stored_upload(request, token: str) -> Path | None:
    """The file of an upload made in this session, or None (unknown, foreign or already used)."""
    if not TOKEN_RE.match(token) or token not in request.session.get(SESSION_KEY, []):
        return None
    return next((path for path in imports_dir().glob(token + ".*") if path.suffix in SUPPORTED), None)


def _discard_upload(request, path: Path):
    path.unlink(missing_ok=True)
    request.session[SESSION_KEY] = [token for token in request.session.get(SESSION_KEY, []) if token != path.stem]


def _remove_stale_uploads():
    cutoff = time.time() - STALE_SECONDS
    for path in imports_dir().iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


# --- views -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def catalog_home(request):
    """Export buttons and the upload form; a valid upload goes on to its preview."""
    _check(request)
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    if form.is_bound and form.is_valid():
        token = _store_upload(request, form.cleaned_data["file"])
        path = _stored_upload(request, token)
        try:
            read_table(path, SERVICE_COLUMNS)
        except ImportFileError as error:
            _discard_upload(request, path)
            form.add_error("file", str(error))
        else:
            return redirect("service_pages_catalog:preview", token=token)
    return _render_home(request, form)


def _render_home(request, form, *, error="", status=200):
    context = {"form": form, "error": error, "formats": list(FORMATS), "columns": SERVICE_COLUMNS}
    return render(request, "service_pages/admin/catalog.html", context, status=status)


@require_http_methods(["GET"])
def export_catalog(request, what: str, fmt: str):
    """Download every service (or agency) as CSV, XLSX or JSON, named after today's date."""
    _check(request)
    if what not in EXPORTS or fmt not in FORMATS:
        raise Http404
    data = export_bytes(EXPORTS[what]().export(), fmt, excel_bom=True)
    response = HttpResponse(data, content_type=FORMATS[fmt])
    filename = f"tumen-{what}-{timezone.localdate().isoformat()}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "POST"])
def import_preview(request, token: str):
    """GET: what the upload would change (nothing is written). POST: confirm or discard it."""
    _check(request)
    path = _stored_upload(request, token)
    if path is None:
        error = _("This upload does not exist any more (it was imported or discarded). Upload the file again.")
        return _render_home(request, UploadForm(), error=error, status=404)
    try:
        rows = read_table(path, SERVICE_COLUMNS)
    except ImportFileError as error:  # e.g. the size limit was lowered since the upload
        _discard_upload(request, path)
        return _render_home(request, UploadForm(), error=str(error))

    if request.method == "POST":
        if request.POST.get("action") == "discard":
            _discard_upload(request, path)
            messages.success(request, _("The upload was discarded; nothing was imported."))
            return redirect("service_pages_catalog:home")
        report = import_service_rows(rows, user=request.user)
        _discard_upload(request, path)  # after the import, so a failed one can be retried
        messages.success(
            request,
            _("Import finished: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
            % {"created": report.created, "updated": report.updated, "unchanged": report.unchanged},
        )
        if report.problems:
            count = report.error_rows
            skipped = ngettext(
                "%(count)d row with errors was skipped.", "%(count)d rows with errors were skipped.", count
            )
            messages.warning(request, skipped % {"count": count})
        return redirect("service_pages_catalog:home")

    report = import_service_rows(rows, dry_run=True)
    context = {
        "token": token,
        "total": len(rows),
        "report": report,
        "problems": report.problems[:MAX_PROBLEMS_SHOWN],
        "hidden_problems": max(len(report.problems) - MAX_PROBLEMS_SHOWN, 0),
        "changes": planned_changes(rows, PREVIEW_ROWS),
        "preview_rows": PREVIEW_ROWS,
    }
    return render(request, "service_pages/admin/preview.html", context)


def planned_changes(rows: list[dict], limit: int) -> list[dict]:
    """The first ``limit`` valid rows that would create or change a page.

    Computed with the same validation and comparison as the import itself
    (``bulk.plan_import``), so the list agrees with the
    dry run's counts.
    """
    plan = plan_import(rows)
    changes = [{"row": number, "code": values["code"], "title": values["title"], "new": True}
               for number, values in plan.to_create]  # fmt: skip
    for number, _page, values, fields in plan.to_update:
        columns = sorted({FIELD_COLUMNS.get(name, name) for name in fields})
        changes.append({"row": number, "code": values["code"], "title": values["title"], "columns": columns})
    changes.sort(key=lambda change: change["row"])
    return changes[:limit]
    return changes

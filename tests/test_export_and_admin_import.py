"""Catalog export (command, resources, admin download) and the admin import with preview.

The demo catalog (303 services) is loaded once per session by ``conftest``;
every test runs in a rolled-back transaction.
"""

import csv
import io
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook
from wagtail.users.models import UserProfile

from service_pages.bulk import import_service_rows
from service_pages.files import SERVICE_COLUMNS
from service_pages.models import ServicePage
from service_pages.resources import ServiceResource, rich_text_to_plain

pytestmark = pytest.mark.django_db
HOME = "/admin/catalog/"
NEW_TITLE = "Шинэ туршилтын үйлчилгээ"


def _export_row(code: str) -> dict:
    """One service as a row of an exported file (all text, as ``read_table`` gives it)."""
    queryset = ServiceResource().get_queryset().filter(code=code)
    return {column: str(value) for column, value in ServiceResource().export(queryset=queryset).dict[0].items()}


def _csv_upload(rows: list[dict], name="catalog.csv") -> io.BytesIO:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SERVICE_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    upload = io.BytesIO(buffer.getvalue().encode("utf-8"))
    upload.name = name
    return upload


def _count(html: str, name: str) -> int:
    return int(re.search(rf'data-count="{name}">(\d+)<', html).group(1))


@pytest.fixture
def imports(settings, tmp_path):
    """The private upload folder, moved into the test's own temporary directory."""
    settings.VAR_DIR = tmp_path
    return tmp_path / "imports"


@pytest.fixture
def english_admin(admin_client, admin_user):
    """The admin in English, so messages can be compared (Mongolian is the default)."""
    profile = UserProfile.get_for_user(admin_user)
    profile.preferred_language = "en"
    profile.save()
    return admin_client


# --- export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_exported_file_reimports_without_changes(demo_catalog, tmp_path, capsys, suffix):
    path = tmp_path / f"catalog.{suffix}"
    call_command("export_services", str(path))
    assert f"exported 303 services to {path}" in capsys.readouterr().out
    call_command("import_services", str(path))
    assert "created=0 updated=0 unchanged=303 errors=0" in capsys.readouterr().out


def test_csv_export_is_utf8_with_header_in_import_order(demo_catalog, tmp_path):
    path = tmp_path / "catalog.csv"
    call_command("export_services", str(path), stdout=io.StringIO())
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # plain UTF-8 for tools; the admin download adds a BOM
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    assert rows[0] == SERVICE_COLUMNS
    codes = [row[0] for row in rows[1:]]
    assert codes == sorted(codes) and len(codes) == 303


def test_json_export_lists_every_service_with_all_columns(demo_catalog, tmp_path):
    path = tmp_path / "catalog.json"
    call_command("export_services", str(path), stdout=io.StringIO())
    data = json.loads(path.read_text(encoding="utf-8"))
    assert len(data) == 303
    assert all(list(item) == SERVICE_COLUMNS for item in data)
    first = next(item for item in data if item["code"] == "DEMO-00001")
    page = ServicePage.objects.by_code("DEMO-00001")
    assert first["title_mn"] == page.title
    assert first["agency_code"] == page.agency.code
    assert first["fee_mnt"] == page.fee_mnt  # numbers stay numbers
    assert first["channels"] == "online | operator"
    assert first["required_documents"] == " | ".join(page.document_list)


def test_unknown_extension_is_a_clear_command_error(demo_catalog, tmp_path):
    with pytest.raises(CommandError, match=r"\.csv, \.xlsx, \.json"):
        call_command("export_services", str(tmp_path / "catalog.txt"))
    assert not (tmp_path / "catalog.txt").exists()


def test_export_agencies_names_the_parent_by_code(demo_catalog, tmp_path, capsys):
    from service_pages.models import Agency

    child = Agency.objects.first()
    parent = Agency.objects.exclude(pk=child.pk).first()
    child.parent = parent
    child.save()
    path = tmp_path / "agencies.csv"
    call_command("export_agencies", str(path))
    assert f"exported {Agency.objects.count()} agencies" in capsys.readouterr().out
    rows = {row["code"]: row for row in csv.DictReader(path.open(encoding="utf-8"))}
    assert rows[child.code]["parent_code"] == parent.code


def test_export_query_count_does_not_grow_with_rows(demo_catalog):
    resource = ServiceResource()
    with CaptureQueriesContext(connection) as few:
        assert len(resource.export(queryset=resource.get_queryset()[:5])) == 5
    with CaptureQueriesContext(connection) as all_rows:
        assert len(resource.export()) == 303
    assert len(all_rows) == len(few) <= 2


def test_rich_text_description_becomes_the_imported_text():
    assert rich_text_to_plain("<p>a &amp; b &lt;c&gt; “d” 'e'</p>") == "a & b <c> “d” 'e'"
    assert rich_text_to_plain('<h2>Title</h2><p>One <b>bold</b> <a href="#">link</a></p><ul><li>x</li></ul>') == (
        "Title One bold link x"
    )
    assert rich_text_to_plain("") == ""


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_awkward_text_survives_the_round_trip(demo_catalog, tmp_path, capsys, suffix):
    """Text that looks like a formula or HTML, quotes and line breaks come back exactly."""
    row = _export_row("DEMO-00005")
    row.update(
        title_mn="=1+1 «гарчиг» & <b>",
        description_mn='Мөр 1\nМөр 2 & "иш" <tag>',
        summary_mn="+380; -1",
        fee_mnt="0",
    )
    assert import_service_rows([row]).updated == 1
    path = tmp_path / f"awkward.{suffix}"
    call_command("export_services", str(path))
    call_command("import_services", str(path))
    assert "created=0 updated=0 unchanged=303" in capsys.readouterr().out
    assert _export_row("DEMO-00005")["title_mn"] == "=1+1 «гарчиг» & <b>"


# --- admin: access --------------------------------------------------------------------------


def test_anonymous_user_is_sent_to_login(client, demo_catalog):
    for url in (HOME, f"{HOME}export/services/csv/", f"{HOME}import/{'0' * 32}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def _admin_user(django_user_model, username, *perms):
    user = django_user_model.objects.create_user(username, password="pw")
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="service_pages", codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_editor_without_the_permission_is_refused(django_user_model, demo_catalog, imports):
    editor = _admin_user(django_user_model, "editor")
    for url in (HOME, f"{HOME}export/services/csv/"):
        response = editor.get(url)
        assert response.status_code in (302, 403)
        assert response.get("Location", "").rstrip("/") in ("/admin", "")
    response = editor.post(HOME, {"file": _csv_upload([_export_row("DEMO-00001")])})
    assert response.status_code in (302, 403)
    assert not imports.exists() or not any(imports.iterdir())
    assert HOME not in editor.get("/admin/").content.decode()  # no menu item either


def test_user_with_change_agency_may_use_it(django_user_model, demo_catalog):
    manager = _admin_user(django_user_model, "manager", "change_agency")
    assert manager.get(HOME).status_code == 200
    assert HOME in manager.get("/admin/").content.decode()  # the menu item


# --- admin: export --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt, content_type",
    [
        ("csv", "text/csv; charset=utf-8"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("json", "application/json"),
    ],
)
def test_export_download(admin_client, demo_catalog, fmt, content_type):
    response = admin_client.get(f"{HOME}export/services/{fmt}/")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="tumen-services-{today}.{fmt}"'
    if fmt == "csv":
        assert response.content.startswith(b"\xef\xbb\xbf")  # Excel then reads UTF-8
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert len(rows) == 303 and list(rows[0]) == SERVICE_COLUMNS
    elif fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
        assert [cell.value for cell in next(sheet.iter_rows())] == SERVICE_COLUMNS
    else:
        assert len(json.loads(response.content)) == 303


def test_export_of_unknown_format_is_404(admin_client, demo_catalog):
    assert admin_client.get(f"{HOME}export/services/pdf/").status_code == 404
    assert admin_client.get(f"{HOME}export/users/csv/").status_code == 404


# --- admin: import with preview -------------------------------------------------------------


def _upload_three_rows(client):
    """One new service (row 2), one with a changed fee (row 3), one with an unknown agency (row 4)."""
    new = _export_row("DEMO-00001") | {"code": "TEST-NEW-1", "title_mn": NEW_TITLE}
    changed = _export_row("DEMO-00002")
    changed["fee_mnt"] = str(int(changed["fee_mnt"]) + 1000)
    bad = _export_row("DEMO-00003") | {"code": "TEST-BAD-1", "agency_code": "no-such-agency"}
    return client.post(HOME, {"file": _csv_upload([new, changed, bad])})


def test_upload_shows_a_preview_and_writes_nothing(admin_client, demo_catalog, imports, settings):
    fee_before = ServicePage.objects.by_code("DEMO-00002").fee_mnt
    response = _upload_three_rows(admin_client)
    assert response.status_code == 302
    preview_url = response["Location"]
    assert re.fullmatch(rf"{HOME}import/[0-9a-f]{{32}}/", preview_url)

    stored = list(imports.iterdir())
    # Kept under VAR_DIR/imports (never MEDIA_ROOT) with a random name, not the uploaded one.
    assert len(stored) == 1 and stored[0].suffix == ".csv" and stored[0].name != "catalog.csv"
    assert stored[0].parent == settings.VAR_DIR / "imports"
    assert settings.MEDIA_ROOT not in stored[0].parents

    html = admin_client.get(preview_url).content.decode()
    assert (_count(html, "created"), _count(html, "updated"), _count(html, "unchanged"), _count(html, "errors")) == (
        1, 1, 0, 1,
    )  # fmt: skip
    errors = re.search(r'<table class="listing" id="import-errors">(.*?)</table>', html, re.S).group(1)
    assert re.search(r"<td>4</td>\s*<td><code>agency_code</code></td>", errors)
    changes = re.search(r'id="import-changes">(.*?)</table>', html, re.S).group(1)
    assert "TEST-NEW-1" in changes and NEW_TITLE in changes
    assert "DEMO-00002" in changes and "fee_mnt" in changes
    assert "TEST-BAD-1" not in changes
    assert 'name="action" value="import"' in html  # the confirm button

    # Nothing written by the upload or the preview.
    assert not ServicePage.objects.filter(code__in=["TEST-NEW-1", "TEST-BAD-1"]).exists()
    assert ServicePage.objects.by_code("DEMO-00002").fee_mnt == fee_before


def test_confirm_imports_and_deletes_the_upload(english_admin, demo_catalog, imports):
    preview_url = _upload_three_rows(english_admin)["Location"]
    fee_before = ServicePage.objects.by_code("DEMO-00002").fee_mnt
    response = english_admin.post(preview_url, {"action": "import"}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Import finished: 1 created, 1 updated, 0 unchanged." in html
    assert "1 row with errors was skipped." in html

    page = ServicePage.objects.get(code="TEST-NEW-1")
    assert page.live and page.title == NEW_TITLE
    assert page.get_parent().specific.agency == page.agency
    assert ServicePage.objects.by_code("DEMO-00002").fee_mnt == fee_before + 1000
    assert not ServicePage.objects.filter(code="TEST-BAD-1").exists()
    assert list(imports.iterdir()) == []

    again = english_admin.post(preview_url, {"action": "import"})
    assert again.status_code == 404
    assert "does not exist any more" in again.content.decode()


def test_cancel_discards_the_upload(admin_client, demo_catalog, imports):
    preview_url = _upload_three_rows(admin_client)["Location"]
    assert admin_client.post(preview_url, {"action": "discard"}).status_code == 302
    assert list(imports.iterdir()) == []
    assert not ServicePage.objects.filter(code="TEST-NEW-1").exists()


def test_unknown_or_foreign_token_is_refused(admin_client, django_user_model, demo_catalog, imports):
    assert admin_client.get(f"{HOME}import/{'a' * 32}/").status_code == 404
    assert admin_client.post(f"{HOME}import/..%2F..%2Fdb/", {"action": "import"}).status_code == 404
    # A token only works in the session that uploaded the file.
    preview_url = _upload_three_rows(admin_client)["Location"]
    other = Client()
    other.force_login(django_user_model.objects.create_superuser("other", password="pw"))
    assert other.post(preview_url, {"action": "import"}).status_code == 404
    assert not ServicePage.objects.filter(code="TEST-NEW-1").exists()


def test_confirm_needs_the_csrf_token(admin_user, demo_catalog, imports):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(HOME, {"file": _csv_upload([_export_row("DEMO-00001")])})
    assert response.status_code == 403
    assert not imports.exists() or list(imports.iterdir()) == []


def test_non_utf8_file_is_a_form_error_not_a_500(english_admin, demo_catalog, imports):
    content = (",".join(SERVICE_COLUMNS) + "\nDEMO-X,Caf\xe9\n").encode("latin-1")
    upload = io.BytesIO(content)
    upload.name = "latin1.csv"
    response = english_admin.post(HOME, {"file": upload})
    assert response.status_code == 200
    html = response.content.decode()
    assert "The file is not UTF-8 text" in html and "CSV UTF-8" in html
    assert list(imports.iterdir()) == []


def test_other_file_types_are_a_form_error(english_admin, demo_catalog, imports):
    upload = io.BytesIO(b"%PDF-1.4")
    upload.name = "catalog.pdf"
    response = english_admin.post(HOME, {"file": upload})
    assert response.status_code == 200
    assert "Upload a .csv (UTF-8) or .xlsx file." in response.content.decode()


def test_xlsx_upload_previews_like_csv(admin_client, demo_catalog, imports):
    from service_pages.resources import export_bytes

    queryset = ServiceResource().get_queryset().filter(code__in=["DEMO-00001", "DEMO-00002"])
    upload = io.BytesIO(export_bytes(ServiceResource().export(queryset=queryset), "xlsx"))
    upload.name = "two.xlsx"
    preview_url = admin_client.post(HOME, {"file": upload})["Location"]
    html = admin_client.get(preview_url).content.decode()
    assert (_count(html, "created"), _count(html, "updated"), _count(html, "unchanged")) == (0, 0, 2)

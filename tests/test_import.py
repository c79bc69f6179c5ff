"""Bulk import of the catalog: create, update, unchanged, errors, tree validity."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from wagtail.models import Page, PageLogEntry, Revision

from service_pages.files import SERVICE_COLUMNS
from service_pages.management.commands.load_demo_catalog import DEMO_DIR
from service_pages.models import ServicePage

pytestmark = pytest.mark.django_db
SHARED_CATALOG = Path(__file__).resolve().parents[2] / "shared" / "catalog"


def demo_rows() -> list[dict]:
    with (DEMO_DIR / "services.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[dict], columns=SERVICE_COLUMNS, encoding="utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    return path


def run_import(path, *args) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_services", str(path), *args, stdout=out, stderr=err)
        code = 0
    except CommandError as error:
        err.write(str(error))
        code = error.returncode
    return out.getvalue(), err.getvalue(), code


def new_row(code: str, title: str, **changes) -> dict:
    row = dict(demo_rows()[0], code=code, title_mn=title)
    row.update(changes)
    return row


def assert_tree_is_valid():
    # treebeard's own check: bad characters, step lengths, orphans, depths, child counts.
    assert all(not problems for problems in Page.find_problems()), Page.find_problems()


def test_reimporting_the_demo_changes_nothing(demo_catalog, tmp_path):
    out, err, code = run_import(write_csv(tmp_path / "same.csv", demo_rows()))
    assert code == 0, err
    assert out.strip().startswith(f"created=0 updated=0 unchanged={len(demo_rows())} errors=0 seconds=")


def test_new_rows_become_published_pages_under_their_agency(demo_catalog, tmp_path):
    rows = [new_row("NEW-1", "Шинэ үйлчилгээ нэг"), new_row("NEW-2", "Шинэ үйлчилгээ хоёр", agency_code="mta")]
    out, err, code = run_import(write_csv(tmp_path / "new.csv", rows))
    assert code == 0, err
    assert "created=2 updated=0 unchanged=0 errors=0" in out
    page = ServicePage.objects.get(code="NEW-2")
    assert page.live and page.title == "Шинэ үйлчилгээ хоёр"
    assert page.get_parent().specific.agency.code == "mta"
    assert page.live_revision_id == page.latest_revision_id is not None
    assert page.live_revision.as_object().title == page.title
    actions = set(PageLogEntry.objects.filter(page=page).values_list("action", flat=True))
    assert {"wagtail.create", "wagtail.publish"} <= actions
    assert_tree_is_valid()


def test_imported_pages_are_served_and_searchable(client, demo_catalog, tmp_path):
    run_import(write_csv(tmp_path / "new.csv", [new_row("NEW-3", "Цагаан сараар мал төллүүлэх тусламж")]))
    page = ServicePage.objects.get(code="NEW-3")
    assert client.get(page.url).status_code == 200
    found = [p.code for p in ServicePage.objects.live().search("төллүүлэх")]
    assert "NEW-3" in found


def test_a_changed_row_updates_its_page_with_a_new_revision(demo_catalog, tmp_path):
    rows = demo_rows()
    target = rows[2]["code"]
    page = ServicePage.objects.by_code(target)
    revisions_before = Revision.objects.filter(object_id=str(page.pk)).count()
    rows[2] = dict(rows[2], title_mn="Гадаад паспорт шинээр олгох", fee_mnt="60000")
    out, err, code = run_import(write_csv(tmp_path / "changed.csv", rows))
    assert code == 0, err
    assert f"created=0 updated=1 unchanged={len(rows) - 1} errors=0" in out
    page.refresh_from_db()
    assert (page.title, page.fee_mnt, page.live) == ("Гадаад паспорт шинээр олгох", 60000, True)
    assert Revision.objects.filter(object_id=str(page.pk)).count() == revisions_before + 1
    assert page.live_revision.as_object().fee_mnt == 60000
    assert PageLogEntry.objects.filter(page=page, action="wagtail.edit").exists()
    assert_tree_is_valid()


def test_bad_rows_are_reported_and_good_rows_still_import(demo_catalog, tmp_path):
    rows = [
        new_row("OK-1", "Зөв мөр"),
        new_row("BAD-1", "Буруу байгууллага", agency_code="no-such-agency"),
        new_row("BAD-2", "Буруу сум", aimag_code="11", soum_code="9999"),
        new_row("BAD-3", "Буруу хураамж", fee_mnt="үнэгүй"),
        new_row("OK-1", "Давхардсан код"),
    ]
    out, err, code = run_import(write_csv(tmp_path / "mixed.csv", rows), "--language", "en")
    assert code == 1
    assert "created=1 updated=0 unchanged=0 errors=4" in out
    assert "row 3, agency_code: unknown agency 'no-such-agency'" in err
    assert "row 4, soum_code: unknown soum '9999'" in err
    assert "row 5, fee_mnt: must be a whole number" in err
    assert "row 6, code: duplicate code OK-1, first on row 2" in err
    assert ServicePage.objects.filter(code="OK-1").exists()
    assert not ServicePage.objects.filter(code__startswith="BAD-").exists()


def test_errors_are_reported_in_mongolian_by_default(demo_catalog, tmp_path):
    _out, err, code = run_import(write_csv(tmp_path / "bad.csv", [new_row("BAD-9", "x", agency_code="zzz")]))
    assert code == 1
    assert "'zzz' байгууллага бүртгэлгүй" in err


def test_atomic_imports_nothing_when_a_row_is_bad(demo_catalog, tmp_path):
    rows = [new_row("AT-1", "Сайн мөр"), new_row("AT-2", "Муу мөр", category="no-such-category")]
    out, _err, code = run_import(write_csv(tmp_path / "atomic.csv", rows), "--atomic")
    assert code == 1
    assert out.startswith("atomic: nothing imported")
    assert not ServicePage.objects.filter(code__startswith="AT-").exists()


def test_dry_run_writes_nothing(demo_catalog, tmp_path):
    out, _err, code = run_import(write_csv(tmp_path / "dry.csv", [new_row("DRY-1", "Туршилт")]), "--dry-run")
    assert code == 0
    assert "dry run: created=1" in out
    assert not ServicePage.objects.filter(code="DRY-1").exists()


def test_wrong_encoding_is_refused_with_a_clear_message(demo_catalog, tmp_path):
    path = write_csv(tmp_path / "cp1251.csv", [new_row("ENC-1", "Иргэний үнэмлэх")], encoding="cp1251")
    _out, err, code = run_import(path, "--language", "en")
    assert code == 1
    assert "not UTF-8" in err
    assert not ServicePage.objects.filter(code="ENC-1").exists()


def test_missing_columns_are_named(demo_catalog, tmp_path):
    columns = [c for c in SERVICE_COLUMNS if c not in ("agency_code", "fee_mnt")]
    _out, err, code = run_import(write_csv(tmp_path / "cols.csv", [new_row("COL-1", "x")], columns=columns), "--language", "en")
    assert code == 1
    assert "Missing column(s): agency_code, fee_mnt" in err


def test_oversize_files_are_refused(demo_catalog, tmp_path):
    path = write_csv(tmp_path / "big.csv", demo_rows())
    with override_settings(TUMEN_IMPORT_MAX_BYTES=1024):
        _out, err, code = run_import(path, "--language", "en")
    assert code == 1
    assert "the limit is 0.0 MB" in err or "limit" in err
    assert "The file is" in err


def test_xlsx_files_import_like_csv(demo_catalog, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(SERVICE_COLUMNS)
    row = new_row("XLSX-1", "Эксел файлаас", fee_mnt="1500")
    sheet.append([int(row[c]) if c == "fee_mnt" else row[c] for c in SERVICE_COLUMNS])
    workbook.save(tmp_path / "catalog.xlsx")
    out, err, code = run_import(tmp_path / "catalog.xlsx")
    assert code == 0, err
    assert ServicePage.objects.get(code="XLSX-1").fee_mnt == 1500


def test_import_agencies_builds_delivery_urls(db, tmp_path):
    path = tmp_path / "agencies.csv"
    path.write_text(
        "code,name_mn,name_en,kind,parent_code,endpoint_path\n"
        "test-ministry,Туршилтын яам,Test Ministry,ministry,,/m/submissions\n"
        "test-office,Туршилтын газар,Test Office,agency,test-ministry,/o/submissions\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command("import_agencies", str(path), "--endpoint-base", "http://127.0.0.1:8765/", stdout=out)
    from service_pages.models import Agency

    office = Agency.objects.get(code="test-office")
    assert office.endpoint_url == "http://127.0.0.1:8765/o/submissions"
    assert office.parent.code == "test-ministry"
    assert office.pages.get().get_parent().specific.__class__.__name__ == "CatalogIndexPage"


@pytest.mark.engine
@pytest.mark.postgres
def test_the_national_catalog_imports_with_no_errors(tmp_path):
    """The real client: all 11,250 rows of ../shared/catalog, on PostgreSQL + OpenSearch."""
    services = SHARED_CATALOG / "services.csv"
    assert services.is_file(), f"{services} is missing: the services suite needs ../shared/catalog"
    call_command("import_agencies", str(SHARED_CATALOG / "agencies.csv"), stdout=io.StringIO())
    out, err, code = run_import(services)
    assert code == 0, err[:2000]
    assert "created=11250 updated=0 unchanged=0 errors=0" in out or ("errors=0" in out and "created=" in out)
    assert ServicePage.objects.filter(code__startswith="SRV-").count() == 11250
    assert_tree_is_valid()
    again, _err, code = run_import(services)
    assert code == 0 and "created=0 updated=0 unchanged=11250 errors=0" in again
    found = [p.code for p in ServicePage.objects.live().search("иргэний үнэмлэх олгох")[:10]]
    assert "SRV-000002" in found


def test_slugs_are_never_empty_or_shared(demo_catalog, tmp_path):
    rows = [new_row("ҮЙЛ-Ч", "Кирилл кодтой"), new_row("NEW-7", "Нэг"), new_row("new-7", "Хоёр")]
    _out, err, code = run_import(write_csv(tmp_path / "slugs.csv", rows))
    assert code == 0, err
    pages = {page.code: page for page in ServicePage.objects.filter(code__in=["ҮЙЛ-Ч", "NEW-7", "new-7"])}
    assert pages["ҮЙЛ-Ч"].slug and not pages["ҮЙЛ-Ч"].url_path.endswith("//")
    assert pages["NEW-7"].url_path != pages["new-7"].url_path
    assert_tree_is_valid()


def test_a_service_moving_to_another_agency_moves_in_the_tree(demo_catalog, tmp_path):
    rows = demo_rows()
    rows[0] = dict(rows[0], agency_code="ndeg")
    _out, err, code = run_import(write_csv(tmp_path / "moved.csv", rows))
    assert code == 0, err
    page = ServicePage.objects.by_code(rows[0]["code"])
    assert page.agency.code == "ndeg"
    assert page.get_parent().specific.agency.code == "ndeg"
    assert "/ndeg/" in page.url_path
    assert_tree_is_valid()


def test_too_long_values_and_nul_bytes_are_row_errors(demo_catalog, tmp_path):
    rows = [new_row("X" * 40, "Урт код"), new_row("NUL-1", "Нул\x00тэмдэгт")]
    _out, err, code = run_import(write_csv(tmp_path / "long.csv", rows), "--language", "en")
    assert code == 1
    assert "row 2, code: is longer than 32 characters" in err
    assert "row 3, title_mn: contains a character that is not allowed" in err


def test_spaces_around_header_names_are_ignored(demo_catalog, tmp_path):
    path = write_csv(tmp_path / "spaced.csv", [new_row("SPACE-1", "Хоосон зайтай толгой")])
    text = path.read_text(encoding="utf-8").split("\n", 1)
    path.write_text(", ".join(text[0].split(",")) + "\n" + text[1], encoding="utf-8")
    _out, err, code = run_import(path)
    assert code == 0, err
    assert ServicePage.objects.get(code="SPACE-1").title == "Хоосон зайтай толгой"

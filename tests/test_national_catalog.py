"""The national catalog shipped with the product (``make run``): complete, consistent, readable.

Loading all 11,250 services takes tens of seconds, so it is timed by ``bench/first_run.py``
(docs/benchmarks.md), not loaded here; these tests read the shipped files and load a slice.
"""

import csv
import gzip
import io

import pytest
from django.core.management import call_command

from service_pages import catalog
from service_pages.management.commands.load_demo_catalog import NATIONAL_DIR
from service_pages.models import ServicePage

DATA = NATIONAL_DIR.parent


def shipped(name: str) -> list[dict]:
    return catalog.read_csv(catalog.catalog_file(NATIONAL_DIR, name))


def codes(name: str, column: str = "code") -> set[str]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return {row[column] for row in csv.DictReader(handle)}


def test_the_national_catalog_ships_compressed_and_complete():
    assert catalog.catalog_file(NATIONAL_DIR, "services.csv").name == "services.csv.xz"
    assert (NATIONAL_DIR / "services.csv.xz").stat().st_size < 400_000, "small enough to ship in the repository"
    services, agencies = shipped("services.csv"), shipped("agencies.csv")
    assert len(services) == 11_250 and len({row["code"] for row in services}) == 11_250
    assert len(agencies) == 63
    agency_codes = {row["code"] for row in agencies}
    # Every reference resolves to shipped data: agencies, categories and the real admin divisions.
    assert {row["agency_code"] for row in services} <= agency_codes
    assert {code for row in services for code in catalog.split_list(row["stage_agencies"])} <= agency_codes
    assert {row["category"] for row in services} <= codes("categories.csv", "slug")
    assert {row["aimag_code"] for row in services} - {""} <= codes("aimags.csv")
    assert {row["soum_code"] for row in services} - {""} <= codes("soums.csv")
    assert sum(1 for row in services if row["soum_code"]) == 10_680, "32 local services in each of 339 soums and districts"


def test_read_csv_reads_gzip_as_well(tmp_path):
    path = tmp_path / "services.csv.gz"
    path.write_bytes(gzip.compress("code,title_mn\nX-1,Гэрчилгээ\n".encode("utf-8")))
    assert catalog.catalog_file(tmp_path, "services.csv") == path
    assert catalog.read_csv(path) == [{"code": "X-1", "title_mn": "Гэрчилгээ"}]


@pytest.mark.django_db
def test_a_slice_of_the_national_catalog_loads_with_its_english_pages(tmp_path, client):
    """The loader reads the compressed files; a few hundred rows stand for the 11,250."""
    rows = shipped("services.csv")
    picked = rows[:150] + rows[-150:]  # national services and local ones
    with gzip.open(tmp_path / "services.csv.gz", "wt", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(picked)
    (tmp_path / "agencies.csv").write_bytes((NATIONAL_DIR / "agencies.csv").read_bytes())
    out = io.StringIO()
    call_command("load_demo_catalog", directory=str(tmp_path), stdout=out)
    assert "loading 300 services of 63 agencies" in out.getvalue()
    national = ServicePage.objects.live().filter(code__startswith="SRV-")
    assert national.canonical().count() == 300
    assert national.exclude(locale__language_code="mn").count() == 300, "each with its English page"
    total = ServicePage.objects.live().canonical().count()  # the session's demo catalog too
    assert f"{total:,} services in the catalog" in client.get("/en/").content.decode()

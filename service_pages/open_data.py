"""The whole public catalog as one CSV or JSON file (open data), built once per catalog state.

The first request after a change builds the file (11,250 services: a few seconds) under a lock,
so concurrent requests wait for one build instead of each making their own; later requests
stream the file from disk. A file is named by the catalog state (``open_catalog.catalog_state``),
so a publish, unpublish or restriction makes the next request build a new one; older files are
removed (a request still streaming one keeps its open handle).

The CSV has the columns of ``import_services`` (``files.SERVICE_COLUMNS``: the file can be
imported as it is) followed by ``url_mn``, ``url_en`` and ``updated``. The JSON is
``{"generated_at", "count", "services": [...]}`` with each service as the detail API gives it.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
from pathlib import Path

from django.conf import settings

from . import open_catalog
from .files import SERVICE_COLUMNS
from .resources import rich_text_to_plain

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
EXTRA_COLUMNS = ["url_mn", "url_en", "updated"]
LIST_JOINER = " | "


def directory() -> Path:
    path = Path(getattr(settings, "TUMEN_OPEN_DATA_DIR", "") or Path(settings.VAR_DIR) / "open-data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def catalog_file(token: str, fmt: str) -> Path:
    """The file of the catalog in state ``token`` in format ``fmt`` (``csv``/``json``), built if missing."""
    folder = directory()
    path = folder / f"catalog-{token}.{fmt}"
    if path.exists():
        return path
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = path.with_name(path.name + ".partial")
            with partial.open("w", encoding="utf-8", newline="") as handle:
                WRITERS[fmt](handle, token)
            os.replace(partial, path)
            for old in folder.glob(f"catalog-*.{fmt}"):
                if old != path:
                    old.unlink(missing_ok=True)
    return path


def write_json(handle, token: str) -> None:
    """``{"generated_at", "count", "services": [...]}``, written a service at a time."""
    count = 0
    handle.write('{"generated_at": %s, "services": [' % json.dumps(open_catalog.generated_at()))
    for item in open_catalog.every_service(token):
        handle.write(("," if count else "") + "\n" + json.dumps(item, ensure_ascii=False))
        count += 1
    handle.write('\n], "count": %d}\n' % count)


def csv_row(item: dict) -> dict:
    """One service in the import's columns (lists joined by `` | ``), plus its URLs and date."""
    place = item["place"]
    return {
        "code": item["code"],
        "title_mn": item["title"]["mn"],
        "title_en": item["title"]["en"] or "",
        "agency_code": item["agency"]["code"],
        "category": item["category"]["slug"] if item["category"] else "",
        "summary_mn": item["summary"]["mn"],
        "description_mn": rich_text_to_plain(item["description"]["mn"]),
        "required_documents": LIST_JOINER.join(item["required_documents"]),
        "fee_mnt": item["fee_mnt"],
        "processing_days": item["processing_days"],
        "channels": LIST_JOINER.join(item["channels"]),
        "stages": item["stage_count"],
        "stage_agencies": LIST_JOINER.join(stage["agency"]["code"] for stage in item["stages"]),
        "legal_basis": item["legal_basis"] or "",
        "aimag_code": place["aimag"]["code"] if place["aimag"] else "",
        "soum_code": place["soum"]["code"] if place["soum"] else "",
        "xyp_code": item["xyp_code"] or "",
        "keywords_mn": LIST_JOINER.join(item["keywords"]),
        "url_mn": item["url"]["mn"] or "",
        "url_en": item["url"]["en"] or "",
        "updated": item["updated"],
    }


def write_csv(handle, token: str) -> None:
    writer = csv.DictWriter(handle, fieldnames=[*SERVICE_COLUMNS, *EXTRA_COLUMNS])
    writer.writeheader()
    for item in open_catalog.every_service(token):
        writer.writerow(csv_row(item))


WRITERS = {"csv": write_csv, "json": write_json}

"""The open catalog: every public service as data, for the API and the bulk downloads.

What is public: live Mongolian originals that no view restriction covers (``Page.public()``:
none on the page or a page above it). English facts come from the service's English page
when it is live and public too. Built from column queries in batches (no ``page.specific``,
no per-page URL routing), so the whole catalog serialises in a second or two.

The *catalog state* (``catalog_state()``) says when anything public may have changed: the newest
page and snippet audit-log entries (every publish, unpublish, move, delete, import and admin edit
writes one), the view restrictions, and the agencies' and categories' names. The API's ETags and
``Last-Modified`` and the bulk files' names come from it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, DateTimeField, Q, Value
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from wagtail.models import ModelLogEntry, Page, PageLogEntry, PageViewRestriction, Site

from core.languages import default_language

from .channels import CHANNELS
from .models import Agency, Category, ServicePage

ENGLISH = "en"
# Pages without a publication date (not expected for live pages) sort first.
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SERVICE_FIELDS = (
    "id", "code", "title", "title_en", "summary", "description", "required_documents", "fee_mnt",
    "processing_days", "stages", "stage_agencies", "legal_basis", "xyp_code", "keywords", "instant_reference",
    "accepts_applications", "translation_key", "url_path", "first_published_at", "last_published_at",
    "agency_id", "category_id", "aimag_id", "soum_id", *(channel.field for channel in CHANNELS.values()),
)  # fmt: skip


@dataclass(frozen=True)
class CatalogState:
    token: str  # changes whenever anything public may have changed
    last_modified: dt.datetime | None


def catalog_state() -> CatalogState:
    """The catalog's version, from two small SQL statements (every API request asks).

    Plain SQL on indexed columns: through the ORM, building the five look-ups cost more than
    running them.
    """
    tables = {
        "page_log": PageLogEntry._meta.db_table,
        "model_log": ModelLogEntry._meta.db_table,
        "restriction": PageViewRestriction._meta.db_table,
        "agency": Agency._meta.db_table,
        "category": Category._meta.db_table,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT MAX(id) FROM {page_log}), (SELECT MAX(timestamp) FROM {page_log}), "
            "(SELECT MAX(id) FROM {model_log}), (SELECT MAX(timestamp) FROM {model_log}), "
            "(SELECT COUNT(*) FROM {restriction}), (SELECT MAX(id) FROM {restriction})".format(**tables)
        )
        page_log, page_stamp, model_log, model_stamp, restrictions, top_restriction = cursor.fetchone()
        cursor.execute(
            "SELECT code, name_mn, name_en, kind, parent_id FROM {agency} "
            "UNION ALL SELECT slug, name_mn, name_en, '', sort_order FROM {category} ORDER BY 1, 4".format(**tables)
        )
        names = cursor.fetchall()
    digest = hashlib.sha256(repr((page_log, model_log, restrictions, top_restriction, names)).encode()).hexdigest()
    stamps = [_aware(stamp) for stamp in (page_stamp, model_stamp) if stamp is not None]
    return CatalogState(token=digest[:20], last_modified=max(stamps) if stamps else None)


def _aware(stamp) -> dt.datetime:
    """A timestamp column as SQL gave it (SQLite: text in UTC) as an aware datetime."""
    if isinstance(stamp, str):
        stamp = dt.datetime.fromisoformat(stamp)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def public_pages():
    """Every public service: live original pages no view restriction covers."""
    return ServicePage.objects.live().public().canonical()


def public_services():
    """``public_pages()`` with ``updated``: when each was last published (the listing's order)."""
    return public_pages().annotate(updated=Coalesce("last_published_at", Value(EPOCH, output_field=DateTimeField())))


def count_by(field: str) -> dict:
    """Number of public services per value of ``field`` (e.g. ``agency__code``), in one query."""
    return dict(public_pages().order_by().values_list(field).annotate(count=Count("pk")).values_list(field, "count"))


# -- cursors --------------------------------------------------------------------------------


class BadCursor(ValueError):
    """A ``cursor`` this API did not hand out."""


def encode_cursor(updated: dt.datetime, page_id: int) -> str:
    """An opaque position in the stable order (``updated``, ``id``) of the listing."""
    raw = json.dumps([updated.astimezone(dt.UTC).isoformat(), page_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, page_id = json.loads(raw)
        updated = dt.datetime.fromisoformat(stamp)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise BadCursor(cursor) from None
    if type(page_id) is not int or updated.tzinfo is None or not 0 < page_id < 2**63:
        raise BadCursor(cursor)
    return updated, page_id


def after_cursor(queryset, cursor: tuple[dt.datetime, int] | None):
    """``queryset`` in the listing's order, from just after ``cursor``."""
    if cursor is not None:
        updated, page_id = cursor
        queryset = queryset.filter(Q(updated__gt=updated) | Q(updated=updated, id__gt=page_id))
    return queryset.order_by("updated", "id")


# -- paths and names ------------------------------------------------------------------------


class Paths:
    """Public paths of pages in each language, from their ``url_path`` (as the sitemap does).

    The site's root page (and its English translation) is the home page: a page's path is its
    ``url_path`` below it, with ``/en`` in front for English (``i18n_patterns``).
    """

    def __init__(self):
        site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
        self.roots: dict[str, int] = {}
        if site is None:
            return
        for language, url_path in Page.objects.filter(translation_key=site.root_page.translation_key).values_list(
            "locale__language_code", "url_path"
        ):
            self.roots[language] = len(url_path) - 1

    def path(self, url_path: str, language: str) -> str | None:
        base = self.roots.get(language)
        if base is None or len(url_path) <= base:
            return None
        prefix = "" if language == default_language() else f"/{language}"
        return prefix + url_path[base:]


def bilingual_name(mn: str, en: str) -> dict:
    return {"mn": mn, "en": en or None}


class Names:
    """Agencies, categories and places by id, each read once per request (they are few)."""

    def __init__(self):
        from .models import Aimag, Soum

        self.agencies = {a.pk: a for a in Agency.objects.all()}
        self.agency_codes = {a.code: a for a in self.agencies.values()}
        self.categories = {c.pk: c for c in Category.objects.all()}
        self.aimags = {a.pk: a for a in Aimag.objects.all()}
        self.soums = {s.pk: s for s in Soum.objects.all()}

    def agency(self, agency: Agency | None) -> dict | None:
        if agency is None:
            return None
        return {"code": agency.code, "name": bilingual_name(agency.name_mn, agency.name_en)}

    def category(self, pk) -> dict | None:
        category = self.categories.get(pk)
        return None if category is None else {"slug": category.slug, "name": bilingual_name(category.name_mn, category.name_en)}

    def place(self, model: dict, pk) -> dict | None:
        place = model.get(pk)
        return None if place is None else {"code": place.code, "name": bilingual_name(place.name_mn, place.name_en)}


def split(text: str, separator: str) -> list[str]:
    return [item.strip() for item in (text or "").split(separator) if item.strip()]


def english_pages(translation_keys: Iterable) -> dict:
    """The live, public English pages of these services, by translation key."""
    rows = (
        ServicePage.objects.live().public().in_language(ENGLISH)
        .filter(translation_key__in=list(translation_keys))
        .values("translation_key", "title", "summary", "description", "url_path")
    )  # fmt: skip
    return {row["translation_key"]: row for row in rows}


def _link(name: str, code: str, language: str) -> str | None:
    try:
        with translation.override(language):
            return reverse(name, args=[code])
    except NoReverseMatch:  # the forms or references app is not installed
        return None


def application_links(row: dict) -> dict | None:
    """Where a citizen applies online (the form, or the instant reference), else None."""
    if not (row["channel_online"] and row["accepts_applications"]):
        return None
    name = "reference_request" if row["instant_reference"] else "form_start"
    return {
        "kind": "reference" if row["instant_reference"] else "form",
        "url": {"mn": _link(name, row["code"], default_language()), "en": _link(name, row["code"], ENGLISH)},
        "form_api": None if row["instant_reference"] else reverse("api_service_form", args=[row["code"]]),
    }


def english_title(row: dict, english_row: dict | None) -> str | None:
    """The English title: the English page's, unless it is still the Mongolian one (a local
    service without ``title_en`` gets a Mongolian-titled English page), else ``title_en``."""
    if english_row and english_row["title"] != row["title"]:
        return english_row["title"]
    return row["title_en"] or None


def summary_item(row: dict, paths: Paths, names: Names, english: dict) -> dict:
    """One service in the listing: what a harvester needs to decide whether to fetch the detail."""
    english_row = english.get(row["translation_key"])
    return {
        "code": row["code"],
        "title": {"mn": row["title"], "en": english_title(row, english_row)},
        "url": {
            "mn": paths.path(row["url_path"], default_language()),
            "en": paths.path(english_row["url_path"], ENGLISH) if english_row else None,
        },
        "agency": names.agencies[row["agency_id"]].code,
        "category": names.categories[row["category_id"]].slug if row["category_id"] in names.categories else None,
        "aimag": names.aimags[row["aimag_id"]].code if row["aimag_id"] in names.aimags else None,
        "soum": names.soums[row["soum_id"]].code if row["soum_id"] in names.soums else None,
        "channels": [key for key, channel in CHANNELS.items() if row[channel.field]],
        "fee_mnt": row["fee_mnt"],
        "processing_days": row["processing_days"],
        "stage_count": row["stages"],
        "updated": row["updated"].isoformat(),
        "detail": reverse("api_catalog_service", args=[row["code"]]),
    }


def detail_item(row: dict, paths: Paths, names: Names, english: dict) -> dict:
    """Every public fact of one service, in both languages."""
    item = summary_item(row, paths, names, english)
    english_row = english.get(row["translation_key"])
    stage_codes = split(row["stage_agencies"], "|") or [item["agency"]]
    item.update(
        summary={"mn": row["summary"], "en": english_row["summary"] if english_row else None},
        description={"mn": row["description"], "en": english_row["description"] if english_row else None},
        agency=names.agency(names.agencies[row["agency_id"]]),
        category=names.category(row["category_id"]),
        place={"aimag": names.place(names.aimags, row["aimag_id"]), "soum": names.place(names.soums, row["soum_id"])},
        required_documents=[line.strip() for line in row["required_documents"].splitlines() if line.strip()],
        stages=[
            {"number": number, "agency": names.agency(names.agency_codes.get(code)) or {"code": code, "name": None}}
            for number, code in enumerate(stage_codes, start=1)
        ],
        legal_basis=row["legal_basis"] or None,
        keywords=split(row["keywords"], "|"),
        xyp_code=row["xyp_code"] or None,
        instant_reference=row["instant_reference"],
        accepts_applications=row["accepts_applications"],
        apply=application_links(row),
        first_published=row["first_published_at"].isoformat() if row["first_published_at"] else None,
    )
    item.pop("detail")
    return item


# (catalog state token, Paths, Names, Access) of the last request in this process: they change only with it.
_lookups: tuple | None = None


class Access:
    """What decides whether a page is public, read once per catalog state: the paths of the view
    restrictions (a page is covered by one on itself or above it), and each locale's language."""

    def __init__(self):
        from wagtail.models import Locale

        self.restricted = list(PageViewRestriction.objects.values_list("page__path", flat=True))
        self.languages = dict(Locale.objects.values_list("pk", "language_code"))

    def is_public(self, row: dict) -> bool:
        return row["live"] and not any(row["path"].startswith(path) for path in self.restricted)


def lookups(token: str) -> tuple[Paths, Names, Access]:
    """The paths, names and access rules for catalog state ``token``, read once per state and process."""
    global _lookups
    if _lookups is None or _lookups[0] != token:
        _lookups = (token, Paths(), Names(), Access())
    return _lookups[1:]


def serialise(rows: list[dict], token: str, make=summary_item) -> list[dict]:
    """``make(row, ...)`` for each row, with the English pages of the batch read in one query."""
    paths, names, _access = lookups(token)
    english = english_pages(row["translation_key"] for row in rows)
    return [make(row, paths, names, english) for row in rows]


def service_rows(queryset) -> list[dict]:
    return list(queryset.values(*SERVICE_FIELDS, "updated"))


def service_by_code(code: str, token: str) -> dict | None:
    """Every public fact of the public service with this code, or None.

    One query reads the service's pages in every language by code (indexed); whether each is
    live and public is decided here with the restrictions' paths (``Access``), as
    ``Page.public()`` would, so a detail costs one query besides the catalog state.
    """
    rows = ServicePage.objects.filter(code=code).order_by().values(*SERVICE_FIELDS, "locale_id", "live", "path")
    paths, names, access = lookups(token)
    public = {}
    for row in rows:
        if access.is_public(row):
            row["updated"] = row["last_published_at"] or EPOCH
            public[access.languages.get(row["locale_id"])] = row
    original = public.get(default_language())
    if original is None:
        return None
    english = {original["translation_key"]: public[ENGLISH]} if ENGLISH in public else {}
    return detail_item(original, paths, names, english)


def every_service(token: str, batch_size: int = 1000) -> Iterator[dict]:
    """Every public service's detail, in the listing's order, read in batches."""
    cursor = None
    while True:
        rows = service_rows(after_cursor(public_services(), cursor)[:batch_size])
        if not rows:
            return
        yield from serialise(rows, token, detail_item)
        cursor = (rows[-1]["updated"], rows[-1]["id"])


def generated_at() -> str:
    return timezone.now().isoformat()

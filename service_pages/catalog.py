"""Reading catalog rows (the CSV format of ``services.csv``) into the page tree.

One function turns a CSV row into model field values and reports every bad
column; another writes those values as a page under its agency. The demo
loader and the import commands share them, so the demo catalog exercises the
same code as the real 11,250-service import.
"""

import csv
import gzip
import lzma
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.dispatch import Signal
from django.utils.text import slugify
from django.utils.translation import gettext as _
from wagtail.models import Site

from .channels import CHANNELS
from .models import Agency, AgencyPage, Aimag, CatalogIndexPage, Category, ServicePage, Soum, stage_agencies_problem

LIST_SEPARATOR = "|"

# Sent by ``import_agencies --endpoint-base`` (and ``load_demo_catalog --endpoint-base``) inside
# the import's transaction, with ``agencies`` (the imported Agency rows that have an endpoint URL).
# The plugins app answers with one ``dict`` per agency it gave a delivery target
# (``plugins.provisioning``): the catalog does not know delivery, only that agencies arrived.
agencies_imported = Signal()
# Text fields with a length limit in the database, and the spreadsheet column each comes from.
MAX_LENGTHS = {
    field.name: field.max_length
    for field in ServicePage._meta.get_fields()
    if field.name in ("code", "title", "title_en", "stage_agencies", "legal_basis", "xyp_code", "keywords")
}
COLUMN_OF_FIELD = {"title": "title_mn", "keywords": "keywords_mn"}


class RowError(ValueError):
    """A row that cannot be imported; ``errors`` maps column -> reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{column}: {reason}" for column, reason in errors.items()))
        self.errors = errors


@dataclass
class Lookups:
    """Agencies, categories and places by code, loaded once per import."""

    agencies: dict = field(default_factory=dict)
    categories: dict = field(default_factory=dict)
    aimags: dict = field(default_factory=dict)
    soums: dict = field(default_factory=dict)

    @classmethod
    def load(cls) -> "Lookups":
        return cls(
            agencies={a.code: a for a in Agency.objects.all()},
            categories={c.slug: c for c in Category.objects.all()},
            aimags={a.code: a for a in Aimag.objects.all()},
            soums={s.code: s for s in Soum.objects.all()},
        )


# Compressed catalogs are read as they are: the product ships the national catalog as ``.csv.xz``.
OPENERS = {".xz": lzma.open, ".gz": gzip.open}


def read_csv(path: Path) -> list[dict]:
    """The rows of a catalog CSV file, plain or compressed (``.csv.xz``, ``.csv.gz``)."""
    path = Path(path)
    opener = OPENERS.get(path.suffix, open)
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def catalog_file(directory: Path, name: str) -> Path:
    """``directory/name``, or its compressed copy (``name.xz``, ``name.gz``) when only that exists."""
    for candidate in (name, *(name + suffix for suffix in OPENERS)):
        if (Path(directory) / candidate).exists():
            return Path(directory) / candidate
    return Path(directory) / name


def split_list(value: str) -> list[str]:
    return [item.strip() for item in (value or "").split(LIST_SEPARATOR) if item.strip()]


def _non_negative_int(value: str, column: str, errors: dict) -> int:
    try:
        number = int((value or "0").strip())
    except ValueError:
        errors[column] = _("must be a whole number, got %(value)r") % {"value": value}
        return 0
    if number < 0:
        errors[column] = _("must not be negative")
    return number


REFERENCE_WORD = "лавлагаа"


def is_instant_reference(title: str, xyp_code: str, stages: int) -> bool:
    """Whether a catalog row is an instant reference (лавлагаа), from its data alone.

    The national catalog has no column for it; its 115 reference services are the ones with an
    ХУР operation (``xyp_code``: the data comes from the agency's register over ХУР) whose title
    says "лавлагаа", all single-stage. All three must hold: an ``xyp_code`` alone also marks
    services that only check data, and a multi-stage service is an application, not a
    document handed out on the spot. Derived from exported columns, so an export re-imports
    unchanged; an editor may still tick or untick it on one page (a later import of that row
    sets it from the data again).
    """
    return bool(xyp_code.strip()) and REFERENCE_WORD in title.lower() and stages <= 1


def service_fields(row: dict, lookups: Lookups) -> dict:
    """Model field values for one ``services.csv`` row, or ``RowError``."""
    # Spreadsheet cells and JSON may hold numbers or nothing; compare everything as text.
    row = {key: "" if value is None else str(value) for key, value in row.items()}
    errors: dict[str, str] = {}
    for column, value in row.items():
        if "\x00" in value:  # PostgreSQL text cannot hold NUL; never worth keeping
            errors[column] = _("contains a character that is not allowed")
    code = (row.get("code") or "").strip()
    title = (row.get("title_mn") or "").strip()
    if not code:
        errors["code"] = _("is required")
    if not title:
        errors["title_mn"] = _("is required")
    agency = lookups.agencies.get((row.get("agency_code") or "").strip())
    if agency is None:
        errors["agency_code"] = _("unknown agency %(code)r") % {"code": row.get("agency_code")}
    category = None
    if (row.get("category") or "").strip():
        category = lookups.categories.get(row["category"].strip())
        if category is None:
            errors["category"] = _("unknown category %(slug)r") % {"slug": row["category"]}
    channels = split_list(row.get("channels", ""))
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        errors["channels"] = _("unknown channel(s): %(names)s") % {"names": ", ".join(unknown)}
    aimag = soum = None
    if (row.get("aimag_code") or "").strip():
        aimag = lookups.aimags.get(row["aimag_code"].strip())
        if aimag is None:
            errors["aimag_code"] = _("unknown aimag %(code)r") % {"code": row["aimag_code"]}
    if (row.get("soum_code") or "").strip():
        soum = lookups.soums.get(row["soum_code"].strip())
        if soum is None:
            errors["soum_code"] = _("unknown soum %(code)r") % {"code": row["soum_code"]}
        elif aimag is not None and soum.aimag_id != aimag.pk:
            errors["soum_code"] = _("soum %(code)s is not in aimag %(aimag)s") % {
                "code": soum.code,
                "aimag": aimag.code,
            }
    fee = _non_negative_int(row.get("fee_mnt", ""), "fee_mnt", errors)
    days = _non_negative_int(row.get("processing_days", ""), "processing_days", errors)
    stages = _non_negative_int(row.get("stages", "") or "1", "stages", errors)
    stage_problem = stage_agencies_problem(stages or 1, " | ".join(split_list(row.get("stage_agencies", ""))), lookups.agencies)
    if stage_problem:
        errors["stage_agencies"] = stage_problem
    if errors:
        raise RowError(errors)
    values = {
        "code": code,
        "title": title,
        "title_en": (row.get("title_en") or "").strip(),
        "summary": (row.get("summary_mn") or "").strip(),
        "description": _paragraphs((row.get("description_mn") or "").strip()),
        "agency": agency,
        "category": category,
        "required_documents": "\n".join(split_list(row.get("required_documents", ""))),
        "fee_mnt": fee,
        "processing_days": days,
        "stages": max(stages, 1),
        "stage_agencies": " | ".join(split_list(row.get("stage_agencies", ""))),
        "legal_basis": (row.get("legal_basis") or "").strip(),
        "aimag": aimag,
        "soum": soum,
        "xyp_code": (row.get("xyp_code") or "").strip(),
        "keywords": " | ".join(split_list(row.get("keywords_mn", ""))),
    }
    values["instant_reference"] = is_instant_reference(title, values["xyp_code"], values["stages"])
    for key, channel in CHANNELS.items():
        values[channel.field] = key in channels
    too_long = {
        COLUMN_OF_FIELD.get(name, name): _("is longer than %(max)s characters") % {"max": limit}
        for name, limit in MAX_LENGTHS.items()
        if len(values[name]) > limit
    }
    if too_long:
        raise RowError(too_long)
    return values


def _paragraphs(text: str) -> str:
    from django.utils.html import escape

    return f"<p>{escape(text)}</p>" if text else ""


def catalog_root() -> CatalogIndexPage:
    """The (Mongolian) catalog index under the default site's home page, created on first use."""
    existing = CatalogIndexPage.objects.canonical().first()
    if existing:
        return existing
    site = Site.objects.get(is_default_site=True)
    home = site.root_page.specific
    # The home page model belongs to the project app above this one: ask the catalog's own rule
    # (``parent_page_types``) rather than import it.
    if type(home) not in CatalogIndexPage.allowed_parent_page_models():
        raise RuntimeError("The default site's root page is not a HomePage; run migrations first.")
    catalog = CatalogIndexPage(title="Үйлчилгээний каталог", slug="uilchilgee")
    home.add_child(instance=catalog)
    return catalog


def upsert_agency(row: dict, endpoint_base: str = "") -> tuple[Agency, bool]:
    """Create or update an agency (and its catalog page) from an ``agencies.csv`` row."""
    code = (row.get("code") or "").strip()
    if not code or not (row.get("name_mn") or "").strip():
        raise RowError({"code" if not code else "name_mn": _("is required")})
    kind = (row.get("kind") or Agency.Kind.AGENCY).strip()
    if kind not in Agency.Kind.values:
        raise RowError({"kind": _("unknown kind %(kind)r") % {"kind": kind}})
    endpoint_path = (row.get("endpoint_path") or "").strip()
    defaults = {
        "name_mn": row["name_mn"].strip(),
        "name_en": (row.get("name_en") or "").strip(),
        "kind": kind,
        "endpoint_path": endpoint_path,
    }
    if endpoint_base and endpoint_path:
        defaults["endpoint_url"] = endpoint_base.rstrip("/") + "/" + endpoint_path.lstrip("/")
    agency, created = Agency.objects.update_or_create(code=code, defaults=defaults)
    parent_code = (row.get("parent_code") or "").strip()
    if parent_code and parent_code != code:
        agency.parent = Agency.objects.filter(code=parent_code).first()
        agency.save(update_fields=["parent"])
    ensure_agency_page(agency)
    return agency, created


def ensure_agency_page(agency: Agency) -> AgencyPage:
    """The agency's (Mongolian) catalog page, created on first use."""
    page = AgencyPage.objects.canonical().filter(agency=agency).first()
    if page is None:
        page = AgencyPage(title=agency.name_mn, slug=slugify(agency.code), agency=agency)
        catalog_root().add_child(instance=page)
    return page


def unique_slug(code: str, taken: set[str]) -> str:
    """A URL slug for ``code`` not yet used among its siblings (``taken`` is updated).

    Codes may hold Cyrillic or differ only in case ("NEW-1", "new-1"); a page
    must never get an empty slug or share a URL with its sibling.
    """
    base = slugify(code, allow_unicode=True) or "service"
    slug, number = base, 1
    while slug in taken:
        number += 1
        slug = f"{base}-{number}"
    taken.add(slug)
    return slug


@transaction.atomic
def create_service_page(values: dict) -> ServicePage:
    """Create one published service page under its agency's page (the simple path)."""
    parent = ensure_agency_page(values["agency"])
    taken = set(parent.get_children().values_list("slug", flat=True))
    page = ServicePage(slug=unique_slug(values["code"], taken), **values)
    parent.add_child(instance=page)
    page.save_revision().publish()
    return page


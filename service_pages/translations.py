"""The catalog in a second language (English): translations made and kept in sync in bulk.

A translation is what Wagtail's ``copy_for_translation`` makes: a copy of the original page
with the same ``translation_key``, in the other locale, under the translation of the original's
parent. ``translate()`` (``manage.py translate_catalog``) gives the whole catalog one:

1. the tree: the home page, the catalog index and each agency's page are copied with Wagtail's
   own ``copy_for_translation`` (a few dozen pages) and published; an agency page is titled
   with ``Agency.name_en``; a new agency page gets its original's editors, moderators and
   workflow (``governance.mirror_page_governance``);
2. the services, in bulk like ``bulk.py`` (11,250 in seconds, not minutes): treebeard paths
   computed under the English agency page, page rows inserted in batches, one published
   revision and the audit-log entries per page. The title is ``title_en`` (the Mongolian
   title while there is none); the other text is copied from the original. Translations are
   not indexed: search finds the originals, which carry ``title_en`` too.

Running it again updates what exists:

- *facts* (``FACT_FIELDS``: code, agency, fee, channels, ...) always follow the original, and a
  translation whose service moved to another agency moves with it;
- *text* (``TEXT_FIELDS``) is refreshed only where no translator has edited it: each run keeps
  a fingerprint of the text it wrote (``sync_fingerprints``); a field whose value no longer
  matches its fingerprint was changed by a person and is never overwritten. Translations made
  in the admin ("Translate") have no fingerprints: their text is all the translator's;
- a translation with a draft in progress keeps the draft (no new revision): the live page and
  the draft's revision get the new facts only.

The bulk import (``bulk.import_service_rows``) calls ``sync_existing_translations`` for the
services it changed, so a re-import keeps the English pages' facts in line.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from wagtail.models import Locale, Page, Revision

from cms.languages import default_language
from cms.models import HomePage

from . import governance
from .bulk import BATCH_SIZE, Progress, _content_types, _publish_revisions, _step_of, published_child
from .catalog import unique_slug
from .models import Agency, AgencyPage, CatalogIndexPage, ServicePage

SOURCE = "translate_catalog"
# Follow the original on every run (what the service is, not how it is worded).
FACT_FIELDS = (
    "code", "title_en", "agency_id", "category_id", "fee_mnt", "processing_days", "channel_online",
    "channel_operator", "channel_in_person", "stages", "stage_agencies", "aimag_id", "soum_id", "xyp_code",
    "accepts_applications", "form_definition_id",
)  # fmt: skip
# Worded text: copied from the original until a translator edits it (the title comes from title_en).
TEXT_FIELDS = ("title", "summary", "description", "required_documents", "keywords", "legal_basis")
# Copied once, when the translation is made.
COPIED_ONCE = ("seo_title", "search_description")
# Titles of the two pages above the agencies (a translator may change them; later runs keep theirs).
HOME_TITLE = _("Public services")
CATALOG_TITLE = _("Service catalog")


def fingerprint(value) -> str:
    """A short, stable digest of a text value (what the sync wrote; see the module docstring)."""
    return hashlib.blake2b(str(value or "").encode(), digest_size=8).hexdigest()


@dataclass
class TranslationReport:
    language: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    drafts_kept: int = 0  # translations with a draft in progress: facts refreshed, draft kept
    edits_kept: int = 0  # text fields left alone because a translator changed them
    tree_pages_created: int = 0  # home, catalog index, agency pages
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"language={self.language} created={self.created} updated={self.updated} unchanged={self.unchanged} "
            f"moved={self.moved} drafts_kept={self.drafts_kept} translator_edits_kept={self.edits_kept} "
            f"tree_pages_created={self.tree_pages_created} seconds={self.seconds:.1f}"
        )


def service_texts(original: ServicePage) -> dict:
    """What a fresh translation's text fields hold: the English title, the rest copied."""
    texts = {name: getattr(original, name) for name in TEXT_FIELDS}
    texts["title"] = original.title_en or original.title
    return texts


def translate(language="en", agency_codes=None, *, user=None, progress_stream=None, log=None) -> TranslationReport:
    """Give the catalog (or the given agencies' part of it) translations in ``language``; see the module docstring."""
    started = time.monotonic()
    log = log or (lambda message: None)
    locale = _locale(language)
    report = TranslationReport(language=language)
    agency_pages = _agency_translations(locale, agency_codes, report, user)
    log(f"tree: {len(agency_pages)} agency pages in {language} ({report.tree_pages_created} pages created)")
    originals = ServicePage.objects.canonical().live()
    _sync_services(originals, locale, agency_pages, report, user, progress_stream, create=True)
    report.seconds = time.monotonic() - started
    return report


def sync_existing_translations(codes: list[str], *, user=None) -> int:
    """Bring the existing translations of these services in line with their originals; returns how many changed.

    Creates nothing: a service without a translation keeps being served in Mongolian under
    ``/en/`` until ``translate_catalog`` runs.
    """
    changed = 0
    originals = ServicePage.objects.canonical().filter(code__in=codes)
    for locale in Locale.objects.exclude(language_code=default_language()):
        if not ServicePage.objects.in_language(locale.language_code).filter(code__in=codes).exists():
            continue
        report = TranslationReport(language=locale.language_code)
        # The agencies' pages in that language (made if a service moved to an agency without one).
        agency_codes = set(originals.values_list("agency__code", flat=True))
        if not agency_codes:
            continue
        agency_pages = _agency_translations(locale, agency_codes, report, user)
        _sync_services(originals, locale, agency_pages, report, user, None, create=False)
        changed += report.updated
    return changed


def _locale(language: str) -> Locale:
    if language == default_language():
        raise ValueError(f"{language!r} is the language of the originals; choose the language to translate into")
    locale, _created = Locale.objects.get_or_create(language_code=language)
    return locale


# --- 1. the tree: home, catalog index, agency pages (Wagtail's own copy, a few dozen pages) ---------


def _agency_translations(locale, agency_codes, report, user) -> list[AgencyPage]:
    """The translated agency pages in scope (made where missing), above them the home and catalog."""
    home = HomePage.objects.canonical().filter(depth=2).first()
    if home is None:
        raise RuntimeError("There is no home page; run migrations first.")
    catalog = CatalogIndexPage.objects.canonical().child_of(home).first()
    if catalog is None:
        return []
    _translation_of(home, locale, report, user, title=HOME_TITLE)
    _translation_of(catalog, locale, report, user, title=CATALOG_TITLE)
    originals = AgencyPage.objects.canonical().child_of(catalog).select_related("agency")
    if agency_codes:
        originals = originals.filter(agency__code__in=agency_codes)
    pages = []
    for original in originals:
        agency = original.agency
        page = _translation_of(original, locale, report, user, title=agency.name_en or agency.name_mn)
        pages.append(page)
    return pages


def _translation_of(original, locale, report, user, title):
    """The original's translation in ``locale``: copied and published if there is none.

    An existing agency page translation gets a new title when the agency's English name
    changed and no translator retitled the page (its title fingerprint still matches).
    """
    existing = original.get_translations().filter(locale=locale).first()
    if existing is not None:
        existing = existing.specific
        _refresh_title(existing, str(title), user)
        return existing
    with translation.override(locale.language_code), transaction.atomic():
        page = original.copy_for_translation(locale)
        page.title = page.draft_title = str(title)
        if isinstance(page, AgencyPage):
            page.sync_fingerprints = {"title": fingerprint(page.title)}
        page.save_revision(user=user, log_action=True).publish(user=user)
        governance.mirror_page_governance(original, page)
    report.tree_pages_created += 1
    return page


def _refresh_title(page, title: str, user) -> None:
    fingerprints = getattr(page, "sync_fingerprints", None)
    if not fingerprints or fingerprints.get("title") != fingerprint(page.title) or page.title == title:
        return
    if page.has_unpublished_changes:
        return  # a translator's draft is in progress; their publish decides the title
    page.title = page.draft_title = title
    page.sync_fingerprints = {**fingerprints, "title": fingerprint(title)}
    page.save_revision(user=user, log_action=True).publish(user=user)


# --- 2. the services, in bulk -------------------------------------------------------------------


def _sync_services(originals, locale, agency_pages, report, user, progress_stream, create: bool) -> None:
    """Create missing translations (if ``create``) and update existing ones, in batches.

    Only services whose agency has a page in ``locale`` (``agency_pages``) are handled.
    """
    target_parent = {page.agency_id: page for page in agency_pages}
    originals = list(originals.filter(agency_id__in=list(target_parent)).order_by("path"))
    existing = {
        page.translation_key: page
        for page in ServicePage.objects.filter(
            translation_key__in=[page.translation_key for page in originals], locale=locale
        )
    }
    progress = Progress(f"translating ({locale.language_code})", len(originals), progress_stream)
    missing = [page for page in originals if page.translation_key not in existing]
    pairs = [(page, existing[page.translation_key]) for page in originals if page.translation_key in existing]
    with transaction.atomic():
        if create and missing:
            _create_translations(missing, locale, target_parent, user, progress)
            report.created += len(missing)
        _update_translations(pairs, target_parent, report, user, progress, done=len(missing) if create else 0)


def _create_translations(originals, locale, target_parent, user, progress) -> None:
    service_ct, page_ct = _content_types()
    now = timezone.now()
    by_parent = defaultdict(list)
    for original in originals:
        by_parent[original.agency_id].append(original)
    pages = []
    for agency_id, group in by_parent.items():
        parent = target_parent[agency_id]
        parent.refresh_from_db(fields=["path", "depth", "numchild", "url_path"])
        last_child = parent.get_last_child()
        step = _step_of(last_child.path) if last_child else 0
        taken = set(parent.get_children().values_list("slug", flat=True))
        for original in group:
            step += 1
            pages.append(
                _new_translation(
                    original, parent, step, unique_slug(original.slug, taken), locale, service_ct, now, user
                )
            )
        Page.objects.filter(pk=parent.pk).update(numchild=F("numchild") + len(group))
    page_fields = [f for f in Page._meta.concrete_fields if not f.primary_key]
    own_fields = ServicePage._meta.local_concrete_fields
    for start in range(0, len(pages), BATCH_SIZE):
        batch = pages[start : start + BATCH_SIZE]
        # The same multi-table insert as bulk._create_pages.
        returned = Page._base_manager._insert(batch, fields=page_fields, returning_fields=[Page._meta.pk])
        for page, (page_id,) in zip(batch, returned, strict=True):
            page.id = page.page_ptr_id = page_id
        ServicePage._base_manager._insert(batch, fields=own_fields)
        _publish_revisions(batch, service_ct, page_ct, user, now, created=True, source=SOURCE)
        progress.update(start + len(batch))


def _new_translation(original, parent, step, slug, locale, service_ct, now, user) -> ServicePage:
    texts = service_texts(original)
    values = {name: getattr(original, name) for name in FACT_FIELDS + COPIED_ONCE}
    assert parent.locale_id == locale.pk, "a translation goes under its parent's translation"
    return published_child(
        parent, step, slug, content_type=service_ct, now=now, user=user, translation_key=original.translation_key,
        sync_fingerprints={name: fingerprint(value) for name, value in texts.items()}, **values, **texts,
    )  # fmt: skip


def _update_translations(pairs, target_parent, report, user, progress, done: int) -> None:
    """Apply each original's facts, and its text where untouched, to its translation."""
    changed, drafts, moved = [], [], []
    for number, (original, page) in enumerate(pairs, start=1):
        # A draft in progress is the translator's: only facts, on the live row and in the draft.
        changes = _changes(original, page, report, text=not page.has_unpublished_changes)
        if not changes:
            report.unchanged += 1
        else:
            for name, value in changes.items():
                setattr(page, name, value)
            (drafts if page.has_unpublished_changes else changed).append((page, changes))
        if not page.path.startswith(target_parent[original.agency_id].path):
            moved.append((page, target_parent[original.agency_id]))
        progress.update(done + number)
    _save_published(changed, user)
    _save_with_draft(drafts)
    for page, parent in moved:
        ServicePage.objects.get(pk=page.pk).move(parent, pos="last-child", user=user)
    report.updated += len({page.pk for page, _changes in changed + drafts} | {page.pk for page, _parent in moved})
    report.drafts_kept += len(drafts)
    report.moved += len(moved)


def _changes(original: ServicePage, page: ServicePage, report: TranslationReport, text: bool) -> dict:
    """The field values ``page`` should take from ``original``: facts, and (if ``text``) text nobody edited."""
    changes = {name: getattr(original, name) for name in FACT_FIELDS if getattr(page, name) != getattr(original, name)}
    if not text:
        return changes
    fingerprints = dict(page.sync_fingerprints or {})
    for name, wanted in service_texts(original).items():
        current = getattr(page, name)
        if current == wanted:
            continue
        if fingerprints.get(name) != fingerprint(current):
            report.edits_kept += 1
            continue
        changes[name] = wanted
        fingerprints[name] = fingerprint(wanted)
    if fingerprints != (page.sync_fingerprints or {}):
        changes["sync_fingerprints"] = fingerprints
    if "title" in changes:
        changes["draft_title"] = changes["title"]
    return changes


def _save_published(items, user) -> None:
    """Changed translations without a draft: saved with a new published revision each."""
    if not items:
        return
    service_ct, page_ct = _content_types()
    now = timezone.now()
    pages = [page for page, _changes in items]  # whole rows, with the new values set
    fields = sorted({name for _page, changes in items for name in changes})
    for page in pages:
        page.last_published_at = page.latest_revision_created_at = now
    fields += ["last_published_at", "latest_revision_created_at"]
    for start in range(0, len(pages), BATCH_SIZE):
        batch = pages[start : start + BATCH_SIZE]
        ServicePage.objects.bulk_update(batch, fields)
        _publish_revisions(batch, service_ct, page_ct, user, now, created=False, source=SOURCE)


def _save_with_draft(items) -> None:
    """Translations with a draft in progress: the live row and the draft's revision get the new facts.

    No new revision: the translator keeps working on theirs, and publishing it later cannot
    bring back an old fee or agency. Their text is left alone (``_changes(text=False)``).
    """
    if not items:
        return
    fields = sorted({name for _page, changes in items for name in changes})
    ServicePage.objects.bulk_update([page for page, _changes in items], fields)
    revisions = Revision.objects.in_bulk(
        [page.latest_revision_id for page, _changes in items if page.latest_revision_id]
    )
    for page, changes in items:
        revision = revisions.get(page.latest_revision_id)
        if revision is None:
            continue
        for name in FACT_FIELDS:
            if name in changes:
                revision.content[name[:-3] if name.endswith("_id") else name] = changes[name]
    Revision.objects.bulk_update(list(revisions.values()), ["content"])


def agencies_in_scope(codes: list[str]) -> list[str]:
    """The agency codes, checked: unknown ones raise ``ValueError`` naming them."""
    known = set(Agency.objects.filter(code__in=codes).values_list("code", flat=True))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise ValueError(", ".join(unknown))
    return codes

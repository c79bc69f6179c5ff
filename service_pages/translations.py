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
  the draft's revision get the new facts only;
- a translation goes under the translation of its original's parent page (where an editor moved
  the original in the admin), the agency's page in that language only when that parent has none;
- an English page that already has an untranslated service's code (made by hand) is adopted as
  its translation when it is not a translation of anything else; otherwise that service is
  skipped and named in the summary (``code_conflicts``): nothing is rolled back.

The English tree is never more public than the original (``follow_originals``): a translation is
*withdrawn* (unpublished, marked ``WITHDRAWN``) while its original is unpublished, expired, deleted
or behind a view restriction (``PageViewRestriction``, on itself or an ancestor), and republished
when the original is live and public again. ``signals.py`` does it as it happens (Wagtail's
``page_published``/``page_unpublished``, page moves and deletions, restrictions added or removed,
whatever did it: the admin, bulk actions, ``publish_scheduled``, code); ``translate()`` does it
again for the whole catalog. Private originals are not translated: their ``/en/`` URL falls back
to the original (``core.languages.FallbackRoutingMixin``), which asks for the login or password.

The bulk import (``bulk.import_service_rows``) calls ``sync_existing_translations`` for the
services it changed, so a re-import keeps the English pages' facts in line.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from wagtail.models import Locale, Page, PageLogEntry, Revision

from core.languages import default_language
from core.progress import Progress

from . import governance, page_writer
from .catalog import unique_slug
from .models import Agency, AgencyPage, CatalogIndexPage, ServicePage

SOURCE = "translate_catalog"
# Follow the original on every run (what the service is, not how it is worded).
FACT_FIELDS = (
    "code", "title_en", "agency_id", "category_id", "fee_mnt", "processing_days", "channel_online",
    "channel_operator", "channel_in_person", "stages", "stage_agencies", "aimag_id", "soum_id", "xyp_code",
    "accepts_applications", "form_definition_id", "expire_at",
)  # fmt: skip
# Not go_live_at: a translation is published with its original (``follow_originals``); a copied
# future go_live_at would only make the translator's next "Publish" a scheduled one.
# Worded text: copied from the original until a translator edits it (the title comes from title_en).
TEXT_FIELDS = ("title", "summary", "description", "required_documents", "keywords", "legal_basis")
# Copied once, when the translation is made.
COPIED_ONCE = ("seo_title", "search_description")
# Titles of the two pages above the agencies (a translator may change them; later runs keep theirs).
HOME_TITLE = _("Public services")
CATALOG_TITLE = _("Service catalog")
# Key in a translation's ``sync_fingerprints``: unpublished because its original was not visible
# (not live, or private); ``follow_originals`` republishes it when the original is visible again.
WITHDRAWN = "~withdrawn_with_original"
# Page types whose translations follow their originals' publication (they have ``sync_fingerprints``).
FOLLOWING_TYPES = (ServicePage, AgencyPage)


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
    withdrawn: int = 0  # unpublished: the original is not live or not public
    republished: int = 0  # withdrawn earlier, published again with their original
    adopted: int = 0  # pages made by hand with a service's code, now its translation
    code_conflicts: list = None  # codes of services skipped: another page in the language has the code
    seconds: float = 0.0

    def __post_init__(self):
        self.code_conflicts = list(self.code_conflicts or [])

    def summary(self) -> str:
        conflicts = f" ({', '.join(self.code_conflicts)})" if self.code_conflicts else ""
        return (
            f"language={self.language} created={self.created} updated={self.updated} unchanged={self.unchanged} "
            f"moved={self.moved} drafts_kept={self.drafts_kept} translator_edits_kept={self.edits_kept} "
            f"tree_pages_created={self.tree_pages_created} withdrawn={self.withdrawn} "
            f"republished={self.republished} adopted={self.adopted} "
            f"code_conflicts={len(self.code_conflicts)}{conflicts} seconds={self.seconds:.1f}"
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
    # First the translations whose original is not (or again) live and public: withdrawn, republished.
    report.withdrawn, report.republished = follow_originals(Page.objects.all(), user=user)
    agency_pages = _agency_translations(locale, agency_codes, report, user)
    log(f"tree: {len(agency_pages)} agency pages in {language} ({report.tree_pages_created} pages created)")
    # Only what anyone may see: a private original's /en/ URL falls back to it (and its login).
    originals = ServicePage.objects.canonical().live().public()
    _sync_services(originals, locale, agency_pages, report, user, progress_stream, create=True)
    for code in report.code_conflicts:
        log(f"skipped {code}: another {language} page has this code and is not its translation")
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


# --- 0. translations follow their originals' publication and privacy ----------------------------


def follow_originals(originals, *, user=None) -> tuple[int, int]:
    """Withdraw the translations of the originals (in ``originals``, a page queryset) that are not live
    or not public; republish those withdrawn earlier whose original is live and public again.

    Returns ``(withdrawn, republished)``. A handful of queries, whatever the number of pages; then
    one unpublish or republish per page that changes. Translations a translator unpublished (not
    marked ``WITHDRAWN``) stay unpublished.
    """
    default = default_language()
    originals = originals.filter(locale__language_code=default)
    hidden = originals.filter(Q(live=False) | originals.private_q())
    others = Page.objects.exclude(locale__language_code=default).filter(alias_of__isnull=True)
    withdrawn = 0
    for page in others.filter(live=True, translation_key__in=hidden.values("translation_key")).specific():
        withdraw(page, user=user)
        withdrawn += 1
    visible = originals.live().public().values("translation_key")
    republished = 0
    for model in FOLLOWING_TYPES:
        # Marked by the cascade, or expired with the original (expire_at is one of the facts).
        marked = Q(sync_fingerprints__has_key=WITHDRAWN) | Q(live=False, expired=True)
        for page in model.objects.exclude(locale__language_code=default).filter(marked, translation_key__in=visible):
            republished += _republish(page, user)
    return withdrawn, republished


def withdraw(page, *, user=None) -> None:
    """Unpublish a translation because its original is not visible, marked for ``follow_originals``."""
    if isinstance(page, FOLLOWING_TYPES):
        page.sync_fingerprints = {**(page.sync_fingerprints or {}), WITHDRAWN: True}
    page.unpublish(user=user, log_action=True)


def _republish(page, user) -> int:
    """Make a withdrawn translation live again with the revision that was live (its last published one).

    The page row still holds that content (unpublishing changes no field; later runs kept the
    facts up to date), so no revision is published over a translator's newer draft: the draft
    stays a draft. ``expire_at`` follows the original again.
    """
    fingerprints = {key: value for key, value in (page.sync_fingerprints or {}).items() if key != WITHDRAWN}
    if page.live:  # published again meanwhile: just forget the mark
        type(page).objects.filter(pk=page.pk).update(sync_fingerprints=fingerprints)
        return 0
    last = (
        PageLogEntry.objects.filter(page_id=page.pk, action="wagtail.publish", revision__isnull=False)
        .order_by("-timestamp", "-pk").values_list("revision_id", flat=True).first()
    )  # fmt: skip
    revision_id = last or page.latest_revision_id
    if revision_id is None:
        return 0
    original = Page.objects.filter(
        translation_key=page.translation_key, locale__language_code=default_language()
    ).values_list("expire_at", flat=True)
    page.sync_fingerprints = fingerprints
    page.expire_at = original.first()
    page.live, page.expired, page.live_revision_id = True, False, revision_id
    page.has_unpublished_changes = page.latest_revision_id != revision_id
    page.last_published_at = timezone.now()
    fields = ["sync_fingerprints", "expire_at", "live", "expired", "live_revision", "has_unpublished_changes",
              "last_published_at"]  # fmt: skip
    page.save(clean=False, update_fields=fields)
    PageLogEntry.objects.log_action(
        page, "wagtail.publish", user=user, revision_id=revision_id, data={"source": "original visible again"}
    )
    return 1


def translated_parent(original, locale) -> Page | None:
    """Where the original's translation in ``locale`` belongs: under the translation of the
    original's parent, else (a service) under its agency's page in that language."""
    parent = original.get_parent()
    found = Page.objects.filter(translation_key=parent.translation_key, locale=locale).first()
    if found is None and isinstance(original, ServicePage):
        found = AgencyPage.objects.filter(agency_id=original.agency_id, locale=locale).first()
    return found


def _locale(language: str) -> Locale:
    if language == default_language():
        raise ValueError(f"{language!r} is the language of the originals; choose the language to translate into")
    locale, _created = Locale.objects.get_or_create(language_code=language)
    return locale


# --- 1. the tree: home, catalog index, agency pages (Wagtail's own copy, a few dozen pages) ---------


def _agency_translations(locale, agency_codes, report, user) -> list[AgencyPage]:
    """The translated agency pages in scope (made where missing), above them the home and catalog.

    Only live, public originals get a translation (a draft or private page stays Mongolian).
    """
    catalog = CatalogIndexPage.objects.canonical().first()
    if catalog is None:
        return []
    # The home page above the catalog (its model lives in the project app, a layer above).
    home = catalog.get_parent().specific
    if _translation_of(home, locale, report, user, title=HOME_TITLE) is None:
        return []
    if _translation_of(catalog, locale, report, user, title=CATALOG_TITLE) is None:
        return []
    originals = AgencyPage.objects.canonical().child_of(catalog).live().public().select_related("agency")
    if agency_codes:
        originals = originals.filter(agency__code__in=agency_codes)
    pages = []
    for original in originals:
        agency = original.agency
        page = _translation_of(original, locale, report, user, title=agency.name_en or agency.name_mn)
        if page is not None:
            pages.append(page)
    return pages


def _translation_of(original, locale, report, user, title):
    """The original's translation in ``locale``: copied and published if there is none.

    An existing agency page translation gets a new title when the agency's English name
    changed and no translator retitled the page (its title fingerprint still matches). One
    that was never published (made with the admin's "Translate") is published, with the
    agency's rights and workflow. ``None`` when the original is not live (or not public) and
    has no translation: a draft is not published in another language.
    """
    existing = original.get_translations().filter(locale=locale).first()
    visible = original.live and not original.get_view_restrictions().exists()
    if existing is not None:
        existing = existing.specific
        if not existing.live and visible:
            return _publish_draft_translation(original, existing, str(title), user)
        _refresh_title(existing, str(title), user)
        return existing
    if not visible:
        return None
    with translation.override(locale.language_code), transaction.atomic():
        page = original.copy_for_translation(locale)
        page.title = page.draft_title = str(title)
        if isinstance(page, AgencyPage):
            page.sync_fingerprints = {"title": fingerprint(page.title)}
        page.save_revision(user=user, log_action=True).publish(user=user)
        governance.mirror_page_governance(original, page)
    report.tree_pages_created += 1
    return page


def _publish_draft_translation(original, existing, title: str, user):
    """Publish a tree page's translation that is not live (e.g. made with "Translate" and left a draft).

    Its latest draft is published; a title still the original's (not translated yet) becomes
    ``title``; the page gets its original's permissions and workflow, as a new one would.
    """
    with translation.override(existing.locale.language_code), transaction.atomic():
        page = existing.get_latest_revision_as_object()
        if page.title == original.title:
            page.title = page.draft_title = title
            if isinstance(page, AgencyPage):
                page.sync_fingerprints = {**(page.sync_fingerprints or {}), "title": fingerprint(title)}
        if isinstance(page, FOLLOWING_TYPES):
            page.sync_fingerprints = {k: v for k, v in (page.sync_fingerprints or {}).items() if k != WITHDRAWN}
        page.save_revision(user=user, log_action=True).publish(user=user)
        governance.mirror_page_governance(original, page)
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
    """Update existing translations, then create missing ones (if ``create``), in batches.

    Only services whose agency has a page in ``locale`` (``agency_pages``) are handled. Updates
    come first: a code moving from one service to another frees it before a page takes it.
    """
    agency_page = {page.agency_id: page for page in agency_pages}
    originals = list(originals.filter(agency_id__in=list(agency_page)).order_by("path"))
    target_parent = _target_parents(originals, locale, agency_page)
    originals = [page for page in originals if page.pk in target_parent]
    existing = {
        page.translation_key: page
        for page in ServicePage.objects.filter(
            translation_key__in=[page.translation_key for page in originals], locale=locale
        )
    }
    missing = [page for page in originals if page.translation_key not in existing]
    if missing:
        for original, page in _adopt(missing, locale, report):
            existing[original.translation_key] = page
        missing = [page for page in originals if page.translation_key not in existing]
    pairs = [(page, existing[page.translation_key]) for page in originals if page.translation_key in existing]
    pairs = _without_conflicts(pairs, locale, report)
    progress = Progress(
        f"translating ({locale.language_code})", len(pairs) + (len(missing) if create else 0), progress_stream
    )
    with transaction.atomic():
        _update_translations(pairs, target_parent, report, user, progress, done=0)
        if create and missing:
            missing = _without_conflicts([(page, None) for page in missing], locale, report)
            _create_translations(
                [page for page, _none in missing], locale, target_parent, user, progress, done=len(pairs)
            )
            report.created += len(missing)


def _target_parents(originals, locale, agency_page) -> dict:
    """``{original id: the page its translation goes under}``: the translation of the original's parent
    (so a move made in the admin holds), else the agency's page in ``locale``. Three queries."""
    parent_keys = dict(
        Page.objects.filter(path__in={page_writer.parent_path(page) for page in originals}).values_list(
            "path", "translation_key"
        )
    )
    translated = {
        page.translation_key: page
        for page in Page.objects.filter(translation_key__in=set(parent_keys.values()), locale=locale)
    }
    targets = {}
    for original in originals:
        parent = translated.get(parent_keys.get(page_writer.parent_path(original))) or agency_page.get(original.agency_id)
        if parent is not None:
            targets[original.pk] = parent
    return targets


def _adopt(missing, locale, report) -> list:
    """English pages made by hand with an untranslated service's code become its translation.

    Only a page that is nobody else's translation (its ``translation_key`` is its own) is adopted;
    the others are left to ``_without_conflicts``. Returns ``[(original, page)]``.
    """
    by_code = {page.code: page for page in missing}
    holders = list(ServicePage.objects.filter(locale=locale, code__in=list(by_code)))
    if not holders:
        return []
    shared = set(
        Page.objects.filter(translation_key__in=[page.translation_key for page in holders])
        .order_by().values("translation_key").annotate(pages=Count("id")).filter(pages__gt=1)
        .values_list("translation_key", flat=True)
    )  # fmt: skip
    adopted = []
    for page in holders:
        if page.translation_key in shared:
            continue
        original = by_code[page.code]
        Page.objects.filter(pk=page.pk).update(translation_key=original.translation_key)
        page.translation_key = original.translation_key
        adopted.append((original, page))
    report.adopted += len(adopted)
    return adopted


def _without_conflicts(pairs, locale, report) -> list:
    """The pairs whose original's code no other page in ``locale`` holds; the others are reported.

    Writing that code would break "one code per language" (and roll the whole run back).
    """
    wanted = {original.code: original for original, page in pairs if page is None or page.code != original.code}
    if not wanted:
        return pairs
    held = dict(ServicePage.objects.filter(locale=locale, code__in=list(wanted)).values_list("code", "translation_key"))
    blocked = {code for code, key in held.items() if key != wanted[code].translation_key}
    report.code_conflicts += sorted(blocked)
    return [(original, page) for original, page in pairs if original.code not in blocked]


def _create_translations(originals, locale, target_parent, user, progress, done: int = 0) -> None:
    service_ct, _page_ct = page_writer.content_types()
    now = timezone.now()
    by_parent = defaultdict(list)
    for original in originals:
        by_parent[target_parent[original.pk].pk].append(original)
    pages = []
    for group in by_parent.values():
        parent = target_parent[group[0].pk]
        step = page_writer.next_free_step(parent)
        taken = set(parent.get_children().values_list("slug", flat=True))
        for original in group:
            step += 1
            pages.append(
                _new_translation(
                    original, parent, step, unique_slug(original.slug, taken), locale, service_ct, now, user
                )
            )
        page_writer.reserve_children(parent, len(group))
    page_writer.insert_pages(pages, user=user, now=now, source=SOURCE, progress=lambda count: progress.update(done + count))


def _new_translation(original, parent, step, slug, locale, service_ct, now, user) -> ServicePage:
    texts = service_texts(original)
    values = {name: getattr(original, name) for name in FACT_FIELDS + COPIED_ONCE}
    assert parent.locale_id == locale.pk, "a translation goes under its parent's translation"
    return page_writer.published_child(
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
        parent = target_parent[original.pk]
        if not page_writer.is_child_of(page, parent):
            moved.append((page, parent))
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
    pages = [page for page, _changes in items]  # whole rows, with the new values set
    fields = sorted({name for _page, changes in items for name in changes})
    page_writer.update_published(pages, fields, user=user, source=SOURCE)


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

"""Two page trees, one per language: what the rest of the code needs to know about them.

Mongolian (``settings.LANGUAGE_CODE``) is the default locale: its pages are the *originals*
(canonical). English pages are Wagtail translations of them: the same ``translation_key``,
locale "en", under the English translation of their parent, served under ``/en/``.

- :class:`CatalogPageQuerySet` gives every catalog page type ``.canonical()`` (the originals)
  and ``.in_language(code)``, so "the service with code X" never finds two pages.
- :class:`FallbackRoutingMixin` lets ``/en/<path>/`` reach an original that has no English
  translation yet: the Mongolian page is served with the English interface and a notice,
  instead of a 404.
- :func:`translations_in` maps many originals to their translations in one query (search
  results, listings).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.http import Http404
from django.utils import translation
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Page, PageManager
from wagtail.query import PageQuerySet


def default_language() -> str:
    """The language of the original pages ("mn")."""
    return get_supported_content_language_variant(settings.LANGUAGE_CODE)


def active_language() -> str:
    """The content language of the current request (the URL prefix), e.g. "en"."""
    try:
        return get_supported_content_language_variant(translation.get_language() or settings.LANGUAGE_CODE)
    except LookupError:
        return default_language()


def bilingual(name_mn: str, name_en: str) -> str:
    """A name in the reader's language: the English one on the English site when there is one."""
    return name_en if name_en and active_language() == "en" else name_mn


class CatalogPageQuerySet(PageQuerySet):
    def canonical(self):
        """Only the originals (default-locale pages): one page per service, agency, catalog."""
        return self.filter(locale__language_code=default_language())

    def in_language(self, language_code: str):
        return self.filter(locale__language_code=language_code)


CatalogPageManager = PageManager.from_queryset(CatalogPageQuerySet)


class FallbackRoutingMixin:
    """Route a translated page's missing (or unpublished) child to the original's child.

    Without it, ``/en/uilchilgee/ubeg/srv-1/`` is a 404 as long as SRV-1 has no English page
    (new services, an agency added after the last translate_catalog). With it, the English
    agency page hands the rest of the path to the Mongolian agency page, which serves the
    Mongolian service; the template shows a "not translated yet" notice (``cms.templatetags``).
    """

    def route(self, request, path_components):
        # Mongolian URLs and pages never need it (and skip the locale query).
        if not path_components or active_language() == default_language() or is_original(self):
            return super().route(request, path_components)
        child = self.get_children().filter(slug=path_components[0]).first()
        usable = child is not None and (child.live or len(path_components) > 1)
        if usable:
            child._cached_parent_obj = self
            return child.specific.route(request, path_components[1:])
        original = original_of(self)
        if original is None:
            raise Http404
        return original.specific.route(request, path_components)


def is_original(page: Page) -> bool:
    return page.locale.language_code == default_language()


def original_of(page: Page) -> Page | None:
    """The page's original (its default-locale translation): the page itself for an original."""
    if is_original(page):
        return page
    return page.get_translations().filter(locale__language_code=default_language()).first()


def localized_children(page: Page, model=Page) -> list[Page]:
    """The live children of the page's original, each in the page's language where translated.

    An English listing then shows every service (or agency), the untranslated ones too, which
    are served in Mongolian under ``/en/``. Two queries, whatever the number of children.
    """
    original = original_of(page) or page
    children = list(model.objects.child_of(original).live())
    translated = translations_in(children, page.locale.language_code, model)
    return [translated.get(child.pk, child) for child in children]


def translations_in(pages: Iterable[Page], language_code: str, model=Page) -> dict[int, Page]:
    """``{original page id: its live translation in language_code}`` for many pages, in one query.

    Pages without a live translation are left out (callers fall back to the original).
    """
    pages = list(pages)
    if not pages or language_code == default_language():
        return {}
    by_key = {page.translation_key: page.pk for page in pages}
    found = model.objects.live().filter(translation_key__in=list(by_key), locale__language_code=language_code)
    return {by_key[page.translation_key]: page for page in found}

"""The language switcher on every public page, and the "not translated yet" notices.

``{% language_links as languages %}`` gives, for each site language, where the switcher goes:

- on a Wagtail page: that page's live translation in the language (its own URL, which may
  differ from the current one); where there is none, the same path under the other prefix,
  which serves the original in the reader's language (``core.languages.FallbackRoutingMixin``);
- on any other view (search, apply, track ...): the same path and query with the language
  prefix switched (Django's ``translate_url``).

It also says whether the page shown is not in the reader's language (a Mongolian page under
``/en/``) or is a translation some of whose text is still the Mongolian copy.
"""

from dataclasses import dataclass, field

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils.translation import get_language_info
from wagtail.models import Page

from core.languages import active_language, default_language

register = template.Library()
# Text that translate_catalog copies from the original until a translator edits it.
COPIED_TEXT = ("title", "summary", "description")


@dataclass
class LanguageLink:
    code: str
    name: str  # in the language itself, so a reader of either can find theirs
    url: str
    current: bool
    translated: bool  # a page of its own in that language (for <link rel="alternate">)


@dataclass
class Languages:
    links: list[LanguageLink] = field(default_factory=list)
    untranslated: bool = False  # the page shown is in another language than the reader's
    partly_untranslated: bool = False  # a translation still holding some of the original's text
    page_language: str = ""  # the language the page is written in (in the reader's language), when untranslated


@register.simple_tag(takes_context=True)
def language_links(context) -> Languages:
    request = context.get("request")
    if request is None:
        return Languages()
    page = context.get("page")
    if isinstance(page, Page) and page.pk:
        return _for_page(request, page)
    current = active_language()
    path = request.get_full_path()
    return Languages(
        links=[
            LanguageLink(code, _local_name(code), translate_url(path, code), code == current, translated=False)
            for code, _name in settings.LANGUAGES
        ]
    )


def _for_page(request, page: Page) -> Languages:
    current = active_language()
    translations = {
        translated.locale.language_code: translated
        for translated in page.get_translations(inclusive=True).live().select_related("locale")
    }
    page_language = next((code for code, translated in translations.items() if translated.pk == page.pk), current)
    languages = Languages(untranslated=page_language != current)
    if languages.untranslated:
        languages.page_language = get_language_info(page_language)["name_translated"]
    original = translations.get(default_language())
    if original is not None and original.pk != page.pk:
        languages.partly_untranslated = any(
            getattr(original, name, "") and getattr(page, name, None) == getattr(original, name) for name in COPIED_TEXT
        )
    for code, _name in settings.LANGUAGES:
        target = translations.get(code)
        url = target.get_url(request) if target is not None else translate_url(request.path, code)
        languages.links.append(LanguageLink(code, _local_name(code), url, code == current, target is not None))
    return languages


def _local_name(code: str) -> str:
    """The name settings.LANGUAGES gives: each language in itself ("Монгол", "English").

    Not Django's ``name_local``, which calls Mongolian "Mongolian".
    """
    return str(dict(settings.LANGUAGES)[code])

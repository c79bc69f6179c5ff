"""Results in the reader's language: each hit pointed at its service's translated page.

Only the original (Mongolian) pages are indexed, so each service is found once;
the language is applied after the search, by the views that know the reader.
"""

from core.languages import translations_in
from search.results import Hit
from service_pages.models import ServicePage


def localize(hits: list[Hit], language: str) -> None:
    """Point each hit at its service's live page in ``language``, one query for all of them.

    Search runs on the originals (each service once); a reader of the English site gets
    links to the English pages where they exist, and to the Mongolian page otherwise.
    """
    translations = translations_in([hit.page for hit in hits], language, ServicePage)
    for hit in hits:
        hit.translation = translations.get(hit.page.pk)

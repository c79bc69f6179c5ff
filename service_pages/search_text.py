"""How a service's place and agency read as text, for search: one definition.

Pure Python, no Django, so ``ServicePage.search_place`` / ``search_agency`` (Wagtail's index and
the engine), the embedded index (``search.embedded``, from rows of values) and
``bench/search_relevance.py`` (from the catalog files) all make the same text.
"""

from __future__ import annotations


def place_text(soum: tuple[str | None, str | None] | None, aimag: tuple[str | None, str | None] | None) -> str:
    """The names of the soum then the aimag, Mongolian then English (``(name_mn, name_en)`` each,
    ``None`` for no soum or aimag): "" for a national service."""
    return " ".join(name for place in (soum, aimag) if place for name in place if name)


def agency_text(name_mn: str | None, name_en: str | None) -> str:
    """The agency's names, Mongolian then English."""
    return f"{name_mn or ''} {name_en or ''}"

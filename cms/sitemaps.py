"""``/sitemap.xml`` and ``robots.txt``: how search engines and other portals find every service.

The sitemap lists every live, public page of the catalog once per language, each with its
``hreflang`` alternates (Mongolian, English and ``x-default``, the Mongolian original). With
11,250 services in two languages it is larger than one file should be, so ``/sitemap.xml`` is a
sitemap index pointing at ``/sitemap-<n>.xml`` files of ``SECTION_SIZE`` original pages each.

Built from a few column queries (no ``page.specific``, no per-page URL routing) and written as
plain strings (a template takes seconds for 20,000 URLs): the URL of a page
is its ``url_path`` below its language's home page, prefixed with ``/en`` for English, which is
how ``i18n_patterns`` and Wagtail serve it (``tests/test_findability.py`` checks them against
``page.url``). Cached until the next page publication, unpublication, move or deletion: every
one of those writes a ``PageLogEntry``, so the newest entry's id is part of the cache key.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from wagtail.models import Page, PageLogEntry, Site

from core.languages import default_language

CACHE_SECONDS = 3600
# Originals per sitemap file; each gives one URL per language (the protocol allows 50,000 URLs).
SECTION_SIZE = 5000
XMLNS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
XHTML = 'xmlns:xhtml="http://www.w3.org/1999/xhtml"'


def _catalog_entries(languages: tuple[str, ...]) -> list[dict]:
    """``[{"paths": {language: path}, "lastmod": datetime}]`` for every live, public original page."""
    key = f"tumen:sitemap:{_catalog_version()}:{','.join(languages)}"
    entries = cache.get(key)
    if entries is None:
        entries = _build_entries(languages)
        cache.set(key, entries, CACHE_SECONDS)
    return entries


def _catalog_version() -> int:
    return PageLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _build_entries(languages: tuple[str, ...]) -> list[dict]:
    original_language = default_language()
    site_root = Site.objects.get(is_default_site=True).root_page
    roots = {
        page.locale.language_code: page
        for page in Page.objects.filter(translation_key=site_root.translation_key).select_related("locale")
    }
    prefixes = {code: "" if code == original_language else f"/{code}" for code in languages}
    translated = {}
    for code in languages:
        if code == original_language or code not in roots:
            continue
        rows = (
            Page.objects.live().public().descendant_of(roots[code], inclusive=True)
            .filter(locale__language_code=code).values_list("translation_key", "url_path")
        )  # fmt: skip
        base = len(roots[code].url_path) - 1
        translated[code] = {key: prefixes[code] + url_path[base:] for key, url_path in rows}
    base = len(site_root.url_path) - 1
    entries = []
    originals = (
        Page.objects.live().public().descendant_of(site_root, inclusive=True)
        .filter(locale__language_code=original_language).order_by("path")
        .values_list("translation_key", "url_path", "last_published_at", "latest_revision_created_at")
    )  # fmt: skip
    for key, url_path, published, revised in originals:
        paths = {original_language: url_path[base:]}
        for code, by_key in translated.items():
            if key in by_key:
                paths[code] = by_key[key]
        entries.append({"paths": paths, "lastmod": published or revised})
    return entries


def _languages() -> tuple[str, ...]:
    return tuple(code for code, _name in settings.LANGUAGES)


def _cached_xml(request, name: str, render) -> HttpResponse:
    """The XML document ``name`` for this host, rendered once per catalog version."""
    key = f"tumen:sitemap-xml:{_catalog_version()}:{request.scheme}://{request.get_host()}:{name}"
    content = cache.get(key)
    if content is None:
        content = render().encode()  # kept encoded: a file is megabytes, encoded once
        cache.set(key, content, CACHE_SECONDS)
    return HttpResponse(content, content_type="application/xml; charset=utf-8")


def _date(value) -> str:
    return value.date().isoformat() if value else ""


@require_GET
def sitemap_index(request):
    """``/sitemap.xml``: the index of the catalog's sitemap files."""

    def render() -> str:
        entries = _catalog_entries(_languages())
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<sitemapindex {XMLNS}>"]
        for number in range(1, max(1, math.ceil(len(entries) / SECTION_SIZE)) + 1):
            section = entries[(number - 1) * SECTION_SIZE : number * SECTION_SIZE]
            location = request.build_absolute_uri(reverse("sitemap_section", args=[number]))
            newest = max((entry["lastmod"] for entry in section if entry["lastmod"]), default=None)
            lastmod = f"<lastmod>{_date(newest)}</lastmod>" if newest else ""
            lines.append(f"<sitemap><loc>{escape(location)}</loc>{lastmod}</sitemap>")
        lines.append("</sitemapindex>")
        return "\n".join(lines)

    return _cached_xml(request, "index", render)


@require_GET
def sitemap_section(request, number: int):
    """``/sitemap-<n>.xml``: the pages of one file, each URL with its language alternates."""
    entries = _catalog_entries(_languages())
    section = entries[(number - 1) * SECTION_SIZE : number * SECTION_SIZE] if number >= 1 else []
    if not section:
        raise Http404

    def render() -> str:
        host = f"{request.scheme}://{request.get_host()}"
        original = default_language()
        lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<urlset {XMLNS} {XHTML}>"]
        for entry in section:
            links = [(code, host + path) for code, path in entry["paths"].items()]
            links.append(("x-default", host + entry["paths"][original]))
            alternates = "".join(
                f'<xhtml:link rel="alternate" hreflang={quoteattr(code)} href={quoteattr(url)}/>' for code, url in links
            )
            lastmod = f"<lastmod>{_date(entry['lastmod'])}</lastmod>" if entry["lastmod"] else ""
            for path in entry["paths"].values():
                lines.append(f"<url><loc>{escape(host + path)}</loc>{lastmod}{alternates}</url>")
        lines.append("</urlset>")
        return "\n".join(lines)

    return _cached_xml(request, f"section-{number}", render)


@require_GET
def robots_txt(request):
    """What crawlers may read: the public catalog and search, not the admin, forms, receipts or APIs."""
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /apply/",
        "Disallow: /en/apply/",
        "Disallow: /operator/",
        "Disallow: /en/operator/",
        "Disallow: /api/",
        "Disallow: /receipt/",
        "Disallow: /en/receipt/",
        "Disallow: /resume/",
        "Disallow: /en/resume/",
        "Allow: /",
        f"Sitemap: {request.build_absolute_uri(reverse('sitemap'))}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")

"""Gzip for the HTML pages: a page is 8-40 kB of text, a third of that gzipped, which counts on
the slow mobile links of soum offices (``bench/lighthouse.py`` prints the page weights).

Only ``text/html``: static files come pre-compressed from WhiteNoise, and the JSON API, its
ETags and its bulk downloads stay byte-for-byte as ``docs/openapi.yaml`` describes them. Django's
``GZipMiddleware`` adds random bytes to each response against BREACH, and CSRF tokens are masked
per request.
"""

from django.middleware.gzip import GZipMiddleware


class HtmlGZipMiddleware(GZipMiddleware):
    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)

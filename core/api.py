"""What every JSON API of the site shares: the language of the answer and the shape of an error.

A low-level helper like ``core.languages``: it imports only Django, so any app's API views
(``search.views``, ``form_builder.api``, ``plugins.views``) use it without importing each other.
"""

from __future__ import annotations

from functools import wraps

from django.http import JsonResponse
from django.utils import translation


def api_language(view):
    """Answer API calls in the language the client asks for (Accept-Language or cookie).

    LocaleMiddleware pins unprefixed paths to Mongolian because the public site
    uses i18n_patterns without a prefix for the default language; API clients
    have no prefix to choose with, so they get content negotiation instead.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        with translation.override(translation.get_language_from_request(request, check_path=False)):
            response = view(request, *args, **kwargs)
            response["Content-Language"] = translation.get_language()
            return response

    return wrapper


def bilingual(message, **params) -> dict:
    """``{"mn": ..., "en": ...}``: ``message`` (a lazy translation) in both languages."""
    result = {}
    for language in ("mn", "en"):
        with translation.override(language):
            result[language] = str(message) % params if params else str(message)
    return result


def error_response(status: int, code: str, message, **params) -> JsonResponse:
    """``{"error": {"code": ..., "message": {"mn": ..., "en": ...}}}`` with the HTTP ``status``."""
    return JsonResponse({"error": {"code": code, "message": bilingual(message, **params)}}, status=status)

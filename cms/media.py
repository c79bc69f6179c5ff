"""Development-only serving of public media (``DEBUG``); production serves it from a web server.

Citizens' uploads live in ``TUMEN_PRIVATE_MEDIA_ROOT`` (by default ``VAR_DIR/private``, and a deploy
check refuses one inside ``MEDIA_ROOT``); should it be configured under ``MEDIA_ROOT`` anyway, no
URL may reach them, however the path is spelled, so the resolved path is checked, not the text.
"""

from pathlib import Path

from django.conf import settings
from django.http import Http404
from django.views.static import serve


def public_media(request, path):
    target = (Path(settings.MEDIA_ROOT) / path).resolve()
    private = Path(settings.TUMEN_PRIVATE_MEDIA_ROOT).resolve()
    if target == private or private in target.parents:
        raise Http404("not a public file")
    return serve(request, path, document_root=settings.MEDIA_ROOT)

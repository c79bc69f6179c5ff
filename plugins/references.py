"""Instant references (лавлагаа): ask the agency's reference source, then issue the document.

The path of a reference: the citizen's (or the operator's) request → :func:`get_reference` →
a document already issued under the same idempotency key is returned at once (a double click, a
retry) → the service's enabled ``reference_source`` configuration (``PluginConfig``, per agency
or per service) → its plugin's ``fetch()`` under one hard deadline (``TUMEN_REFERENCE_TIMEOUT``,
or the configuration's shorter ``timeout``): the core stops waiting then, whatever the plugin
does → ``documents.issuing.issue()`` renders the PDF, stores it, then writes the row.

Every failure is a :class:`ReferenceFailed` with a translated message for the person waiting,
and leaves nothing issued.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from documents import issuing
from documents.content import DocumentContent
from documents.models import IssuedDocument
from documents.pdf import InvalidPdf

from .base import ReferenceRequest
from .checks import BilingualMessage
from .exceptions import PluginError, PluginUnavailable, ReferenceNotFound
from .models import configs_for

logger = logging.getLogger(__name__)
# Reference sources run here so that the request can stop waiting at the deadline even when a
# plugin ignores its timeout (the late answer is then dropped). Bounded: a stuck agency cannot
# pile up threads without limit; a full pool makes new requests wait their deadline and fail.
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="reference-source")

UNAVAILABLE = _(
    "The agency's system is not answering now, so the reference cannot be issued. Try again later, or ask the soum operator."
)
NO_SOURCE = _("This reference cannot be issued here yet. Ask the soum operator or the agency.")
NOT_FOUND = _("The agency's register has no record to make this reference from. Ask the agency.")


class ReferenceFailed(Exception):
    """The reference was not issued; ``message`` is for the person waiting, ``code`` for APIs and logs."""

    def __init__(self, message, *, code: str, status: int):
        super().__init__(code)
        self.message, self.code, self.status = message, code, status


def reference_source(service):
    """``(plugin, options)`` of the service's reference source, or ``None``."""
    for config in configs_for(service, "reference_source"):
        try:
            return config.plugin, config.plugin.clean_options(config.options)
        except Exception:
            logger.error("reference source %s has invalid options; skipped", config)
    return None


def deadline(options: dict) -> float:
    limit = float(getattr(settings, "TUMEN_REFERENCE_TIMEOUT", 5))
    configured = options.get("timeout")
    return min(float(configured), limit) if configured else limit


def get_reference(service, holder: issuing.Holder, *, last_name: str, first_name: str, key: str, operator=None,
                  in_person: dict | None = None, operator_block: dict | None = None,
                  operator_line: str = "") -> tuple[IssuedDocument, bool]:  # fmt: skip
    """Issue (or find again) the instant reference of ``service`` for ``holder``; ``(document, created)``."""
    if not service.instant_reference:
        raise ReferenceFailed(_("This service is not an instant reference."), code="not_a_reference", status=404)
    found = issuing.existing(key)
    if found is not None:
        return found, False
    source = reference_source(service)
    if source is None:
        raise ReferenceFailed(NO_SOURCE, code="no_reference_source", status=503)
    plugin, options = source
    timeout = deadline(options)
    request = ReferenceRequest(
        register_number=holder.register_number, last_name=last_name, first_name=first_name, service_code=service.code,
        service_title=service.title, xyp_code=service.xyp_code, agency_code=service.agency.code, request_id=key[:32],
        operator=operator_block,
    )  # fmt: skip
    future = _POOL.submit(plugin.fetch, request, options, timeout=timeout, agency=service.agency)
    try:
        content = future.result(timeout=timeout + 0.25)  # the plugin's own timeout should fire first
    except FutureTimeout:
        future.cancel()
        logger.warning("reference source %s for %s did not answer within %.1f s", plugin.id, service.code, timeout)
        raise ReferenceFailed(UNAVAILABLE, code="agency_unavailable", status=503) from None
    except ReferenceNotFound as error:
        raise ReferenceFailed(BilingualMessage(error.texts, NOT_FOUND), code="no_record", status=404) from None
    except PluginUnavailable as error:
        logger.warning("reference source %s for %s: %s", plugin.id, service.code, error)
        raise ReferenceFailed(UNAVAILABLE, code="agency_unavailable", status=503) from None
    except PluginError as error:
        logger.warning("reference source %s for %s failed: %s", plugin.id, service.code, error)
        raise ReferenceFailed(UNAVAILABLE, code="agency_unavailable", status=503) from None
    except Exception:
        logger.exception("reference source %s for %s raised an unexpected error", plugin.id, service.code)
        raise ReferenceFailed(UNAVAILABLE, code="agency_unavailable", status=503) from None
    if not isinstance(content, DocumentContent):
        logger.error("reference source %s returned %s, not DocumentContent", plugin.id, type(content).__name__)
        raise ReferenceFailed(UNAVAILABLE, code="agency_unavailable", status=503)
    try:
        return issuing.issue(
            kind=IssuedDocument.Kind.REFERENCE, service=service, agency=service.agency, holder=holder, key=key,
            content=content, operator=operator, in_person=in_person, operator_line=operator_line, looked_up=True,
        )  # fmt: skip
    except InvalidPdf:
        raise ReferenceFailed(UNAVAILABLE, code="agency_unavailable", status=503) from None

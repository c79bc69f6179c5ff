"""Pre-submit checks: the agency's system may refuse a submission before it is stored.

The citizen is waiting, so the checks of a service run in parallel (a bounded thread pool) within
one overall deadline (``TUMEN_PRE_SUBMIT_TIMEOUT``, each check's own ``timeout`` being shorter if
configured). The core's timeout policy: a check that does not answer in time, raises
:class:`PluginUnavailable` or raises *anything else* (a bug in a third-party package) is
"unavailable", and that configuration's ``on_timeout`` decides: ``accept`` (the default: a slow
agency must not stop citizens) or ``refuse`` with a translated message. Never a 500.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from form_builder.submissions import Refused

from . import deadlines
from .exceptions import PluginUnavailable
from .models import configs_for

logger = logging.getLogger(__name__)
# Bounded like the reference sources' pool: a stuck agency cannot pile up threads without limit.
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="pre-submit-check")

UNAVAILABLE = _("The agency's system is not answering, so the application cannot be accepted now. Try again later.")


class BilingualMessage:
    """An agency's {"mn", "en"} message that renders in the active language (like a lazy string)."""

    def __init__(self, texts: dict, fallback):
        self.texts, self.fallback = texts, fallback

    def __str__(self):
        language = (translation.get_language() or "mn")[:2]
        return self.texts.get(language) or self.texts.get("mn") or self.texts.get("en") or str(self.fallback)

    def __mod__(self, params):
        return str(self)


def overall_timeout() -> float:
    return float(getattr(settings, "TUMEN_PRE_SUBMIT_TIMEOUT", 5))


def _checks(application):
    """``(config, plugin, options, timeout)`` of the service's pre-submit checks, valid options only."""
    overall = overall_timeout()
    for config in configs_for(application.service, "pre_submit"):
        plugin = config.plugin
        try:
            options = plugin.clean_options(config.options)
        except Exception:
            logger.error("pre-submit check %s has invalid options; skipped", config)
            continue
        yield config, plugin, options, min(float(options.get("timeout") or 2), overall)


def _ask(plugin, application, answers, options, timeout):
    """One check in a pool thread, its requests capped by its timeout (``plugins.deadlines``)."""
    with deadlines.within(timeout):
        return plugin.check(application, answers, options, timeout=timeout)


def run_pre_submit_checks(sender=None, application=None, answers=None, **kwargs):
    """Ask every check at once; raise ``Refused`` on a refusal, or on an unavailable check whose
    configuration says ``on_timeout: refuse``. Refusals are reported in configuration order."""
    checks = list(_checks(application))
    if not checks:
        return
    application.service.agency  # noqa: B018 -- loaded here, so checks in threads need no query
    deadline = deadlines.Deadline(max(timeout for *_, timeout in checks) + 0.25)
    futures = [_POOL.submit(_ask, plugin, application, answers, options, timeout) for _, plugin, options, timeout in checks]
    wait_for(futures, timeout=deadline.remaining())
    for (config, plugin, options, _timeout), future in zip(checks, futures, strict=True):
        verdict = _verdict(config, future)
        if verdict is None:
            if (options.get("on_timeout") or plugin.on_timeout) == "refuse":
                raise Refused(UNAVAILABLE, code="agency_unavailable")
            continue
        if not verdict.accept:
            raise Refused(BilingualMessage(verdict.message, _("The agency did not accept this application.")), code="refused_by_agency")


def _verdict(config, future):
    """The check's verdict, or ``None`` when it is unavailable (late, or raised anything)."""
    if not future.done():
        future.cancel()
        logger.warning("pre-submit check %s did not answer in time", config)
        return None
    try:
        verdict = future.result()
    except PluginUnavailable as error:
        logger.warning("pre-submit check %s did not answer: %s", config, error)
        return None
    except Exception as error:  # a plugin's bug: the citizen gets the policy's answer, not a 500
        logger.error("pre-submit check %s raised %s; treated as unavailable", config, type(error).__name__)
        return None
    if not hasattr(verdict, "accept"):
        logger.error("pre-submit check %s returned %s, not a Verdict; treated as unavailable", config, type(verdict).__name__)
        return None
    return verdict

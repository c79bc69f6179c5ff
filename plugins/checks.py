"""Pre-submit checks: the agency's system may refuse a submission before it is stored."""

from __future__ import annotations

import logging

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from form_builder.submissions import Refused

from .exceptions import PluginUnavailable
from .models import configs_for

logger = logging.getLogger(__name__)


class BilingualMessage:
    """An agency's {"mn", "en"} message that renders in the active language (like a lazy string)."""

    def __init__(self, texts: dict, fallback):
        self.texts, self.fallback = texts, fallback

    def __str__(self):
        language = (translation.get_language() or "mn")[:2]
        return self.texts.get(language) or self.texts.get("mn") or self.texts.get("en") or str(self.fallback)

    def __mod__(self, params):
        return str(self)


def run_pre_submit_checks(sender=None, application=None, answers=None, **kwargs):
    for config in configs_for(application.service, "pre_submit"):
        plugin = config.plugin
        try:
            options = plugin.clean_options(config.options)
        except Exception:
            logger.error("pre-submit check %s has invalid options; skipped", config)
            continue
        try:
            verdict = plugin.check(application, answers, options, timeout=float(options.get("timeout") or 2))
        except PluginUnavailable as error:
            logger.warning("pre-submit check %s did not answer: %s", config, error)
            if options.get("on_timeout") == "refuse":
                raise Refused(
                    _("The agency's system is not answering, so the application cannot be accepted now. Try again later."),
                    code="agency_unavailable",
                ) from None
            continue
        if not verdict.accept:
            raise Refused(BilingualMessage(verdict.message, _("The agency did not accept this application.")), code="refused_by_agency")

"""A test submission: what the admin's "Send a test submission" sends to a delivery target.

Its own module because it is the one delivery that is not in the outbox: nothing is stored (no
``Submission``, no ``Delivery``, no attempt row), the plugin gets the same :class:`DeliveryContext`
it gets for a real application, with answers that are plainly a test and ``metadata.test`` set, so
an agency's integrator sees the whole path work (URL, signature, the agency's answer) before the
first citizen applies. It runs in the admin's request, bounded by the plugin's own timeout.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

from ..exceptions import DeliveryError
from ..http import BlockedURL, HTTPFailure
from ..models import Delivery, PluginConfig
from .payload import DeliveryContext

TEST_TRACKING_CODE = "TMN-TEST-0000"


@dataclass
class ProbeResult:
    ok: bool
    message: str
    status_code: int | None = None


class ProbeContext(DeliveryContext):
    """A :class:`DeliveryContext` over an unsaved submission: no files, no history."""

    def files(self):
        return []

    def metadata(self) -> dict:
        return {**super().metadata(), "test": True}


def sample_submission(config: PluginConfig):
    """An unsaved application to the configuration's service (or one of its agency's), with the
    form that service uses; every text answer says it is a test."""
    from form_builder.models import FormDefinition, Submission, form_for_service
    from service_pages.models import ServicePage

    service = config.service
    if service is None and config.agency_id:
        service = ServicePage.objects.canonical().filter(agency_id=config.agency_id).order_by("path").first()
    definition = form_for_service(service) if service is not None else None
    definition = definition or FormDefinition.objects.filter(live=True, is_default=True).order_by("pk").first()
    version = definition.current_version if definition else None
    if version is None:
        raise DeliveryError("no published application form to build a test submission with", retryable=False)
    agency = config.agency or (service.agency if service is not None else None)
    answers = {field.key: "TEST" for field in version.spec.answer_fields() if field.type in ("text", "textarea")}
    return Submission(
        tracking_code=TEST_TRACKING_CODE, service=service, service_code=getattr(service, "code", "") or "",
        service_title=getattr(service, "title", "") or "", agency=agency, form_version=version, data=answers,
        submitted_at=timezone.now(), stage_agencies=[],
    )  # fmt: skip


def send_test_submission(config: PluginConfig) -> ProbeResult:
    """Deliver a test submission through the configuration's plugin now, and say what happened."""
    plugin = config.plugin
    if plugin is None or plugin.kind != "delivery":
        return ProbeResult(False, "this configuration's plugin does not deliver submissions")
    try:
        options = plugin.clean_options(config.options)
        submission = sample_submission(config)
        delivery = Delivery(id=uuid.uuid4(), submission=submission, config=config, agency=submission.agency,
                            plugin_id=config.plugin_id, target=config.name, stage=1)  # fmt: skip
        result = plugin.deliver(ProbeContext(delivery, submission), options)
    except DeliveryError as failure:
        return ProbeResult(False, str(failure), failure.status_code)
    except (BlockedURL, HTTPFailure) as failure:
        return ProbeResult(False, str(failure))
    except Exception as failure:  # a plugin's bug is shown to the integrator, never a 500
        return ProbeResult(False, f"{type(failure).__name__}: {failure}")
    status = getattr(result, "status_code", None)
    return ProbeResult(True, f"HTTP {status}" if status else "OK", status)

"""Plugin configurations per agency and service, and the delivery outbox.

A :class:`Delivery` is one submission going to one target. Its rows are written in the same
transaction as the submission (``plugins.delivery.plan_deliveries``, on
``form_builder.signals.submission_received``), so a submission can never exist without its
deliveries. Its ``id`` is the idempotency key sent with every attempt: an agency that receives
the same key twice (a retry after a lost response) ignores the duplicate.
"""

from __future__ import annotations

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .registry import register
from .secrets import EncryptedTextField, SecretOptionsField, secret_option_names


class PluginConfig(models.Model):
    """A plugin switched on (or off) for every agency, for one agency, or for one service.

    The most specific configuration of a (plugin, target name) pair wins: a service's overrides
    its agency's, which overrides a global one. An override with ``enabled`` off switches the
    target off for that service.
    """

    plugin_id = models.CharField(_("plugin"), max_length=64)
    name = models.CharField(_("target name"), max_length=100, default="default", help_text=_("Tells several targets of one plugin apart, e.g. 'registry' and 'archive'."))
    agency = models.ForeignKey(
        "service_pages.Agency", verbose_name=_("agency"), null=True, blank=True, on_delete=models.CASCADE, related_name="plugin_configs",
        help_text=_("Empty: every agency."),
    )  # fmt: skip
    service = models.ForeignKey(
        "service_pages.ServicePage", verbose_name=_("service"), null=True, blank=True, on_delete=models.CASCADE, related_name="plugin_configs",
        help_text=_("Set to override the agency's configuration for one service."),
    )  # fmt: skip
    enabled = models.BooleanField(_("enabled"), default=True)
    # Secret options are encrypted in the database (plugins.secrets), clear here.
    options = SecretOptionsField(_("options"), default=dict, blank=True)
    last_alert_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("plugin configuration")
        verbose_name_plural = _("plugin configurations")
        constraints = [
            models.UniqueConstraint(fields=["plugin_id", "name", "agency", "service"], name="plugin_config_unique_scope"),
        ]

    def __str__(self):
        scope = self.service.code if self.service_id else (self.agency.code if self.agency_id else _("all agencies"))
        return f"{self.plugin_id}:{self.name} ({scope})"

    @property
    def plugin(self):
        return register.get(self.plugin_id)

    @property
    def kind(self) -> str:
        plugin = self.plugin
        return plugin.kind if plugin else ""

    def secret_option_names(self) -> list[str]:
        """The options stored encrypted (``plugins.secrets.secret_option_names``)."""
        return secret_option_names(self.plugin_id, self.options)

    def clean(self):
        plugin = self.plugin
        if plugin is None:
            raise ValidationError({"plugin_id": _("No plugin is installed under this id.")})
        if self.service_id and self.agency_id and self.service.agency_id != self.agency_id:
            raise ValidationError({"service": _("This service belongs to another agency.")})
        try:
            self.options = plugin.clean_options(self.options)
        except ValidationError as error:
            problems = [f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items()]
            raise ValidationError({"options": problems}) from None


def configs_for(service, kind: str, agency=None) -> list[PluginConfig]:
    """The enabled configurations of ``kind`` that apply to ``service`` (most specific wins).

    ``agency`` is a later stage's agency of a multi-stage service: its own configurations apply
    (the service-level overrides belong to the service's agency).
    """
    if agency is not None and agency.pk != service.agency_id:
        scope = Q(service__isnull=True, agency=agency)
    else:
        scope = Q(service=service) | Q(service__isnull=True, agency_id=service.agency_id)
    candidates = PluginConfig.objects.filter(scope | Q(service__isnull=True, agency__isnull=True)).select_related("agency")
    chosen: dict[tuple[str, str], PluginConfig] = {}
    for config in sorted(candidates, key=lambda c: (c.service_id is not None, c.agency_id is not None)):
        if config.kind == kind:
            chosen[(config.plugin_id, config.name)] = config  # later = more specific
    return [config for config in chosen.values() if config.enabled]


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        RETRYING = "retrying", _("Retrying")
        DELIVERED = "delivered", _("Delivered")
        DEAD = "dead", _("Failed (dead letter)")

    id = models.UUIDField(_("idempotency key"), primary_key=True, default=uuid.uuid4, editable=False)
    submission = models.ForeignKey("form_builder.Submission", verbose_name=_("submission"), on_delete=models.CASCADE, related_name="deliveries")
    config = models.ForeignKey(PluginConfig, verbose_name=_("target"), null=True, on_delete=models.SET_NULL, related_name="deliveries")
    agency = models.ForeignKey("service_pages.Agency", verbose_name=_("agency"), null=True, on_delete=models.SET_NULL, related_name="deliveries")
    plugin_id = models.CharField(_("plugin"), max_length=64)
    target = models.CharField(_("target name"), max_length=100)
    stage = models.PositiveSmallIntegerField(_("stage"), default=1)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    leased_by = models.CharField(_("worker holding it"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    retry_from = models.DateTimeField(_("retrying since"), default=timezone.now, help_text=_("Start of the retry window (reset by a replay)."))
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    dead_at = models.DateTimeField(_("given up"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["submission", "config", "stage"], name="delivery_once_per_target_stage")]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["agency", "state"], name="delivery_agency_state"),
        ]

    def __str__(self):
        return f"{self.submission_id} → {self.plugin_id}:{self.target}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    ok = models.BooleanField(_("succeeded"), default=False)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    worker = models.CharField(_("worker"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        ordering = ["delivery", "number"]


def _new_secret() -> str:
    return secrets.token_hex(32)


def _new_key_id() -> str:
    return "ak_" + secrets.token_hex(8)


class AgencyCredential(models.Model):
    """The key an agency signs its status callbacks with (HMAC-SHA256, see plugins.signing)."""

    agency = models.ForeignKey("service_pages.Agency", verbose_name=_("agency"), on_delete=models.CASCADE, related_name="credentials")
    key_id = models.CharField(_("key id"), max_length=32, unique=True, default=_new_key_id)
    # Encrypted in the database (plugins.secrets): the callback check needs it in clear, so it
    # cannot be hashed. The admin shows it once, on the page that answers the "add" form.
    secret = EncryptedTextField(_("secret"), default=_new_secret, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("agency API key")

    def __str__(self):
        return f"{self.key_id} ({self.agency})"


class SeenCallback(models.Model):
    """Signatures of accepted status callbacks, so a captured request cannot be replayed within the
    replay window (older rows are deleted by the delivery sweep)."""

    signature = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

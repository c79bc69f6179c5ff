"""A citizen's Django user: one per identity-provider subject, never staff, no password."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Django's username validator refuses ":", so no staff account made in the admin can be called this.
USERNAME_PREFIX = "dan:"


def citizen_username(issuer: str, subject: str) -> str:
    """A stable username that reveals nothing (the subject may be a national identifier)."""
    digest = hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()
    return f"{USERNAME_PREFIX}{digest[:40]}"


class CitizenAccount(models.Model):
    """Links the identity provider's ``sub`` to the Django user a signed-in citizen's session holds.

    The user has an unusable password (only the provider signs it in), no groups, no permissions
    and is never staff: :func:`citizens.oidc.account_user` refuses to sign in a staff user.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="citizen_account")
    issuer = models.CharField(_("identity provider"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_sign_in = models.DateTimeField(_("last sign-in"), default=timezone.now)

    class Meta:
        verbose_name = _("citizen account")
        verbose_name_plural = _("citizen accounts")
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="citizen_account_subject")]

    def __str__(self):
        return self.user.username

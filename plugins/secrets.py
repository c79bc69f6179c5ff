"""Secrets at rest: the one module that encrypts and decrypts what agencies share with Tumen.

What is encrypted: the secret options of plugin configurations (those ``plugins.base.
is_secret_option`` names: a webhook's signing secret, an SMS gateway's API key...) and the secrets
of agencies' API keys (``AgencyCredential.secret``, which the status callback needs in clear to
check an HMAC, so it is encrypted rather than hashed).

How: Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) through ``MultiFernet``. The keys
are ``TUMEN_SECRETS_KEYS``, comma-separated Fernet keys, **newest first**: new values are encrypted
with the first, any of them decrypts. To rotate, put a new key first, run ``manage.py
rotate_secrets`` (everything re-encrypted with it), then drop the old key. Production refuses to
start without the variable (``tumen.E006``, ``cms/checks.py``); development and the tests derive a
key from ``SECRET_KEY`` (:func:`development_key`, marked as such), so a changed ``SECRET_KEY``
makes a development database's secrets unreadable.

A stored secret is the text ``tumen:fernet:<token>``; the model fields below encrypt on the way to
the database and decrypt on the way back, so the rest of the code (and plugins) only ever see the
clear value. A value that no key opens stays as stored (never replaced by a guess):
:func:`is_encrypted` tells, the delivery engine refuses to use it, and ``rotate_secrets`` and
``check --database default`` report it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

PREFIX = "tumen:fernet:"
DEVELOPMENT_KEY_LABEL = b"tumen development secrets key (never for production): "


class SecretUnreadable(ValueError):
    """No key of TUMEN_SECRETS_KEYS decrypts this value."""


class BadSecretsKey(ValueError):
    """A TUMEN_SECRETS_KEYS entry is not a Fernet key."""


def development_key(secret_key: str) -> str:
    """The key used without TUMEN_SECRETS_KEYS (development and tests only): derived from
    ``SECRET_KEY``, so it is stable for one installation and never shared between two."""
    digest = hashlib.sha256(DEVELOPMENT_KEY_LABEL + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def generate_key() -> str:
    """A new random key for TUMEN_SECRETS_KEYS."""
    return Fernet.generate_key().decode()


def configured_keys() -> list[str]:
    """TUMEN_SECRETS_KEYS, newest first, or the development key when it is empty."""
    keys = [key.strip() for key in getattr(settings, "TUMEN_SECRETS_KEYS", []) or [] if key.strip()]
    return keys or [development_key(settings.SECRET_KEY)]


def key_problems(keys: list[str]) -> list[str]:
    """What is wrong with each unusable key (its position, never its value)."""
    problems = []
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            problems.append(f"key {number} is not a Fernet key (32 url-safe base64-encoded bytes)")
    return problems


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    problems = key_problems(list(keys))
    if problems:
        raise BadSecretsKey("TUMEN_SECRETS_KEYS: " + "; ".join(problems))
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet_for(tuple(configured_keys()))


def is_encrypted(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def encrypt(value: str) -> str:
    """``value`` encrypted with the newest key (an already encrypted value is left as it is)."""
    if value is None or value == "" or is_encrypted(value):
        return value
    return PREFIX + fernet().encrypt(str(value).encode()).decode()


def decrypt(value: str) -> str:
    """The clear text of an encrypted value (clear text is returned as it is)."""
    if not is_encrypted(value):
        return value
    try:
        return fernet().decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no key of TUMEN_SECRETS_KEYS decrypts this secret") from None


def readable(value):
    """:func:`decrypt`, or the stored value when no key opens it (see the module's docstring)."""
    try:
        return decrypt(value)
    except SecretUnreadable:
        return value


def reencrypt(value: str) -> str:
    """An encrypted value encrypted again with the newest key; clear text encrypted."""
    if not is_encrypted(value):
        return encrypt(value)
    token = fernet().rotate(value[len(PREFIX) :].encode())
    return PREFIX + token.decode()


def secret_option_names(plugin_id: str, options) -> list[str]:
    """Which of a configuration's options are stored encrypted: its plugin's secret fields, and
    any option named like a secret (the options of an uninstalled plugin are judged by name)."""
    from django import forms

    from .base import is_secret_option
    from .registry import register

    plugin = register.get(plugin_id)
    declared = plugin.options_form.base_fields if plugin else {}
    return [name for name in (options or {}) if is_secret_option(name, declared.get(name) or forms.CharField())]


def seal_options(options: dict, names) -> dict:
    """A copy of plugin ``options`` with the options ``names`` encrypted (what is stored)."""
    sealed = dict(options or {})
    for name in names:
        if isinstance(sealed.get(name), str) and sealed[name]:
            sealed[name] = encrypt(sealed[name])
    return sealed


def open_options(options) -> dict:
    """A copy of stored plugin options with every encrypted value decrypted where a key opens it."""
    if not isinstance(options, dict):
        return options
    return {name: readable(value) for name, value in options.items()}


def unreadable_options(options) -> list[str]:
    """The names of options still encrypted after reading (no key opened them)."""
    return [name for name, value in (options or {}).items() if is_encrypted(value)]


class EncryptedTextField(models.TextField):
    """A text column holding a secret: encrypted in the database, clear in Python."""

    def from_db_value(self, value, expression, connection):
        return readable(value) if value is not None else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value


class SecretOptionsField(models.JSONField):
    """Plugin options (a JSON object) whose secret options are encrypted in the database.

    Which options are secret is the model instance's to say (``secret_option_names()``, from the
    plugin's options form), so the values are sealed in ``pre_save``: write options through
    ``save()`` (or :func:`seal_options` for a queryset ``update()``)."""

    def from_db_value(self, value, expression, connection):
        return open_options(super().from_db_value(value, expression, connection))

    def pre_save(self, model_instance, add):
        value = super().pre_save(model_instance, add)
        names = model_instance.secret_option_names() if hasattr(model_instance, "secret_option_names") else ()
        return seal_options(value, names) if isinstance(value, dict) else value


def stored_text(model, pk, column: str) -> str:
    """The raw database text of one column of one row (for tests and ``rotate_secrets``)."""
    from django.db import connection

    table = connection.ops.quote_name(model._meta.db_table)
    column_name = connection.ops.quote_name(model._meta.get_field(column).column)
    pk_column = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column_name} FROM {table} WHERE {pk_column} = %s", [pk])  # noqa: S608 (names quoted)
        row = cursor.fetchone()
    value = row[0] if row else None
    if isinstance(value, (dict, list)):  # PostgreSQL's jsonb comes back decoded
        return json.dumps(value)
    return value


def unreadable_counts() -> dict[str, int]:
    """How many stored secrets no key opens, per kind (``rotate_secrets``, the system check)."""
    from .models import AgencyCredential, PluginConfig

    configs = sum(
        bool(unreadable_options(options))
        for options in PluginConfig.objects.values_list("options", flat=True).iterator()
    )
    keys = sum(is_encrypted(secret) for secret in AgencyCredential.objects.values_list("secret", flat=True).iterator())
    return {"plugin configurations": configs, "agency API keys": keys}


def check_secrets_readable(app_configs=None, databases=None, **kwargs):
    """System check (with ``--database``, and on ``migrate``): every stored secret opens with a key
    of TUMEN_SECRETS_KEYS (a key dropped before ``rotate_secrets`` ran breaks deliveries)."""
    from django.core import checks
    from django.db import DatabaseError

    if not databases:
        return []
    try:
        counts = unreadable_counts()
    except (DatabaseError, BadSecretsKey):  # not migrated yet; a bad key is tumen.E006's
        return []
    broken = {kind: count for kind, count in counts.items() if count}
    if not broken:
        return []
    what = ", ".join(f"{count} {kind}" for kind, count in broken.items())
    return [
        checks.Error(
            f"Secrets that no key of TUMEN_SECRETS_KEYS decrypts: {what}. Their deliveries fail and their "
            "status callbacks are refused.",
            hint="Put back the key they were encrypted with (after the new one), run manage.py rotate_secrets, "
            "then drop the old key; or enter those secrets again in the admin.",
            id="plugins.E002",
        )
    ]

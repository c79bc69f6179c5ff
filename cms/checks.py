"""System checks that stop an unsafe production deploy (Django's check framework).

``manage.py check --deploy`` reports them as errors (Django's own deploy checks only warn):

- ``tumen.E001``: ``DEBUG`` is on.
- ``tumen.E002``: ``SECRET_KEY`` is missing, the development key, short or barely random.
- ``tumen.E003``: ``TUMEN_TRUSTED_PROXIES`` is not set in the environment (or is negative).
  Behind a load balancer the default 0 reads the balancer's address as every citizen's, so the
  whole country shares one rate-limit bucket; an operator with no proxy says so with ``0``.
- ``tumen.E004``: ``TUMEN_PRIVATE_MEDIA_ROOT`` lies inside ``MEDIA_ROOT`` or ``STATIC_ROOT``,
  folders a web server publishes.
- ``tumen.E005``: ``TUMEN_RETENTION_DAYS`` is below the national floor ``TUMEN_RETENTION_MIN_DAYS``:
  closed applications would be anonymised before an appeal could need them.
- ``tumen.E006``: ``TUMEN_SECRETS_KEYS`` is missing (agencies' secrets would be encrypted with the
  development key derived from ``SECRET_KEY``) or holds a value that is not a Fernet key (checked
  everywhere, not only in production: no secret could be read or written).

Under ``cms.settings.production`` (``TUMEN_REFUSE_UNSAFE_DEPLOY``) they run with every check,
so every management command refuses, and ``cms.wsgi`` refuses to start the web server
(:func:`refuse_unsafe_deploy`): a plain ``gunicorn`` never serves with a weak key.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register, run_checks
from django.core.exceptions import ImproperlyConfigured

from cms.env import DEVELOPMENT_SECRET_KEY
from plugins import secrets

SETTINGS_TAG = "tumen_settings"
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5


def check_debug() -> list[Error]:
    if settings.DEBUG:
        return [
            Error(
                "DEBUG is on: error pages would show settings, code and citizens' data to anyone.",
                hint="Unset DEBUG (production defaults to false) or set DEBUG=false.",
                id="tumen.E001",
            )
        ]
    return []


def is_repeated_chunk(key: str, longest_chunk: int = 16) -> bool:
    """``"changeme" * 7``: long and with enough distinct characters, yet guessable in a few tries."""
    for size in range(1, min(longest_chunk, len(key) // 2) + 1):
        chunk = key[:size]
        if (chunk * (len(key) // size + 1))[: len(key)] == key:
            return True
    return False


def check_secret_key() -> list[Error]:
    key = getattr(settings, "SECRET_KEY", "") or ""
    weak = (
        key == DEVELOPMENT_SECRET_KEY
        or key.startswith("django-insecure-")
        or len(key) < MIN_SECRET_KEY_LENGTH
        or len(set(key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS
        or is_repeated_chunk(key)
    )
    if weak:
        return [
            Error(
                f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} characters in production "
                "(it is missing, the development key, too short or barely random): sessions and signed "
                "links could be forged.",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(64))'",
                id="tumen.E002",
            )
        ]
    return []


def check_trusted_proxies() -> list[Error]:
    raw = os.environ.get("TUMEN_TRUSTED_PROXIES", "").strip()
    if raw and settings.TUMEN_TRUSTED_PROXIES >= 0:
        return []
    return [
        Error(
            "TUMEN_TRUSTED_PROXIES must be set explicitly in the environment (a number >= 0): behind a load "
            "balancer the default 0 takes the balancer's address for every citizen's, so the whole country "
            "shares one rate-limit bucket.",
            hint="Set it to the number of reverse proxies in front of gunicorn (e.g. 1 for one load "
            "balancer), or to 0 if clients connect directly.",
            id="tumen.E003",
        )
    ]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_private_media_root() -> list[Error]:
    private = Path(settings.TUMEN_PRIVATE_MEDIA_ROOT).resolve()
    errors = []
    for name in ("MEDIA_ROOT", "STATIC_ROOT"):
        value = getattr(settings, name, None)
        if value and _inside(private, Path(value).resolve()):
            errors.append(
                Error(
                    f"TUMEN_PRIVATE_MEDIA_ROOT ({private}) is inside {name} ({value}), which a web server "
                    "publishes: citizens' uploads could be downloaded by URL.",
                    hint="Keep it outside every served folder, e.g. TUMEN_VAR_DIR/private (the default).",
                    id="tumen.E004",
                )
            )
    return errors


def check_retention() -> list[Error]:
    days, floor = settings.TUMEN_RETENTION_DAYS, settings.TUMEN_RETENTION_MIN_DAYS
    if days >= floor:
        return []
    return [
        Error(
            f"TUMEN_RETENTION_DAYS ({days}) is below the national floor TUMEN_RETENTION_MIN_DAYS ({floor}): closed "
            "applications would be anonymised before an appeal or a complaint could need them.",
            hint=f"Set TUMEN_RETENTION_DAYS to at least {floor} (the default is 1826, five years).",
            id="tumen.E005",
        )
    ]


SECRETS_KEYS_HINT = (
    "Set TUMEN_SECRETS_KEYS to one or more Fernet keys, comma-separated, newest first; make one with "
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def check_secrets_keys_format() -> list[Error]:
    problems = secrets.key_problems(list(getattr(settings, "TUMEN_SECRETS_KEYS", []) or []))
    if not problems:
        return []
    return [
        Error(
            "TUMEN_SECRETS_KEYS cannot be used (" + "; ".join(problems) + "): agencies' secrets can be neither read nor stored.",
            hint=SECRETS_KEYS_HINT,
            id="tumen.E006",
        )
    ]


def check_secrets_keys() -> list[Error]:
    if getattr(settings, "TUMEN_SECRETS_KEYS", None):
        return check_secrets_keys_format()
    return [
        Error(
            "TUMEN_SECRETS_KEYS is not set: agencies' secrets (delivery signing secrets, API keys) would be "
            "encrypted with a development key derived from SECRET_KEY.",
            hint=SECRETS_KEYS_HINT,
            id="tumen.E006",
        )
    ]


def unsafe_settings() -> list[Error]:
    return [
        *check_debug(), *check_secret_key(), *check_trusted_proxies(), *check_private_media_root(), *check_retention(),
        *check_secrets_keys(),
    ]  # fmt: skip


def _refusing() -> bool:
    return getattr(settings, "TUMEN_REFUSE_UNSAFE_DEPLOY", False)


@register(Tags.security, SETTINGS_TAG, deploy=True)
def deploy_settings(app_configs, **kwargs):
    """``check --deploy`` anywhere (production reports these with every check, see below)."""
    return [] if _refusing() else unsafe_settings()


@register(Tags.security, SETTINGS_TAG)
def production_settings(app_configs, **kwargs):
    """Under the production settings, every command's checks refuse an unsafe deploy."""
    return unsafe_settings() if _refusing() else []


@register(Tags.security, SETTINGS_TAG)
def secrets_keys_usable(app_configs, **kwargs):
    """A malformed TUMEN_SECRETS_KEYS in any settings (production also requires it, above)."""
    return [] if _refusing() else check_secrets_keys_format()


@register(Tags.security)
def private_uploads_left_in_media_root(app_configs, **kwargs):
    """Development data from before private uploads moved out of MEDIA_ROOT (see the README)."""
    old = Path(settings.MEDIA_ROOT) / "private"
    current = Path(settings.TUMEN_PRIVATE_MEDIA_ROOT)
    if old.resolve() == current.resolve() or not old.is_dir() or not any(old.iterdir()):
        return []
    return [
        Warning(
            f"Citizens' uploads are left in {old}, which is no longer where they are kept ({current}).",
            hint=f"Move them: mv {old}/* {current}/ (or set TUMEN_PRIVATE_MEDIA_ROOT={old} in development).",
            id="tumen.W005",
        )
    ]


def refuse_unsafe_deploy():
    """Raise ImproperlyConfigured listing the errors above, when the settings ask for it."""
    if not _refusing():
        return
    errors = [message for message in run_checks(include_deployment_checks=True, tags=[SETTINGS_TAG]) if message.is_serious()]
    if errors:
        raise ImproperlyConfigured("Unsafe production settings:\n" + "\n".join(str(error) for error in errors))

"""Small helpers that read settings from environment variables.

They live outside ``cms.settings`` so that the production settings, the test
settings and the management commands all parse values the same way.
"""

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url

# The key of the embedded mode; the deploy checks refuse it (cms/checks.py).
DEVELOPMENT_SECRET_KEY = "insecure-dev-only-key-change-me-in-production-0123456789"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; an unset variable gives ``default``."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_config(url: str, sqlite_path: Path) -> dict:
    """Django DATABASES entry for ``url``, or the embedded SQLite file.

    SQLite runs in WAL mode with IMMEDIATE transactions so that the web process
    and the task worker can share the file without "database is locked" errors.
    """
    if url:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        if config["ENGINE"] == "django.db.backends.sqlite3":
            config.setdefault("OPTIONS", {}).update(_sqlite_options())
        return config
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": sqlite_path,
        "OPTIONS": _sqlite_options(),
        # Keep each worker thread's connection: opening one runs the PRAGMAs below, and closing the
        # last one checkpoints and removes the WAL file, about 9 ms of disk work per request under
        # gunicorn (bench/service_page.py). WAL checkpoints then happen as SQLite's auto-checkpoint.
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": True,
    }


def _sqlite_options() -> dict:
    return {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        "transaction_mode": "IMMEDIATE",
    }


EMAIL_SCHEMES = {"smtp": (25, False, False), "submission": (587, True, False), "smtps": (465, False, True)}


def email_settings() -> dict:
    """Django's e-mail settings from ``EMAIL_URL``, else from the separate ``EMAIL_*`` variables.

    ``EMAIL_URL`` is ``smtp://user:password@host:port/?tls=true&timeout=10``: ``smtp`` (port 25,
    plain unless ``?tls=true``), ``submission`` (port 587, STARTTLS) or ``smtps`` (port 465, TLS
    from the first byte); user and password are URL-escaped (``%40`` for ``@``). When it is set,
    the host, port, credentials and TLS come only from it. ``EMAIL_TIMEOUT`` (seconds, default
    10, or ``?timeout=``) bounds every step, so a silent mail server cannot hold a worker.
    """
    url = env_str("EMAIL_URL", "")
    config = _email_url(url) if url else {
        "EMAIL_HOST": env_str("EMAIL_HOST", "localhost"),
        "EMAIL_PORT": env_int("EMAIL_PORT", 25),
        "EMAIL_HOST_USER": env_str("EMAIL_HOST_USER", ""),
        "EMAIL_HOST_PASSWORD": env_str("EMAIL_HOST_PASSWORD", ""),
        "EMAIL_USE_TLS": env_bool("EMAIL_USE_TLS", False),
        "EMAIL_USE_SSL": env_bool("EMAIL_USE_SSL", False),
    }  # fmt: skip
    if config["EMAIL_USE_TLS"] and config["EMAIL_USE_SSL"]:
        raise ValueError(f"{'EMAIL_URL' if url else 'EMAIL_USE_TLS and EMAIL_USE_SSL'}: use STARTTLS or SSL, not both")
    timeout = config.pop("timeout", None)
    config["EMAIL_TIMEOUT"] = timeout if timeout is not None else env_int("EMAIL_TIMEOUT", 10)
    config["DEFAULT_FROM_EMAIL"] = env_str("DEFAULT_FROM_EMAIL", "tumen@localhost")
    config["SERVER_EMAIL"] = env_str("SERVER_EMAIL", config["DEFAULT_FROM_EMAIL"])
    return config


def _email_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme not in EMAIL_SCHEMES:
        raise ValueError(f"EMAIL_URL must start with {', '.join(name + '://' for name in EMAIL_SCHEMES)}, got {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("EMAIL_URL has no host name")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("EMAIL_URL has an invalid port") from None
    default_port, use_tls, use_ssl = EMAIL_SCHEMES[parts.scheme]
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    try:
        use_tls = _flag(query.get("tls"), use_tls)
        use_ssl = _flag(query.get("ssl"), use_ssl)
        timeout = int(query["timeout"]) if "timeout" in query else None
    except ValueError as error:
        raise ValueError(f"EMAIL_URL: {error}") from None
    return {
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or default_port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "timeout": timeout,
    }


def _flag(raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")

"""Settings of the demo identity provider: its own secret, signing key and SQLite database.

``DAN_VAR_DIR`` (default ``var/oidc/`` of the Tumen checkout) holds all of its state; the RS256
signing key and the Django secret are generated there at first start.
"""

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("DAN_VAR_DIR") or HERE.parents[2] / "var" / "oidc")
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _generated(name: str, make) -> str:
    """The file's text, written once (mode 0600) by whoever gets there first."""
    path = VAR_DIR / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text()
    with os.fdopen(fd, "w") as handle:
        handle.write(make())
    return path.read_text()


def _rsa_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


SECRET_KEY = _generated("secret-key", lambda: secrets.token_urlsafe(50))
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "oauth2_provider",
    "dan",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "dan.urls"
WSGI_APPLICATION = "dan.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "provider.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Cookies do not tell ports apart: the provider's must not overwrite Tumen's on 127.0.0.1.
SESSION_COOKIE_NAME = "dan_session"
CSRF_COOKIE_NAME = "dan_csrftoken"
LOGIN_URL = "/login/"
USE_TZ = True
LANGUAGE_CODE = "mn"

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _generated("signing-key.pem", _rsa_key),
    "PKCE_REQUIRED": True,
    "OAUTH2_VALIDATOR_CLASS": "dan.validator.DemoValidator",
    "SCOPES": {
        "openid": "OpenID Connect",
        "profile": "Name",
        "phone": "Phone number",
        "register_number": "Register number and the organisations you represent",
    },
    "DEFAULT_SCOPES": ["openid"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
    "ID_TOKEN_EXPIRE_SECONDS": 300,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

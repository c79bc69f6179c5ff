"""Signing citizens in through the national identity provider (ДАН), spoken as OpenID Connect.

mozilla-django-oidc runs the authorization code flow (``state``, ``nonce`` and PKCE kept in the
session); this module adds what it leaves out or leaves open:

- the provider's endpoints from its discovery document (``TUMEN_OIDC_ISSUER`` +
  ``/.well-known/openid-configuration``), fetched when a sign-in starts, never at import time
  or on ordinary requests, so a provider that is down only affects signing in;
- the ID token's ``iss``, ``aud``, ``exp`` and ``iat`` checked (the library checks only the
  signature and the nonce), RS256 only, and the userinfo ``sub`` equal to the token's;
- every failure as a :class:`SignInError` with a code the views turn into a translated page;
- citizens' Django users: one per subject (:class:`~citizens.models.CitizenAccount`), a username
  staff cannot take, an unusable password, never staff.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from .identity import Identity
from .models import CitizenAccount, citizen_username

REGISTER_NUMBER_RE = re.compile(r"[А-ЯЁӨҮ]{2}[0-9]{8}")
COMPANY_NUMBER_RE = re.compile(r"[0-9]{7}")
SIGNING_ALGORITHM = "RS256"
CLOCK_SKEW_SECONDS = 30
METADATA_TTL_SECONDS = 600


class SignInError(Exception):
    """Signing in failed; ``code`` picks the message (:data:`MESSAGES`) and the HTTP status."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


# code -> (HTTP status, message for the citizen)
MESSAGES = {
    "not_configured": (503, _("Signing in through the national identity service (ДАН) is not set up on this site.")),
    "provider_unavailable": (503, _("The national identity service (ДАН) cannot be reached right now. Try again in a few minutes.")),
    "cancelled": (400, _("Signing in was cancelled or refused at the national identity service (ДАН).")),
    "mismatch": (400, _("This sign-in answer does not belong to a sign-in started in this browser, or it was already used. Start again.")),
    "token_refused": (400, _("The national identity service (ДАН) did not confirm this sign-in. Start again.")),
    "invalid_token": (400, _("The national identity service's (ДАН) answer could not be verified, so you were not signed in.")),
    "expired_token": (400, _("The national identity service's (ДАН) answer has expired. Start again.")),
    "no_register_number": (403, _("The national identity service (ДАН) did not give your register number, so you cannot be signed in here.")),
    "staff_account": (403, _("This identity belongs to a staff account; staff sign in to the administration, not here.")),
}  # fmt: skip


def configured() -> bool:
    return bool(settings.TUMEN_OIDC_ISSUER and settings.TUMEN_OIDC_CLIENT_ID)


def issuer() -> str:
    return settings.TUMEN_OIDC_ISSUER.rstrip("/")


_metadata: dict[str, tuple[float, dict]] = {}
_metadata_lock = threading.Lock()
_REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")


def provider_metadata() -> dict:
    """The provider's discovery document (kept ten minutes per process); ``SignInError`` if down."""
    if not configured():
        raise SignInError("not_configured")
    url = f"{issuer()}/.well-known/openid-configuration"
    with _metadata_lock:
        cached = _metadata.get(url)
    if cached and time.monotonic() - cached[0] < METADATA_TTL_SECONDS:
        return cached[1]
    try:
        response = requests.get(url, timeout=settings.TUMEN_OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise SignInError("provider_unavailable", f"discovery: {error}") from None
    if not isinstance(document, dict) or any(not isinstance(document.get(key), str) for key in _REQUIRED_METADATA):
        raise SignInError("provider_unavailable", "discovery document incomplete")
    if document["issuer"].rstrip("/") != issuer():
        raise SignInError("provider_unavailable", f"discovery names issuer {document['issuer']!r}")
    with _metadata_lock:
        _metadata[url] = (time.monotonic(), document)
    return document


def forget_metadata():
    """Drop the cached discovery documents (tests that start another provider)."""
    with _metadata_lock:
        _metadata.clear()


_ENDPOINT_SETTINGS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def oidc_setting(attr, *args):
    """mozilla-django-oidc's settings, the provider's endpoints coming from discovery."""
    if attr in _ENDPOINT_SETTINGS:
        return provider_metadata()[_ENDPOINT_SETTINGS[attr]]
    return import_from_settings(attr, *args)


# -- claims -> identity -------------------------------------------------------------------------


def _text(value, limit: int) -> str:
    return unicodedata.normalize("NFC", value).strip()[:limit] if isinstance(value, str) else ""


def identity_from_claims(claims: dict) -> tuple[Identity, list[dict]]:
    """The verified :class:`Identity` and the organisations the person may represent.

    ``register_number`` must be a citizen register number (two Cyrillic letters, eight digits);
    ``organizations`` is a list of ``{"register_number": "1234567", "name": "..."}``, entries
    that are not are left out.
    """
    register_number = "".join(_text(claims.get("register_number"), 64).split()).upper()
    if not REGISTER_NUMBER_RE.fullmatch(register_number):
        raise SignInError("no_register_number")
    identity = Identity(
        subject=str(claims["sub"]),
        register_number=register_number,
        last_name=_text(claims.get("family_name"), 100),
        first_name=_text(claims.get("given_name"), 100),
        phone=_text(claims.get("phone_number"), 32),
    )
    organisations = []
    raw = claims.get("organizations")
    for item in raw if isinstance(raw, list) else []:
        number = "".join(_text(item.get("register_number"), 32).split()) if isinstance(item, dict) else ""
        if COMPANY_NUMBER_RE.fullmatch(number) and number not in {o["register_number"] for o in organisations}:
            organisations.append({"register_number": number, "name": _text(item.get("name"), 200) or number})
    return identity, organisations[:50]


def account_user(subject: str):
    """The citizen's Django user for this subject, created on the first sign-in."""
    User = get_user_model()
    with transaction.atomic():
        account = CitizenAccount.objects.select_related("user").filter(issuer=issuer(), subject=subject).first()
        if account is None:
            user = User(username=citizen_username(issuer(), subject))
            user.set_unusable_password()
            user.save()
            account = CitizenAccount.objects.create(user=user, issuer=issuer(), subject=subject)
        user = account.user
        if user.is_staff or user.is_superuser or user.groups.exists() or user.has_usable_password():
            raise SignInError("staff_account", f"user {user.pk}")
        CitizenAccount.objects.filter(pk=account.pk).update(last_sign_in=timezone.now())
    return user


# -- the authentication backend -------------------------------------------------------------------


class NationalIdentityBackend(OIDCAuthenticationBackend):
    """Authenticates the provider's callback; knows nothing of passwords (``ModelBackend`` does).

    Lazy: constructing it (Django does on every request of a signed-in user) reads no endpoint;
    only :meth:`authenticate` of a callback asks the provider. On success the verified identity
    waits on ``request.tumen_sign_in`` for the callback view, which rotates the session and keeps it.
    """

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):  # noqa: D107 - no super(): it would fetch the endpoints now
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if request is None or "nonce" not in kwargs or not request.GET.get("code") or not request.GET.get("state"):
            return None  # not an OpenID Connect callback (a staff login, say)
        metadata = provider_metadata()
        self.OIDC_OP_TOKEN_ENDPOINT = metadata["token_endpoint"]
        self.OIDC_OP_USER_ENDPOINT = metadata["userinfo_endpoint"]
        self.OIDC_OP_JWKS_ENDPOINT = metadata["jwks_uri"]
        self.OIDC_RP_CLIENT_ID = settings.TUMEN_OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.TUMEN_OIDC_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = SIGNING_ALGORITHM
        self.OIDC_RP_IDP_SIGN_KEY = None
        try:
            return super().authenticate(request, **kwargs)
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            raise SignInError("token_refused" if 400 <= status < 500 else "provider_unavailable", str(status)) from None
        except (requests.RequestException, ValueError) as error:
            raise SignInError("provider_unavailable", type(error).__name__) from None

    def store_tokens(self, access_token, id_token):
        """Nothing in the session yet: the callback view keeps what it needs after rotating it."""

    def verify_token(self, token, **kwargs):
        if not isinstance(token, str) or not token:
            raise SignInError("invalid_token", "no ID token")
        try:
            return super().verify_token(token, **kwargs)
        except SuspiciousOperation as error:
            if "Nonce" in str(error):
                raise SignInError("mismatch", "nonce") from None
            raise SignInError("invalid_token", str(error)) from None
        except jwt.PyJWTError as error:
            raise SignInError("invalid_token", type(error).__name__) from None

    def _verify_jws(self, payload, key):
        """Signature, algorithm, issuer, audience and lifetime of the ID token."""
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != SIGNING_ALGORITHM:
            raise SignInError("invalid_token", f"alg {header.get('alg')!r}")
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=[SIGNING_ALGORITHM],
                audience=settings.TUMEN_OIDC_CLIENT_ID,
                issuer=issuer(),
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise SignInError("expired_token") from None
        except jwt.PyJWTError as error:
            raise SignInError("invalid_token", type(error).__name__) from None

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if not isinstance(userinfo, dict) or str(userinfo.get("sub")) != str(payload.get("sub")):
            raise SignInError("invalid_token", "userinfo sub differs from the ID token's")
        identity, organisations = identity_from_claims({**payload, **userinfo})
        user = account_user(identity.subject)
        self.request.tumen_sign_in = {"identity": identity, "organisations": organisations, "id_token": id_token}
        return user

"""Sign-in, sign-out, choosing whom to act for, and the pages that say what went wrong.

The path of a sign-in (docs/ARCHITECTURE.md): ``/signin/?next=…`` (:class:`SignInView`: state,
nonce and PKCE verifier into the session, the browser to the provider's authorization endpoint)
→ the provider → ``/signin/callback/`` (:class:`CallbackView`, outside the language prefixes so
the provider knows one redirect URI: the code exchanged and the ID token verified by
:class:`citizens.oidc.NationalIdentityBackend`, then ``login()`` rotates the session key and
:func:`citizens.identity.remember` keeps the identity) → whom to act for, when the provider lists
organisations (``/signin/organisation/``) → ``next``.
"""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth, messages
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from . import oidc
from .identity import ORGANISATIONS_SESSION_KEY, organisations, remember, verified_identity

log = logging.getLogger(__name__)

LANGUAGE_SESSION_KEY = "tumen_signin_language"
ID_TOKEN_SESSION_KEY = "tumen_oidc_id_token"
NEXT_SESSION_KEY = "oidc_login_next"  # mozilla-django-oidc's


def _safe_next(request, url) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return reverse(settings.TUMEN_CITIZEN_HOME)


def failure(request, code: str):
    """The page that says why signing in failed, in the sign-in's language, with the way back."""
    status, message = oidc.MESSAGES.get(code, oidc.MESSAGES["invalid_token"])
    response = render(request, "citizens/signin_error.html", {"message": message, "code": code}, status=status)
    if status == 503:
        response["Retry-After"] = "60"
    return response


class SignInView(OIDCAuthenticationRequestView):
    """``/signin/?next=…``: off to the national identity provider (authorization code + PKCE)."""

    get_settings = staticmethod(oidc.oidc_setting)

    def __init__(self, *args, **kwargs):  # the endpoint is read in get(), where a failure is a page
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request):
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc.provider_metadata()["authorization_endpoint"]
        except oidc.SignInError as error:
            log.warning("sign-in could not start: %s", error)
            return failure(request, error.code)
        self.OIDC_RP_CLIENT_ID = settings.TUMEN_OIDC_CLIENT_ID
        request.session[LANGUAGE_SESSION_KEY] = translation.get_language()
        response = super().get(request)
        request.session[NEXT_SESSION_KEY] = _safe_next(request, request.GET.get("next"))
        response["Cache-Control"] = "no-store"
        return response


class CallbackView(OIDCAuthenticationCallbackView):
    """``/signin/callback/``: the provider's answer; every failure is a page, never a 500."""

    get_settings = staticmethod(oidc.oidc_setting)

    def get(self, request):
        language = request.session.get(LANGUAGE_SESSION_KEY)
        if language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        if request.GET.get("error"):
            super().get(request)  # forgets the state, signs out whoever was signed in
            return failure(request, "cancelled")
        state = request.GET.get("state", "")
        if not request.GET.get("code") or state not in (request.session.get("oidc_states") or {}):
            return failure(request, "mismatch")
        try:
            return super().get(request)
        except oidc.SignInError as error:
            log.warning("sign-in failed: %s", error)
            return failure(request, error.code)
        except SuspiciousOperation as error:
            log.warning("sign-in failed: %s", error)
            return failure(request, "mismatch")

    def login_failure(self):
        return failure(self.request, "token_refused")

    def login_success(self):
        request = self.request
        verified = request.tumen_sign_in
        next_url = request.session.get(NEXT_SESSION_KEY)
        language = request.session.get(LANGUAGE_SESSION_KEY)
        # A new session key at every sign-in: login() flushes the session of a different user
        # (staff, say) and cycles an anonymous one's key, but keeps the key when the same user
        # signs in again, so cycle it here too. Session fixation is impossible either way.
        auth.login(request, self.user, backend="citizens.oidc.NationalIdentityBackend")
        request.session.cycle_key()
        remember(request, verified["identity"])
        request.session[ORGANISATIONS_SESSION_KEY] = verified["organisations"]
        request.session[ID_TOKEN_SESSION_KEY] = verified["id_token"]
        request.session[LANGUAGE_SESSION_KEY] = language
        request.session.pop(NEXT_SESSION_KEY, None)
        next_url = _safe_next(request, next_url)
        if verified["organisations"]:
            with translation.override(language or settings.LANGUAGE_CODE):
                chooser = reverse("citizens_act_for")
            return HttpResponseRedirect(f"{chooser}?{urlencode({'next': next_url})}")
        return HttpResponseRedirect(next_url)


sign_in = never_cache(SignInView.as_view())
callback = never_cache(CallbackView.as_view())


@never_cache
@require_http_methods(["GET", "POST"])
def act_for(request):
    """``/signin/organisation/``: act for yourself or for an organisation the provider listed."""
    identity = verified_identity(request)
    if identity is None:
        return redirect(f"{reverse('citizens_signin')}?{urlencode({'next': request.get_full_path()})}")
    choices = organisations(request)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    error = None
    if request.method == "POST":
        chosen = request.POST.get("act_for", "")
        if chosen == "self" or chosen in {item["register_number"] for item in choices}:
            remember(request, dataclasses.replace(identity, represents="" if chosen == "self" else chosen))
            return HttpResponseRedirect(next_url)
        error = _("Choose yourself or one of the organisations listed.")
    context = {"identity": identity, "choices": choices, "next": next_url, "error": error}
    return render(request, "citizens/act_for.html", context, status=400 if error else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def sign_out(request):
    """``/signout/``: GET asks, POST signs out here and then, if it can, at the provider too."""
    if request.method == "GET":
        return render(request, "citizens/sign_out.html", {"identity": verified_identity(request)})
    id_token = request.session.get(ID_TOKEN_SESSION_KEY)
    auth.logout(request)  # flushes the session: identity, drafts and receipts of this browser
    done = request.build_absolute_uri(reverse("citizens_signed_out"))
    end_session = None
    if id_token and oidc.configured():
        try:
            end_session = oidc.provider_metadata().get("end_session_endpoint")
        except oidc.SignInError as error:
            log.warning("signed out here only: %s", error)
            messages.warning(request, _("You are signed out of this site. The national identity service (ДАН) could not be reached, so you may still be signed in there."))  # fmt: skip
    if end_session:
        query = urlencode({"id_token_hint": id_token, "client_id": settings.TUMEN_OIDC_CLIENT_ID, "post_logout_redirect_uri": done})
        return HttpResponseRedirect(f"{end_session}?{query}")
    return HttpResponseRedirect(done)


@never_cache
def signed_out(request):
    """``/signout/done/``: where the provider sends the browser back."""
    return render(request, "citizens/signed_out.html", {})

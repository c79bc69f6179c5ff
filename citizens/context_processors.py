"""``citizen`` in every template: the signed-in citizen's verified identity, or ``None``;
``citizen_sign_in``: whether this site signs citizens in at all."""

from django.utils.functional import SimpleLazyObject

from . import oidc
from .identity import verified_identity


def citizen(request):
    # Lazy: pages that never show it do not read the session for it.
    return {"citizen": SimpleLazyObject(lambda: verified_identity(request)), "citizen_sign_in": oidc.configured()}

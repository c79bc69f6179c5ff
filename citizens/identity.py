"""The signed-in citizen's verified identity: what the identity provider's claims said.

The sign-in flow (OpenID Connect) calls :func:`remember` once the provider's token was
verified; every other part of Tumen asks :func:`verified_identity`. Nothing a visitor types
ever becomes an ``Identity``: an anonymous applicant's register number is only an answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SESSION_KEY = "tumen_citizen"


@dataclass(frozen=True)
class Identity:
    """A person as the identity provider verified them.

    ``represents``: the 7-digit register number of the organisation the person acts for, when
    they chose one at sign-in (an organisation applies through a signed-in representative);
    empty when they act for themselves.
    """

    subject: str  # the provider's stable ``sub`` claim
    register_number: str  # e.g. "УБ90010112", upper-case Cyrillic letters + 8 digits
    last_name: str = ""
    first_name: str = ""
    phone: str = ""
    represents: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.last_name} {self.first_name}".strip()

    @property
    def applicant_register_number(self) -> str:
        """Whose applications and documents these are: the organisation's when representing one."""
        return self.represents or self.register_number


def remember(request, identity: Identity) -> None:
    """Keep ``identity`` in the (already rotated) session of the signed-in user."""
    request.session[SESSION_KEY] = asdict(identity)


def verified_identity(request) -> Identity | None:
    """The signed-in citizen, or ``None`` for an anonymous visitor (or staff without one)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    data = request.session.get(SESSION_KEY)
    if not data:
        return None
    return Identity(**data)


# The organisations the provider said the person may represent (``[{"register_number", "name"}]``),
# kept beside the identity so the citizen can pick or change whom they act for.
ORGANISATIONS_SESSION_KEY = "tumen_citizen_organisations"


def organisations(request) -> list[dict]:
    """The organisations the signed-in person may represent (empty for anyone else)."""
    if verified_identity(request) is None:
        return []
    return list(request.session.get(ORGANISATIONS_SESSION_KEY, []))

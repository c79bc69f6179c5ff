"""The demo citizens of the local identity provider, and the claims it gives for them.

Every demo account's password is ``demo``. The claims are the ones Tumen reads (see the README,
"Citizen sign-in"): ``sub``, ``register_number``, ``family_name``, ``given_name``,
``phone_number`` and ``organizations`` (the legal entities the person may represent, each a
7-digit register number and a name).

With ``DAN_FAULTS=true`` (the tests) a few more accounts make the provider misbehave in one
precise way each, so Tumen's handling of bad tokens is tested against a real provider.
"""

import os

CITIZENS = {
    "bold": {
        "sub": "dan-0001",
        "register_number": "УБ90010112",
        "family_name": "Батбаяр",
        "given_name": "Болд",
        "phone_number": "+97699112233",
        "organizations": [],
    },
    "saraa": {
        "sub": "dan-0002",
        "register_number": "ИЙ85061524",
        "family_name": "Дорж",
        "given_name": "Сараа",
        "phone_number": "+97688114455",
        "organizations": [{"register_number": "5012345", "name": "Говийн зам ХХК"}],
    },
    "tuya": {
        "sub": "dan-0003",
        "register_number": "ЧА01250318",
        "family_name": "Ганболд",
        "given_name": "Туяа",
        "phone_number": "+97695116677",
        "organizations": [],
    },
}

# name -> (what goes wrong, the person whose claims it otherwise gives)
FAULTS = {
    "no-register": "the ID token and userinfo carry no register_number claim",
    "expired": "the ID token expired ten minutes before it was issued",
    "forged": "the ID token is signed with a key that is not in the provider's JWKS",
    "wrong-nonce": "the ID token carries a nonce the client never sent",
}


def faults_enabled() -> bool:
    return os.environ.get("DAN_FAULTS", "").lower() in ("1", "true", "yes")


def accounts() -> dict:
    """username -> claims (fault accounts borrow Bold's claims, under their own subject)."""
    result = dict(CITIZENS)
    if faults_enabled():
        for index, name in enumerate(FAULTS, start=1):
            claims = {**CITIZENS["bold"], "sub": f"dan-fault-{index}", "given_name": f"Болд ({name})"}
            if name == "no-register":
                claims.pop("register_number")
            result[f"fault-{name}"] = claims
    return result


def fault_of(username: str) -> str:
    """What this account's tokens do wrong ("" for a well-behaved account)."""
    if faults_enabled() and username.startswith("fault-") and username[6:] in FAULTS:
        return username[6:]
    return ""

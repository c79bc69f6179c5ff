"""django-oauth-toolkit's OpenID Connect validator with the demo citizens' claims."""

import json
import time

from jwcrypto import jwk, jwt
from oauth2_provider.oauth2_validators import OAuth2Validator

from . import citizens


class DemoValidator(OAuth2Validator):
    # Every claim goes in the ID token and the userinfo answer (no per-scope filtering).
    oidc_claim_scope = None

    def get_additional_claims(self, request):
        return dict(citizens.accounts().get(request.user.username, {"sub": f"dan-user-{request.user.pk}"}))

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration = super().get_id_token_dictionary(token, token_handler, request)
        fault = citizens.fault_of(request.user.username)
        if fault == "expired":
            claims["exp"] = int(time.time()) - 600
        elif fault == "wrong-nonce":
            claims["nonce"] = "not-the-nonce-the-client-sent"
        return claims, expiration

    def finalize_id_token(self, id_token, token, token_handler, request):
        if citizens.fault_of(request.user.username) != "forged":
            return super().finalize_id_token(id_token, token, token_handler, request)
        # Same header (and key id) as a genuine token, signed with a key nobody published.
        claims, expiration = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        header = {"typ": "JWT", "alg": "RS256", "kid": request.client.jwk_key.thumbprint()}
        forged = jwt.JWT(header=json.dumps(header), claims=json.dumps(id_token, default=str))
        forged.make_signed_token(jwk.JWK.generate(kty="RSA", size=2048))
        saved = self._save_id_token(id_token["jti"], request, expiration)
        request.access_token = saved
        request.id_token = saved
        return forged.serialize()

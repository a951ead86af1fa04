"""JWTs from an identity provider: a company's single sign-on without a proxy in front.

With ``auth_jwt_jwks`` set (a JWKS URL or file), a bearer token that is a JWT is verified with
PyJWT against the provider's public keys: its signature by the key its ``kid`` names (an unknown
key id is refused), one of ``auth_jwt_algorithms`` (``none`` and shared-secret HMAC never), an
``exp`` in the future, and the configured ``iss`` and ``aud``. The user is the
``auth_jwt_username_claim``; an account of that name (kind ``sso``, no password) is made the first
time it signs in, so grants can be given to it; the ``auth_jwt_groups_claim`` names its groups. The keys of a URL are fetched once and again when an
unknown ``kid`` appears (the provider rotated them), at most every few seconds.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from ..errors import Unauthenticated
from ..settings import Settings

_REFETCH_SECONDS = 30.0


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class JwtVerifier:
    def __init__(self, settings: Settings) -> None:
        try:
            import jwt  # noqa: F401
        except ImportError as exc:  # pragma: no cover - the auth extra is missing
            raise RuntimeError("JWT sign-in needs PyJWT: pip install 'modelyard[auth]'.") from exc
        self.source = settings.auth_jwt_jwks
        self.issuer = settings.auth_jwt_issuer or None
        self.audience = settings.auth_jwt_audience or None
        self.username_claim = settings.auth_jwt_username_claim or "sub"
        self.groups_claim = settings.auth_jwt_groups_claim
        allowed = [a.strip() for a in settings.auth_jwt_algorithms.split(",") if a.strip()]
        self.algorithms = [a for a in allowed if a.lower() != "none" and not a.upper().startswith("HS")]
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Any]:
        import jwt

        if self.source.startswith(("https://", "http://")):
            import urllib.request

            with urllib.request.urlopen(self.source, timeout=10) as answer:  # noqa: S310 - the admin's setting
                data = json.loads(answer.read())
        else:
            with open(self.source, encoding="utf-8") as f:
                data = json.load(f)
        keys = {}
        for key in jwt.PyJWKSet.from_dict(data).keys:
            if key.key_id:
                keys[key.key_id] = key
        return keys

    def _key(self, kid: str) -> Any:
        found = self._keys.get(kid)
        if found is not None:
            return found
        with self._lock:
            stale = not self._fetched or time.monotonic() - self._fetched > _REFETCH_SECONDS
            if kid not in self._keys and stale:
                self._fetched = time.monotonic()
                try:
                    self._keys = self._load()
                except Exception as exc:  # the provider unreachable or its answer unusable: refuse, never crash
                    raise Unauthenticated(f"The identity provider's keys could not be read: {exc}.") from None
        found = self._keys.get(kid)
        if found is None:
            raise Unauthenticated("JWT signed by an unknown key (kid): not one of the identity provider's keys.")
        return found

    def verify(self, token: str) -> tuple[str, list[str], int]:
        """(user name, groups, expiry in Unix seconds) of a valid JWT; UNAUTHENTICATED naming the problem."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("Malformed JWT.") from None
        alg = str(header.get("alg", ""))
        if alg not in self.algorithms:
            raise Unauthenticated(f"JWT algorithm '{alg}' is not accepted: use one of {', '.join(self.algorithms)}.")
        key = self._key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                                options={"require": ["exp"], "verify_aud": self.audience is not None})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("JWT expired: get a new one from your identity provider.") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("JWT issuer (iss) is not the one this server trusts.") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("JWT audience (aud) is not this server.") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"Invalid JWT: {exc}.") from None
        username = claims.get(self.username_claim)
        if not isinstance(username, str) or not username or ":" in username or len(username) > 255:
            raise Unauthenticated(f"JWT claim '{self.username_claim}' holds no usable user name.")
        groups = claims.get(self.groups_claim) if self.groups_claim else None
        return username, [str(g) for g in groups] if isinstance(groups, list) else [], int(claims["exp"])

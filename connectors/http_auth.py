"""Bearer-token (JWT) authentication for HTTP sources, with SMART-style system scopes.

``auth: {type: jwt, hs256_secret | jwks_file, issuer, audience, scopes: [system/*.write]}``.
Tokens are checked for signature (HS256, RS256, ES256), expiry, issuer and audience by PyJWT;
scopes are checked against the resource types posted: ``system/*.write`` allows any,
``system/Patient.write`` only Patient.  Failures say what failed, never the token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from hl7bridge.engine.errors import ConfigError

ALGORITHMS = ["HS256", "RS256", "ES256"]


@dataclass(slots=True)
class AuthFailure(Exception):
    status: int  # 401 or 403
    reason: str


class JwtAuth:
    def __init__(self, options: dict[str, Any]) -> None:
        if options.get("type") != "jwt":
            raise ConfigError("auth.type must be jwt", code="invalid-value")
        self.issuer: str | None = options.get("issuer")
        self.audience: str | None = options.get("audience")
        self.required: list[str] = list(options.get("scopes") or ["system/*.write"])
        self.keys: dict[str | None, Any] = {}
        if options.get("hs256_secret"):
            self.keys[None] = str(options["hs256_secret"])
            self.algorithms = ["HS256"]
        elif options.get("jwks_file"):
            self.algorithms = ["RS256", "ES256"]
            for jwk in json.loads(Path(options["jwks_file"]).read_text())["keys"]:
                self.keys[jwk.get("kid")] = jwt.PyJWK(jwk).key
        else:
            raise ConfigError("auth needs hs256_secret or jwks_file", code="missing-key")

    def authenticate(self, header: str | None) -> dict[str, Any]:
        """The verified claims of the request's bearer token; AuthFailure(401) when missing, bad or expired."""
        if not header or not header.lower().startswith("bearer "):
            raise AuthFailure(401, "a bearer token is required")
        return self._decode(header[7:].strip())

    def authorize(self, claims: dict[str, Any], resource_types: set[str]) -> None:
        """AuthFailure(403) unless the token's scopes allow writing every resource type posted."""
        granted = set(str(claims.get("scope", "")).split())
        for resource in resource_types:
            if not granted & {"system/*.write", f"system/{resource}.write", "system/*.*", f"system/{resource}.*"}:
                raise AuthFailure(403, f"the token's scopes do not allow writing {resource}")

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.get(kid) or self.keys.get(None) or next(iter(self.keys.values()))
            options = {"require": ["exp"], "verify_aud": self.audience is not None}
            return jwt.decode(token, key, algorithms=self.algorithms, audience=self.audience, issuer=self.issuer,
                              options=options)
        except jwt.ExpiredSignatureError as exc:
            raise AuthFailure(401, "the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthFailure(401, "the token is not for this audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthFailure(401, "the token is from another issuer") from exc
        except (jwt.InvalidTokenError, StopIteration) as exc:
            raise AuthFailure(401, "the token is malformed or its signature does not verify") from exc

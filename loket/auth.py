"""Bearer JWTs: strict verification with pyjwt, and minting for development and tests.

Either a shared HS256 secret (the development default) or asymmetric public keys
(a PEM file or a JWKS file) are configured, never both, so an HS/RS confusion cannot
arise. `exp`, `iat`, `iss`, `aud` and `sub` are required.
"""

from __future__ import annotations

import datetime
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt

from loket.settings import settings

LEEWAY_SECONDS = 30


class TokenError(Exception):
    """The bearer token is not acceptable; `code` is stable, the message is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@lru_cache(maxsize=1)
def _jwks() -> jwt.PyJWKSet | None:
    if settings.jwt_jwks_file is None:
        return None
    return jwt.PyJWKSet.from_json(Path(settings.jwt_jwks_file).read_text())


@lru_cache(maxsize=1)
def _public_key() -> str | None:
    if settings.jwt_public_key_file is None:
        return None
    return Path(settings.jwt_public_key_file).read_text()


def _verification_key(token: str) -> Any:
    jwks = _jwks()
    if jwks is not None:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            raise TokenError("INVALID_TOKEN", "The token is malformed.") from None
        for key in jwks.keys:
            if key.key_id == kid:
                return key.key
        raise TokenError("INVALID_TOKEN", "The token's key is unknown.")
    public = _public_key()
    if public is not None:
        return public
    return settings.jwt_secret


def decode_token(token: str) -> uuid.UUID:
    """The user id a valid token names; raises TokenError otherwise."""
    try:
        claims = jwt.decode(
            token,
            key=_verification_key(token),
            algorithms=list(settings.jwt_algorithms),
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("TOKEN_EXPIRED", "The token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("TOKEN_NOT_YET_VALID", "The token is not valid yet.") from None
    except jwt.InvalidTokenError:
        raise TokenError("INVALID_TOKEN", "The token is invalid.") from None
    try:
        return uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise TokenError("INVALID_TOKEN", "The token names no user.") from None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header; None when there is no header."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenError("INVALID_TOKEN", "Use 'Authorization: Bearer <token>'.")
    return token.strip()


def mint_token(
    user_id: str,
    *,
    ttl_seconds: int | None = None,
    now: datetime.datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a token for a user with the configured secret or private key."""
    issued = now or datetime.datetime.now(datetime.UTC)
    ttl = settings.jwt_ttl_seconds if ttl_seconds is None else ttl_seconds
    claims: dict[str, Any] = {
        "sub": user_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + datetime.timedelta(seconds=ttl),
        "jti": str(uuid.uuid4()),
        **(extra or {}),
    }
    if settings.jwt_private_key_file is not None:
        key = Path(settings.jwt_private_key_file).read_text()
        return jwt.encode(claims, key, algorithm=settings.jwt_algorithms[0])
    if settings.jwt_secret is None:
        raise RuntimeError("no signing key configured")
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")

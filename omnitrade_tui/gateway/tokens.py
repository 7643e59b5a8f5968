"""Gateway tokens: short-lived JWT access tokens and opaque, rotating refresh tokens.

Access tokens are JWTs signed HS256 with a per-gateway secret: the gateway is both issuer
and only verifier, so a shared-secret MAC is enough and needs no key pair. PyJWT (the
maintained, widely used implementation) does the encoding and the constant-time signature
check; a hand-rolled JWT is where algorithm-confusion bugs come from. Claims:
``sub`` (user), ``role``, ``fam`` (the login's family id), ``iat``, ``exp``, ``jti``.
Expiry is checked here against an injectable clock rather than by PyJWT (which reads the
system clock), with no leeway: the issuer and verifier are one process.

Refresh tokens are 256 random bits (``secrets.token_urlsafe``), never stored: the store
keeps their SHA-256. A plain fast hash is right here (unlike passwords): the token has full
entropy, so there is nothing to guess, and a stolen table gives no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import jwt

from omnitrade_tui.gateway.roles import Role

ALGORITHM = "HS256"
#: Shortest secret accepted: RFC 7518 asks for a key at least as long as the hash (256 bits).
MIN_SECRET_BYTES = 32


class AuthError(Exception):
    """Base of the gateway's authentication failures (each is safe to show the client)."""


class TokenInvalid(AuthError):
    """A token that is malformed, forged, revoked or unknown."""


class TokenExpired(AuthError):
    """A token past its expiry: refresh (access) or log in again (refresh)."""


class RefreshReused(TokenInvalid):
    """A refresh token presented a second time: its whole family has been revoked."""


@dataclass(frozen=True)
class Principal:
    """Who an access token speaks for, and until when."""

    username: str
    role: Role
    family: str
    expires_at: float
    issued_at: float
    token_id: str


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh returns to the client."""

    access_token: str
    refresh_token: str
    access_expires_at: float
    refresh_expires_at: float
    username: str
    role: Role
    family: str
    token_type: str = "Bearer"

    def as_dict(self) -> dict[str, str | float]:
        """The pair as plain JSON-able values, for the login and refresh answers."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "access_expires_at": self.access_expires_at,
            "refresh_expires_at": self.refresh_expires_at,
            "username": self.username,
            "role": self.role.value,
            "family": self.family,
        }


def new_family_id() -> str:
    """A fresh family id: one per login, kept by every rotation of its refresh token."""
    return uuid.uuid4().hex


def new_refresh_token() -> str:
    """A new opaque refresh token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """The SHA-256 (hex) under which a refresh token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccessTokens:
    """Issues and verifies access JWTs with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the gateway secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def issue(
        self, username: str, role: Role, family: str, now: float, ttl_s: float
    ) -> tuple[str, float]:
        """A signed access token valid for ``ttl_s`` from ``now``, and its expiry time."""
        expires_at = now + ttl_s
        claims = {
            "sub": username,
            "role": role.value,
            "fam": family,
            # Whole seconds, as RFC 7519 NumericDate; the expiry rounds down, never up.
            "iat": int(now),
            "exp": int(expires_at),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), float(int(expires_at))

    def verify(self, token: str, now: float) -> Principal:
        """The principal of a valid token; ``TokenExpired`` or ``TokenInvalid`` otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                # One algorithm only: never let the token pick ("none", or an RSA key
                # misused as an HMAC secret).
                algorithms=[ALGORITHM],
                options={
                    "require": ["sub", "role", "fam", "iat", "exp", "jti"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid(f"invalid access token: {exc}") from None
        try:
            role = Role(claims["role"])
            expires_at = float(claims["exp"])
            issued_at = float(claims["iat"])
            username = str(claims["sub"])
            family = str(claims["fam"])
            token_id = str(claims["jti"])
        except (ValueError, TypeError):
            raise TokenInvalid("invalid access token: bad claims") from None
        if now >= expires_at:
            raise TokenExpired("the access token has expired: refresh it")
        return Principal(username, role, family, expires_at, issued_at, token_id)

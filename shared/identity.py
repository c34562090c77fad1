"""Who is calling a service: the gateway vouches for every request it forwards with a signed assertion.

The gateway checks the person's bearer token, then sends the service a short-lived JWT in
``X-Lbb-Assertion``, signed with the gateway's Ed25519 key (``GATEWAY_SIGNING_KEY``): ``iss``
``lbb-gateway``, ``aud`` the service's name (shared/registry.py), ``exp`` at most 60 s after ``iat``,
and the caller's ``sub``, ``role``, ``organisation_id`` and ``email`` (the bearer token's verified
``email`` claim, when it has one: the one way a service learns a caller's e-mail address). Each
service verifies it with the gateway's public key (``GATEWAY_PUBLIC_KEY``) and its own name before
anything reads who is calling (``CallerDep``, the one place); a missing, expired, forged, misdirected
or unsigned assertion is refused with 401. Identity comes from nothing else: headers such as ``X-Lbb-Role`` are ignored.
Services then decide object-level access themselves (which fellows a subject is, they know from the
events they consume).

The cost is on every request, so both sides keep what they made: the gateway signs once per
(caller, service) and reuses that assertion while more than half its life is left (``Assertions``);
a service keeps the assertions it verified until they expire (``Verifier``). Both caches are bounded
(``CACHE_SIZE``): when one is full its expired entries go, and if none had expired, all go.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Header, Request

from shared.errors import DomainError, Forbidden

ROLES = ("applicant", "sponsor", "board", "admin")

ASSERTION_HEADER = "X-Lbb-Assertion"
ISSUER = "lbb-gateway"
ALGORITHM = "EdDSA"
MAX_LIFETIME_S = 60
LEEWAY_S = 5  # clock skew between the gateway's host and a service's
CACHE_SIZE = 10_000
REQUIRED = ["exp", "iat", "iss", "aud", "sub"]


class Unauthenticated(DomainError):
    """No verified gateway assertion: the service does not know who is calling."""

    status_code = 401


@dataclass(frozen=True)
class Caller:
    sub: str
    role: str
    organisation_id: UUID | None = None
    email: str | None = None  # the bearer token's ``email`` claim, when it carries one

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"this needs the role {' or '.join(roles)}; you are {self.role}")

    def claims(self) -> dict[str, str]:
        claims = {"sub": self.sub, "role": self.role}
        if self.organisation_id:
            claims["organisation_id"] = str(self.organisation_id)
        if self.email:
            claims["email"] = self.email
        return claims


# --- keys ---


@dataclass(frozen=True)
class KeyPair:
    """An Ed25519 key pair as PEM text: the private key for the gateway, the public one for services."""

    private_pem: str
    public_pem: str

    @classmethod
    def generate(cls) -> KeyPair:
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(private.decode(), public.decode())


def _pem(text: str) -> bytes:
    return text.strip().replace("\\n", "\n").encode()  # a PEM written on one line with \n (an .env file)


def signing_key(pem: str) -> Ed25519PrivateKey:
    """``GATEWAY_SIGNING_KEY``: an Ed25519 private key in PEM (PKCS #8), or a readable ValueError."""
    if not pem.strip():
        raise ValueError("GATEWAY_SIGNING_KEY is not set: the gateway cannot vouch for callers to the services")
    try:
        key = serialization.load_pem_private_key(_pem(pem), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"GATEWAY_SIGNING_KEY is not a PEM private key without a password: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"GATEWAY_SIGNING_KEY must be an Ed25519 key (EdDSA), not {type(key).__name__}")
    return key


def public_key(pem: str) -> Ed25519PublicKey:
    """``GATEWAY_PUBLIC_KEY``: the gateway's Ed25519 public key in PEM, or a readable ValueError."""
    try:
        key = serialization.load_pem_public_key(_pem(pem))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"GATEWAY_PUBLIC_KEY is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"GATEWAY_PUBLIC_KEY must be an Ed25519 key (EdDSA), not {type(key).__name__}")
    return key


# --- minting (the gateway; the tests through the same function) ---


def mint(
    caller: Caller,
    audience: str,
    key: Ed25519PrivateKey | str,
    *,
    lifetime_s: int = MAX_LIFETIME_S,
    issued_at: float | None = None,
) -> str:
    """An assertion that ``caller`` is calling the service named ``audience``, for ``lifetime_s``."""
    iat = int(time.time() if issued_at is None else issued_at)
    claims = {"iss": ISSUER, "aud": audience, "iat": iat, "exp": iat + lifetime_s, **caller.claims()}
    return jwt.encode(claims, signing_key(key) if isinstance(key, str) else key, algorithm=ALGORITHM)


def vouched(caller: Caller, audience: str, key: Ed25519PrivateKey | str, **mint_args: Any) -> dict[str, str]:
    """The header a request to the service ``audience`` carries for ``caller``."""
    return {ASSERTION_HEADER: mint(caller, audience, key, **mint_args)}


K = TypeVar("K")
V = TypeVar("V")


class _Expiring(Generic[K, V]):
    """At most ``size`` entries, each until its expiry (epoch seconds)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: dict[K, tuple[V, float]] = {}

    def get(self, key: K, *, valid_after: float) -> V | None:
        found = self.entries.get(key)
        return found[0] if found is not None and found[1] > valid_after else None

    def put(self, key: K, value: V, expires: float, now: float) -> None:
        if len(self.entries) >= self.size:
            self.entries = {k: e for k, e in self.entries.items() if e[1] > now}
            if len(self.entries) >= self.size:
                self.entries.clear()
        self.entries[key] = (value, expires)


class Assertions:
    """The gateway's assertions: one per (caller, service), signed again once half its life is gone."""

    def __init__(
        self,
        signing_pem: str,
        *,
        lifetime_s: int = MAX_LIFETIME_S,
        size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = signing_key(signing_pem)
        self.lifetime_s = lifetime_s
        self.clock = clock
        self.made: _Expiring[tuple[Caller, str], str] = _Expiring(size)

    def for_service(self, caller: Caller, audience: str) -> str:
        now = self.clock()
        token = self.made.get((caller, audience), valid_after=now + self.lifetime_s / 2)
        if token is None:
            token = mint(caller, audience, self.key, lifetime_s=self.lifetime_s, issued_at=now)
            self.made.put((caller, audience), token, int(now) + self.lifetime_s, now)
        return token


# --- verifying (every service) ---


class Verifier:
    """A service's check of the gateway's assertions: its own name as audience, the gateway's public key."""

    def __init__(self, public_pem: str, audience: str, *, size: int = CACHE_SIZE) -> None:
        self.key = public_key(public_pem) if public_pem.strip() else None
        self.audience = audience
        self.verified: _Expiring[str, Caller] = _Expiring(size)

    def caller(self, assertion: str) -> Caller:
        if not assertion:
            raise Unauthenticated(
                f"no gateway assertion ({ASSERTION_HEADER}): the {self.audience} service answers only"
                " requests the gateway vouches for"
            )
        now = time.time()
        known = self.verified.get(assertion, valid_after=now)
        if known is not None:
            return known
        claims = self._verify(assertion)
        caller = _caller_from(claims)
        self.verified.put(assertion, caller, claims["exp"], now)
        return caller

    def _verify(self, assertion: str) -> dict[str, Any]:
        if self.key is None:
            raise Unauthenticated(
                f"the {self.audience} service has no GATEWAY_PUBLIC_KEY: it cannot verify the gateway's assertion"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                self.key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": REQUIRED},
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(self._why(assertion, exc)) from exc
        if claims["exp"] - claims["iat"] > MAX_LIFETIME_S:
            raise Unauthenticated(f"the gateway assertion lives longer than {MAX_LIFETIME_S} s")
        return claims

    def _why(self, assertion: str, exc: jwt.InvalidTokenError) -> str:
        if isinstance(exc, jwt.ExpiredSignatureError):
            return "the gateway assertion has expired"
        if isinstance(exc, jwt.InvalidSignatureError):
            return "the gateway assertion is not signed with the gateway's key"
        if isinstance(exc, jwt.InvalidAlgorithmError):
            return f"the gateway assertion must be signed with {ALGORITHM} (Ed25519)"
        if isinstance(exc, jwt.InvalidAudienceError):  # raised only once the signature holds
            meant = jwt.decode(assertion, options={"verify_signature": False}).get("aud")
            return f"the gateway assertion is meant for {meant!r}, not the {self.audience} service"
        if isinstance(exc, jwt.InvalidIssuerError):
            return f"the gateway assertion was not issued by {ISSUER}"
        if isinstance(exc, jwt.MissingRequiredClaimError):
            return f"the gateway assertion has no {exc.claim!r} claim"
        return f"the gateway assertion is not valid: {exc}"


def _caller_from(claims: dict[str, Any]) -> Caller:
    sub, role, organisation = claims.get("sub"), claims.get("role"), claims.get("organisation_id")
    if not isinstance(sub, str) or not sub or role not in ROLES:
        raise Unauthenticated("the gateway assertion names no subject or no known role")
    email = claims.get("email")
    if email is not None and not isinstance(email, str):
        raise Unauthenticated("the gateway assertion's email is not text")
    try:
        organisation_id = UUID(organisation) if organisation else None
        return Caller(sub=sub, role=role, organisation_id=organisation_id, email=email or None)
    except (ValueError, TypeError, AttributeError) as exc:
        raise Unauthenticated("the gateway assertion's organisation_id is not a UUID") from exc


@lru_cache(maxsize=16)
def verifier(public_pem: str, audience: str) -> Verifier:
    """One verifier (and cache) per key and service, made on the first request."""
    return Verifier(public_pem, audience)


async def _caller(  # async: a sync dependency would run in a worker thread on every request
    request: Request, x_lbb_assertion: Annotated[str, Header()] = ""
) -> Caller:
    settings = request.app.state.runtime.settings  # a ServiceSettings
    return verifier(settings.gateway_public_key, settings.service_name).caller(x_lbb_assertion)


CallerDep = Annotated[Caller, Depends(_caller)]

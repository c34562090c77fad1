"""Services believe only the gateway's signed assertion (shared/identity.py), never a caller's headers.

Straight to each of the four services' ports, as anyone who reaches them could: no assertion, the
identity headers services once believed, assertions signed with another key, expired, minted for
another service, unsigned (``alg: none``), signed with HMAC over the public key, or living too long:
each is refused with 401 and a detail that says why. A good assertion is answered. Through the
gateway everything works, and what a caller sends in those headers is not passed on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from lbb.devstack import Stack
from shared.identity import ASSERTION_HEADER, ISSUER, Caller, KeyPair, vouched
from shared.registry import NAMES
from tests.conftest import Api, vouch
from tests.security.conftest import Attack

ANOTHER_KEY = KeyPair.generate()
FELLOW = str(uuid.uuid4())  # no such fellow: the board reads an empty list of their released feedback

# Per service: a read that a good assertion for this caller is answered 200, straight and through the gateway.
READS: dict[str, tuple[str, str, tuple[str, str]]] = {
    "applications": ("/organisations", "/api/organisations", ("bea", "board")),
    "pairing": ("/pairs/mine", "/api/pairs/mine", ("ann", "applicant")),
    "feedback": (f"/fellows/{FELLOW}/feedback", f"/api/fellows/{FELLOW}/feedback", ("bea", "board")),
    "notifications": ("/notifications", "/api/notifications", ("bea", "board")),
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(alg: str, service: str, caller: Caller) -> str:
    """Header and claims of a JWT, as the gateway's would be, with ``alg`` and no signature yet."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": service, "iat": now, "exp": now + 60, **caller.claims()}
    return f"{_b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}"


def unsigned(stack: Stack, service: str, caller: Caller) -> dict[str, str]:
    return {ASSERTION_HEADER: _unsigned("none", service, caller) + "."}


def hmac_over_public_key(stack: Stack, service: str, caller: Caller) -> dict[str, str]:
    """The algorithm-confusion attack: HS256 with the (public) verification key as the secret."""
    signed = _unsigned("HS256", service, caller)
    mac = hmac.new(stack.gateway_keys.public_pem.encode(), signed.encode(), hashlib.sha256).digest()
    return {ASSERTION_HEADER: f"{signed}.{_b64(mac)}"}


Headers = Callable[[Stack, str, Caller], dict[str, str]]


def nothing(stack: Stack, service: str, caller: Caller) -> dict[str, str]:
    return {}


def old_headers(stack: Stack, service: str, caller: Caller) -> dict[str, str]:
    return {"X-Lbb-Sub": "bea", "X-Lbb-Role": "board"}


def another_key(stack: Stack, service: str, caller: Caller) -> dict[str, str]:
    return vouched(caller, service, ANOTHER_KEY.private_pem)


def expired(stack: Stack, service: str, caller: Caller) -> dict[str, str]:
    return vouch(stack, service, caller, issued_at=time.time() - 180)  # expired 2 minutes ago


def for_another_service(stack: Stack, service: str, caller: Caller) -> dict[str, str]:
    return vouch(stack, next(name for name in NAMES if name != service), caller)


def an_hour_long(stack: Stack, service: str, caller: Caller) -> dict[str, str]:
    return vouch(stack, service, caller, lifetime_s=3600)


# (attack, the headers sent, what the 401's detail says)
ATTACKS: list[tuple[str, Headers, str]] = [
    ("no assertion", nothing, "no gateway assertion"),
    ("forged X-Lbb-Sub / X-Lbb-Role: board", old_headers, "no gateway assertion"),
    ("assertion signed with another key", another_key, "not signed with the gateway's key"),
    ("assertion expired 2 minutes ago", expired, "has expired"),
    ("assertion minted for another service", for_another_service, "meant for"),
    ("JWT with alg: none", unsigned, "must be signed with EdDSA"),
    ("HS256 keyed with the gateway's public key", hmac_over_public_key, "must be signed with EdDSA"),
    ("assertion living an hour (right key)", an_hour_long, "lives longer than 60 s"),
]


@pytest.mark.parametrize("service", NAMES)
@pytest.mark.parametrize(("what", "headers", "why"), ATTACKS, ids=[what for what, _, _ in ATTACKS])
async def test_a_service_refuses_identity_the_gateway_did_not_vouch_for(
    stack: Stack, attack: Attack, service: str, what: str, headers: Headers, why: str
) -> None:
    path, _, who = READS[service]
    async with httpx.AsyncClient(base_url=stack.processes[service].url, timeout=10) as client:
        answer = await client.get(path, headers=headers(stack, service, Caller(*who)))
    attack(f"{service} port: {what}", 401, answer.status_code)
    assert why in answer.json()["detail"], answer.text  # and says what was wrong with it


@pytest.mark.parametrize("service", NAMES)
async def test_a_service_answers_an_assertion_the_gateway_signed_for_it(
    stack: Stack, attack: Attack, service: str
) -> None:
    path, _, who = READS[service]
    async with httpx.AsyncClient(base_url=stack.processes[service].url, timeout=10) as client:
        answer = await client.get(path, headers=vouch(stack, service, Caller(*who)))
    attack(f"{service} port: good assertion", 200, answer.status_code)


@pytest.mark.parametrize("service", NAMES)
async def test_through_the_gateway_every_service_answers(api: Api, attack: Attack, service: str) -> None:
    _, path, who = READS[service]
    answer = await api.call("GET", path, who)
    attack(f"gateway → {service}: {who[1]} token", 200, answer.status_code)


async def test_the_gateway_passes_on_no_identity_a_caller_sends(api: Api, stack: Stack, attack: Attack) -> None:
    """An applicant sends the old headers and even a board assertion signed with the right key: the gateway
    sends its own assertion for the token's caller, so the feedback service sees an applicant (404)."""
    _, path, _ = READS["feedback"]
    token = await api.token("eve", "applicant")
    smuggled = {"Authorization": f"Bearer {token}", "X-Lbb-Sub": "bea", "X-Lbb-Role": "board"}
    smuggled |= vouch(stack, "feedback", Caller("bea", "board"))
    answer = await api.client.get(path, headers=smuggled)
    attack("gateway: applicant token with board headers and assertion", 404, answer.status_code)

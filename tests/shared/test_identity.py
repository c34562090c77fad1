"""The gateway's assertions on their own (shared/identity.py): what is reused, what is refused, and that
a missing or unreadable key stops the gateway or a service at start rather than at each request."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from services.gateway.settings import GatewaySettings
from shared.identity import ISSUER, Assertions, Caller, KeyPair, Unauthenticated, Verifier, mint
from shared.settings import ServiceSettings

KEYS = KeyPair.generate()
ANN = Caller("ann", "sponsor", uuid.uuid4())


def test_an_assertion_names_the_caller_the_service_and_the_gateway_and_lives_a_minute() -> None:
    claims = jwt.decode(
        mint(ANN, "pairing", KEYS.private_pem), KEYS.public_pem, algorithms=["EdDSA"], audience="pairing"
    )
    assert claims["iss"] == ISSUER and claims["exp"] - claims["iat"] == 60
    assert (claims["sub"], claims["role"], claims["organisation_id"]) == ("ann", "sponsor", str(ANN.organisation_id))
    assert Verifier(KEYS.public_pem, "pairing").caller(mint(ANN, "pairing", KEYS.private_pem)) == ANN


def test_an_assertion_carries_the_callers_e_mail_only_when_the_token_had_one() -> None:
    ada = Caller("ada", "applicant", email="ada@example.nhs.uk")
    claims = jwt.decode(mint(ada, "applications", KEYS.private_pem), options={"verify_signature": False})
    assert claims["email"] == "ada@example.nhs.uk"
    assert Verifier(KEYS.public_pem, "applications").caller(mint(ada, "applications", KEYS.private_pem)) == ada
    assert "email" not in jwt.decode(mint(ANN, "pairing", KEYS.private_pem), options={"verify_signature": False})


def test_the_gateway_reuses_an_assertion_while_more_than_half_its_life_is_left() -> None:
    now = [1_000_000.0]
    assertions = Assertions(KEYS.private_pem, clock=lambda: now[0])
    first = assertions.for_service(ANN, "pairing")
    assert assertions.for_service(ANN, "feedback") != first  # one per service
    assert assertions.for_service(Caller("bob", "sponsor", ANN.organisation_id), "pairing") != first  # and caller
    now[0] += 29
    assert assertions.for_service(ANN, "pairing") == first
    now[0] += 2  # 31 s old: less than half its life is left
    renewed = assertions.for_service(ANN, "pairing")
    assert renewed != first and jwt.decode(renewed, options={"verify_signature": False})["iat"] == 1_000_031


def test_the_caches_are_bounded() -> None:
    assertions = Assertions(KEYS.private_pem, size=3)
    for n in range(10):
        assertions.for_service(Caller(f"c{n}", "applicant"), "pairing")
    verifier = Verifier(KEYS.public_pem, "pairing", size=3)
    for n in range(10):
        verifier.caller(mint(Caller(f"c{n}", "applicant"), "pairing", KEYS.private_pem))
    assert len(assertions.made.entries) <= 3 and len(verifier.verified.entries) <= 3


def test_a_service_keeps_a_verified_assertion_until_it_expires_and_no_longer() -> None:
    verifier = Verifier(KEYS.public_pem, "pairing")
    token = mint(ANN, "pairing", KEYS.private_pem)
    assert verifier.caller(token) == ANN
    marked = Caller("kept", "board")  # put in its place: seen only if the kept entry is used
    verifier.verified.entries[token] = (marked, time.time() + 30)
    assert verifier.caller(token) == marked
    verifier.verified.entries[token] = (marked, time.time() - 1)  # its expiry passed: verified afresh
    assert verifier.caller(token) == ANN
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.caller(mint(ANN, "pairing", KEYS.private_pem, issued_at=time.time() - 120))


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"sub": "ann", "role": "root"}, "no known role"),
        ({"sub": "", "role": "board"}, "no subject"),
        ({"sub": "ann", "role": "sponsor", "organisation_id": "not-a-uuid"}, "not a UUID"),
        ({"sub": "ann", "role": "applicant", "email": ["a@example.nhs.uk"]}, "email is not text"),
    ],
)
def test_a_signed_assertion_must_still_name_a_caller(claims: dict[str, str], why: str) -> None:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "pairing", "iat": now, "exp": now + 60} | claims
    token = jwt.encode(payload, Assertions(KEYS.private_pem).key, algorithm="EdDSA")
    with pytest.raises(Unauthenticated, match=why):
        Verifier(KEYS.public_pem, "pairing").caller(token)


def test_a_service_without_the_public_key_refuses_every_request_and_says_why() -> None:
    with pytest.raises(Unauthenticated, match="no GATEWAY_PUBLIC_KEY"):
        Verifier("", "pairing").caller(mint(ANN, "pairing", KEYS.private_pem))


def test_missing_or_unreadable_keys_stop_the_gateway_and_the_services_at_start() -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    with pytest.raises(ValueError, match="GATEWAY_SIGNING_KEY is not set"):
        Assertions("")
    with pytest.raises(ValidationError, match="GATEWAY_SIGNING_KEY is not a PEM private key"):
        GatewaySettings(gateway_signing_key="not a key")
    with pytest.raises(ValidationError, match="GATEWAY_SIGNING_KEY must be an Ed25519 key"):
        GatewaySettings(gateway_signing_key=rsa_pem)
    with pytest.raises(ValidationError, match="GATEWAY_PUBLIC_KEY is not a PEM public key"):
        ServiceSettings(gateway_public_key=KEYS.private_pem)
    one_line = KEYS.public_pem.strip().replace("\n", "\\n")  # as an .env file may hold it
    assert ServiceSettings(gateway_public_key=one_line).gateway_public_key == one_line

"""The lbb command's client of the gateway: a bearer token, or in dev mode one asked for."""

from __future__ import annotations

from typing import Any

import httpx


def bearer(client: httpx.Client, token: str | None, sub: str, role: str) -> dict[str, str]:
    """The Authorization header: ``token``, or without one a dev token for ``sub`` as ``role``."""
    if not token:
        answer = client.post("/api/dev/token", json={"sub": sub, "role": role})
        if answer.status_code != 200:
            raise RuntimeError("no --token given and the gateway issues no dev tokens (not in dev mode)")
        token = str(answer.json()["token"])
    return {"Authorization": f"Bearer {token}"}


def ask(
    gateway_url: str,
    method: str,
    path: str,
    who: tuple[str, str],
    token: str | None,
    body: Any = None,
    timeout_s: float = 30,
) -> dict[str, Any]:
    """One call to the gateway as ``token`` (or a dev token for ``who``, a subject and a role) and its
    JSON answer; an unreachable gateway or a refusal is a RuntimeError saying so."""
    try:
        with httpx.Client(base_url=gateway_url, timeout=timeout_s) as client:
            answer = client.request(method, path, json=body, headers=bearer(client, token, *who))
    except httpx.HTTPError as exc:
        raise RuntimeError(f"could not reach the gateway at {gateway_url}: {exc.__class__.__name__}") from exc
    if answer.status_code != 200:
        raise RuntimeError(f"the gateway answered {answer.status_code}: {answer.text[:500]}")
    found: dict[str, Any] = answer.json()
    return found

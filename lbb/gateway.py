"""The lbb command's client of the gateway: a bearer token, or in dev mode one asked for."""

from __future__ import annotations

import httpx


def bearer(client: httpx.Client, token: str | None, sub: str, role: str) -> dict[str, str]:
    """The Authorization header: ``token``, or without one a dev token for ``sub`` as ``role``."""
    if not token:
        answer = client.post("/api/dev/token", json={"sub": sub, "role": role})
        if answer.status_code != 200:
            raise RuntimeError("no --token given and the gateway issues no dev tokens (not in dev mode)")
        token = str(answer.json()["token"])
    return {"Authorization": f"Bearer {token}"}

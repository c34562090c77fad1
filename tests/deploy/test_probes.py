"""The probes the manifests use: /live (the process answers, nothing else), /health (a service's
dependencies) and the gateway's /ready (its own configuration), which stays ready while a service is
down, since only that service's routes fail (503) then."""

from __future__ import annotations

import httpx
import pytest

from lbb.devstack import Stack
from shared.registry import NAMES
from tests.gateway.inprocess import gateway, settings


@pytest.mark.parametrize("name", NAMES)
async def test_each_running_service_is_alive_and_ready_and_live_is_not_in_its_api(stack: Stack, name: str) -> None:
    url = stack.processes[name].url
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        live = await client.get("/live")
        assert live.status_code == 200 and live.json() == {"status": "ok"}
        assert (await client.get("/health")).json()["status"] == "ok"
        assert "/live" not in (await client.get("/openapi.json")).json()["paths"]


async def test_the_gateway_stays_ready_and_alive_with_every_service_down() -> None:
    async with gateway(settings(dev_mode=True)) as client:  # every service at an address nobody answers
        assert (await client.get("/live")).json() == {"status": "ok"}
        ready = await client.get("/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        assert (await client.get("/api/health")).status_code == 503  # the deep check still tells the truth
        token = (await client.post("/api/dev/token", json={"sub": "ada", "role": "admin"})).json()["token"]
        routed = await client.get("/api/organisations", headers={"Authorization": f"Bearer {token}"})
        assert routed.status_code in (502, 503)
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert "/live" not in paths and "/ready" not in paths


async def test_a_gateway_that_can_check_no_token_is_not_ready_but_alive() -> None:
    async with gateway(settings(dev_mode=False, oidc_issuer="")) as client:
        ready = await client.get("/ready")
        assert ready.status_code == 503 and "OIDC_ISSUER" in ready.json()["problems"][0]
        assert (await client.get("/live")).status_code == 200

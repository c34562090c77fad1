"""Routes put on as they are (``shared.routing.add_routes``) answer and document as included ones do."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from shared.routing import add_routes


def router() -> APIRouter:
    r = APIRouter(prefix="/api", tags=["things"], responses={404: {"description": "no such thing"}})

    @r.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    @r.post("/things", status_code=201)
    async def make(body: dict[str, str]) -> dict[str, str]:
        return body

    hidden = APIRouter(prefix="/staff", include_in_schema=False)

    @hidden.get("/page")
    async def page() -> dict[str, str]:
        return {"page": "yes"}

    add_routes(r, hidden)
    return r


async def test_the_routes_answer_and_document_as_when_included() -> None:
    included, added = FastAPI(), FastAPI()
    included.include_router(router())
    add_routes(added, router())
    assert added.openapi() == included.openapi()
    assert "/staff/page" not in added.openapi()["paths"] and "/api/things/{thing_id}" in added.openapi()["paths"]
    for app in (included, added):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            assert (await client.get("/api/things/7")).json() == {"id": 7}
            assert (await client.get("/api/things/seven")).status_code == 422
            assert (await client.post("/api/things", json={"a": "b"})).status_code == 201
            assert (await client.get("/staff/page")).json() == {"page": "yes"}
            assert (await client.get("/nowhere")).status_code == 404
            assert (await client.delete("/api/things/7")).status_code == 405


def test_a_router_that_includes_another_is_refused() -> None:
    outer, inner = APIRouter(prefix="/outer"), APIRouter()

    @inner.get("/x")
    async def x() -> None:
        return None

    outer.include_router(inner)
    with pytest.raises(TypeError, match="includes a router"):
        add_routes(FastAPI(), outer)

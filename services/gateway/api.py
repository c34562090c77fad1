"""The contract's HTTP API (DESIGN.md, "Gateway HTTP contract"), forwarded to the owning services."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Body, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from services.gateway.auth import CallerDep, issue_dev_token
from services.gateway.settings import GatewaySettings
from shared.identity import Caller
from shared.observability import request_id_var

router = APIRouter(prefix="/api")

JsonBody = Body(default_factory=dict)


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def forward(request: Request, service: str, method: str, path: str, caller: Caller, body: Any = None) -> Response:
    settings = _settings(request)
    client: httpx.AsyncClient = request.app.state.http
    url = settings.service_urls()[service] + path
    headers = caller.headers() | {"X-Request-Id": request_id_var.get() or ""}
    try:
        upstream = await client.request(method, url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"the {service} service is unavailable"
        ) from exc
    return Response(
        content=upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", "application/json"),
    )


async def with_fellows(request: Request, caller: Caller) -> Caller:
    """The caller plus the fellow ids it owns (a fellow's id is its enrolled application's id)."""
    if caller.role != "applicant":
        return caller
    response = await forward(request, "applications", "GET", "/applications/mine", caller)
    if response.status_code != 200:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="could not look up your applications")
    mine = json.loads(bytes(response.body))
    fellows = frozenset(uuid.UUID(a["id"]) for a in mine if a["state"] == "enrolled")
    return Caller(sub=caller.sub, role=caller.role, organisation_id=caller.organisation_id, fellow_ids=fellows)


@router.get("/health", tags=["health"])
async def health(request: Request) -> JSONResponse:
    settings = _settings(request)
    client: httpx.AsyncClient = request.app.state.http

    async def check(name: str, url: str) -> tuple[str, str]:
        try:
            answer = await client.get(url + "/health", timeout=5.0)
            status_ = (
                answer.json().get("status", "unknown") if answer.status_code == 200 else f"http {answer.status_code}"
            )
        except (httpx.HTTPError, ValueError) as exc:
            status_ = f"unreachable: {exc.__class__.__name__}"
        return name, status_

    results = dict(await asyncio.gather(*(check(n, u) for n, u in settings.service_urls().items())))
    ok = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "services": results},
        status_code=200 if ok else status.HTTP_503_SERVICE_UNAVAILABLE,
    )


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sub: str
    role: Literal["applicant", "sponsor", "board", "admin"]
    organisation_id: uuid.UUID | None = None


@router.post("/dev/token", tags=["dev"])
async def dev_token(body: DevTokenRequest, request: Request) -> dict[str, str]:
    settings = _settings(request)
    if not settings.dev_mode:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
    if not body.sub.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail="sub must not be empty")
    if body.role == "sponsor" and body.organisation_id is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail="a sponsor token needs organisation_id")
    organisation = body.organisation_id if body.role == "sponsor" else None
    return {"token": issue_dev_token(settings, body.sub, body.role, organisation)}


@router.get("/organisations")
async def organisations(request: Request, caller: CallerDep) -> Response:
    return await forward(request, "applications", "GET", "/organisations", caller)


@router.post("/cohorts", status_code=201)
async def create_cohort(request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody) -> Response:
    return await forward(request, "applications", "POST", "/cohorts", caller, body)


@router.get("/cohorts/{cohort_id}")
async def get_cohort(cohort_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    return await forward(request, "applications", "GET", f"/cohorts/{cohort_id}", caller)


@router.post("/applications", status_code=201)
async def submit_application(request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody) -> Response:
    return await forward(request, "applications", "POST", "/applications", caller, body)


@router.get("/applications/{application_id}")
async def get_application(application_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    return await forward(request, "applications", "GET", f"/applications/{application_id}", caller)


@router.post("/applications/{application_id}/endorse", status_code=202)
async def endorse(
    application_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(request, "applications", "POST", f"/applications/{application_id}/endorse", caller, body)


@router.post("/applications/{application_id}/decision", status_code=202)
async def decide(
    application_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(request, "applications", "POST", f"/applications/{application_id}/decision", caller, body)


@router.post("/applications/{application_id}/withdraw", status_code=202)
async def withdraw(
    application_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(request, "applications", "POST", f"/applications/{application_id}/withdraw", caller, body)


@router.post("/cohorts/{cohort_id}/enrol", status_code=202)
async def enrol(cohort_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody) -> Response:
    return await forward(request, "applications", "POST", f"/cohorts/{cohort_id}/enrol", caller, body)


@router.post("/cohorts/{cohort_id}/pairing", status_code=202)
async def request_pairing(
    cohort_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    if caller.role != "board":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this needs the role board")
    state = await forward(request, "pairing", "GET", f"/cohorts/{cohort_id}/pairing", caller)
    if state.status_code == 200 and b'"status":"published"' in bytes(state.body):
        raise HTTPException(status.HTTP_409_CONFLICT, detail="the pairs of this cohort are already published")
    return await forward(request, "applications", "POST", f"/cohorts/{cohort_id}/pairing", caller, body)


@router.get("/cohorts/{cohort_id}/pairs")
async def list_pairs(cohort_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    return await forward(request, "pairing", "GET", f"/cohorts/{cohort_id}/pairs", await with_fellows(request, caller))


@router.post("/cohorts/{cohort_id}/pairs/swap", status_code=202)
async def swap(cohort_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody) -> Response:
    return await forward(request, "pairing", "POST", f"/cohorts/{cohort_id}/pairs/swap", caller, body)


@router.post("/cohorts/{cohort_id}/pairs/publish", status_code=202)
async def publish_pairs(
    cohort_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(request, "pairing", "POST", f"/cohorts/{cohort_id}/pairs/publish", caller, body)


@router.post("/pairs/{pair_id}/visits", status_code=201)
async def schedule_visit(
    pair_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(
        request, "pairing", "POST", f"/pairs/{pair_id}/visits", await with_fellows(request, caller), body
    )


@router.post("/visits/{visit_id}/complete", status_code=202)
async def complete_visit(
    visit_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(
        request, "pairing", "POST", f"/visits/{visit_id}/complete", await with_fellows(request, caller), body
    )


@router.post("/pairs/{pair_id}/feedback", status_code=201)
async def give_feedback(
    pair_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(
        request, "feedback", "POST", f"/pairs/{pair_id}/feedback", await with_fellows(request, caller), body
    )


@router.get("/fellows/{fellow_id}/feedback")
async def fellow_feedback(fellow_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    return await forward(
        request, "feedback", "GET", f"/fellows/{fellow_id}/feedback", await with_fellows(request, caller)
    )


@router.get("/notifications")
async def notifications(request: Request, caller: CallerDep) -> Response:
    return await forward(request, "notifications", "GET", "/notifications", caller)


@router.post("/organisations", status_code=201)
async def create_organisation(request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody) -> Response:
    return await forward(request, "applications", "POST", "/organisations", caller, body)


@router.post("/cohorts/{cohort_id}/close", status_code=202)
async def close_cohort(
    cohort_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(request, "applications", "POST", f"/cohorts/{cohort_id}/close", caller, body)


@router.get("/cohorts/{cohort_id}/shortlisting")
async def shortlisting(cohort_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    return await forward(request, "applications", "GET", f"/cohorts/{cohort_id}/shortlisting", caller)


@router.put("/pairs/{pair_id}/feedback/{feedback_id}", status_code=202)
async def correct_feedback(
    pair_id: uuid.UUID, feedback_id: uuid.UUID, request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(
        request,
        "feedback",
        "PUT",
        f"/pairs/{pair_id}/feedback/{feedback_id}",
        await with_fellows(request, caller),
        body,
    )


@router.get("/pairs/{pair_id}/feedback")
async def my_pair_feedback(pair_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    return await forward(request, "feedback", "GET", f"/pairs/{pair_id}/feedback", await with_fellows(request, caller))


@router.get("/cohorts/{cohort_id}/report")
async def cohort_report(cohort_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    if caller.role not in ("board", "admin"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the cohort report needs the role board or admin")
    return await forward(request, "feedback", "GET", f"/cohorts/{cohort_id}/report", caller)


@router.get("/notifications/preferences")
async def notification_preferences(request: Request, caller: CallerDep) -> Response:
    return await forward(request, "notifications", "GET", "/notifications/preferences", caller)


@router.put("/notifications/preferences")
async def set_notification_preferences(
    request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody
) -> Response:
    return await forward(request, "notifications", "PUT", "/notifications/preferences", caller, body)


@router.post("/notifications/staff-contacts", status_code=201)
async def register_staff_contact(request: Request, caller: CallerDep, body: dict[str, Any] = JsonBody) -> Response:
    return await forward(request, "notifications", "POST", "/staff-contacts", caller, body)


@router.get("/notifications/staff-contacts")
async def staff_contacts(request: Request, caller: CallerDep) -> Response:
    return await forward(request, "notifications", "GET", "/staff-contacts", caller)


@router.delete("/notifications/staff-contacts/{staff_id}", status_code=202)
async def remove_staff_contact(staff_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    return await forward(request, "notifications", "DELETE", f"/staff-contacts/{staff_id}", caller)

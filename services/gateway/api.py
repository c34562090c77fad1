"""The contract's HTTP API (DESIGN.md, "Gateway HTTP contract"), forwarded to the owning services.

Every route checks the body's shape (shared/contract.py) and the caller's role, then makes one call
to the owning service, which decides everything about the object: whose it is (404 for "not yours",
exactly like "does not exist"), which fellow the caller is, and which state changes are legal (409).
The gateway decides no domain question.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from services.gateway import schemas as s
from services.gateway.auth import CallerDep, issue_dev_token
from services.gateway.settings import GatewaySettings
from services.gateway.upstream import Answer, Unavailable, Upstream
from shared.contract import Body, Empty
from shared.identity import ASSERTION_HEADER, Assertions, Caller
from shared.observability import request_id_var

INVALID: dict[int | str, dict[str, Any]] = {422: {"model": s.Problem, "description": "Bad input; `detail` says why"}}
router = APIRouter(prefix="/api", responses=INVALID)
dev_router = APIRouter(prefix="/api", tags=["dev"], responses=INVALID)

ANY = ("applicant", "sponsor", "board", "admin")
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": s.Problem, "description": "No or invalid bearer token"},
    403: {"model": s.Problem, "description": "The caller's role may not do this"},
    404: {"model": s.Problem, "description": "No such object, or not the caller's (the two answer the same)"},
}
CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": s.Created},
    409: {"model": s.Problem, "description": "Conflict"},
    **ERRORS,
}
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": s.Created},
    409: {"model": s.Problem, "description": "Illegal state change"},
}


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def role(*allowed: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency: the authenticated caller, refused with 403 unless their role is one of ``allowed``."""

    async def check(caller: CallerDep) -> Caller:
        if caller.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this needs the role {' or '.join(allowed)}")
        return caller

    return check


Admin = Annotated[Caller, Depends(role("admin"))]
Board = Annotated[Caller, Depends(role("board"))]
BoardOrAdmin = Annotated[Caller, Depends(role("board", "admin"))]
Sponsor = Annotated[Caller, Depends(role("sponsor"))]
Applicant = Annotated[Caller, Depends(role("applicant"))]
Fellow = Annotated[Caller, Depends(role("applicant"))]
ApplicantOrBoard = Annotated[Caller, Depends(role("applicant", "board"))]
Everyone = Annotated[Caller, Depends(role("applicant", "board", "admin"))]


async def call(
    request: Request, service: str, method: str, path: str, caller: Caller, body: Any = None, params: Any = None
) -> Answer:
    settings = _settings(request)
    upstream: Upstream = request.app.state.upstream
    assertions: Assertions = request.app.state.assertions
    url = settings.service_urls[service] + path
    # The service believes only this: who is calling, signed by the gateway for that service alone.
    headers = {ASSERTION_HEADER: assertions.for_service(caller, service), "X-Request-Id": request_id_var.get() or ""}
    try:
        return await upstream.request(method, url, body=body, headers=headers, params=params)
    except Unavailable as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"the {service} service is unavailable"
        ) from exc


def answered(upstream: Answer, service: str) -> Answer:
    """The upstream answer, unless the service failed: that is a 502, never an answer about the object."""
    if upstream.status_code >= 500:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=f"the {service} service failed")
    return upstream


async def forward(
    request: Request, service: str, method: str, path: str, caller: Caller, body: Any = None, params: Any = None
) -> Response:
    upstream = answered(await call(request, service, method, path, caller, body, params), service)
    return Response(
        content=upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.content_type,
    )


PATH_ID = re.compile(r"{(\w+_id)}")
RESPONSES: dict[int, dict[int | str, dict[str, Any]]] = {200: ERRORS, 201: CREATED, 202: {**ACCEPTED, **ERRORS}}


@dataclass(frozen=True)
class Forward:
    """A route the gateway only forwards: the caller's role and the body's shape checked, then one call
    to the owning service, whose answer goes back as it is. ``caller``: one of the role dependencies
    above; ``body``: the contract's model (``Empty``: no fields, ``{}`` forwarded; None: no body);
    ``to``: the service's path when it is not the gateway's; ``doc``: the route's description."""

    method: str
    path: str
    caller: Any
    name: str
    body: type[Body] | None = None
    status: int = 200
    doc: str | None = None
    to: str | None = None
    model: Any = None


def forwards(router: APIRouter, service: str, rows: Sequence[Forward], tags: list[str] | None = None) -> None:
    """Each row a route of ``router`` forwarded to ``service``, with the signature a hand-written route
    would have: OpenAPI documents its path ids, body and answers under the row's name."""
    for row in rows:
        router.add_api_route(
            row.path,
            _forwarding(service, row),
            methods=[row.method],
            name=row.name,
            status_code=row.status,
            responses={409: ACCEPTED[409], **ERRORS}
            if row.status == 200 and row.method != "GET"
            else RESPONSES[row.status],
            response_model=row.model,
            description=row.doc,
            tags=list(tags) if tags else None,
        )


def _forwarding(service: str, row: Forward) -> Callable[..., Awaitable[Response]]:
    ids = PATH_ID.findall(row.path)
    if len(ids) != row.path.count("{"):
        raise ValueError(f"{row.path}: a forwarded route's path parameters are ids (name_id)")
    target = row.to or row.path

    async def endpoint(request: Request, caller: Caller, body: Body | None = None, **path: uuid.UUID) -> Response:
        payload = None if row.body is None else {} if body is None or row.body is Empty else body.forwarded()
        return await forward(request, service, row.method, target.format(**path), caller, payload)

    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter(i, keyword, annotation=uuid.UUID) for i in ids]
    params += [inspect.Parameter("request", keyword, annotation=Request)]
    params += [inspect.Parameter("caller", keyword, annotation=row.caller)]
    if row.body is Empty:  # an absent body counts as {}
        params += [inspect.Parameter("body", keyword, annotation=Empty | None, default=None)]
    elif row.body is not None:
        params += [inspect.Parameter("body", keyword, annotation=row.body)]
    endpoint.__signature__ = inspect.Signature(params, return_annotation=Response)  # type: ignore[attr-defined]
    endpoint.__name__ = endpoint.__qualname__ = row.name
    return endpoint


@router.get("/health", tags=["health"], response_model=s.ServiceHealth, responses={503: {"model": s.ServiceHealth}})
async def health(request: Request) -> JSONResponse:
    settings = _settings(request)
    upstream: Upstream = request.app.state.upstream

    async def check(name: str, url: str) -> tuple[str, str]:
        try:
            answer = await upstream.request("GET", url + "/health", timeout_s=5.0)
            status_ = (
                answer.json().get("status", "unknown") if answer.status_code == 200 else f"http {answer.status_code}"
            )
        except (Unavailable, ValueError) as exc:
            status_ = f"unreachable: {exc.__class__.__name__}"
        return name, status_

    results = dict(await asyncio.gather(*(check(n, u) for n, u in settings.service_urls.items())))
    ok = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "services": results},
        status_code=200 if ok else status.HTTP_503_SERVICE_UNAVAILABLE,
    )


@dev_router.post("/dev/token", response_model=s.Token)
async def dev_token(body: s.DevTokenRequest, request: Request) -> dict[str, str]:
    """Dev mode only (this route does not exist otherwise): a token for any subject and role, with an
    `email` claim when `email` is given."""
    settings = _settings(request)
    if not settings.dev_mode:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not Found")
    if body.role == "sponsor" and body.organisation_id is None:
        raise HTTPException(422, detail="a sponsor token needs organisation_id")
    organisation = body.organisation_id if body.role == "sponsor" else None
    return {"token": issue_dev_token(settings, body.sub, body.role, organisation, body.email)}


# --- organisations and cohorts (applications service) ---


# --- routes that do more than forward ---


@router.get("/applications", responses=ERRORS, tags=["applications"])
async def list_applications(
    request: Request,
    caller: CallerDep,
    cohort_id: uuid.UUID | None = None,
    state: Annotated[
        Literal["submitted", "endorsed", "shortlisted", "waitlisted", "declined", "withdrawn", "enrolled"] | None,
        Query(),
    ] = None,
) -> Response:
    """Applications the caller may see: their own (applicant), their organisation's (sponsor), all (board, admin)."""
    params = {k: str(v) for k, v in (("cohort_id", cohort_id), ("state", state)) if v is not None}
    return await forward(request, "applications", "GET", "/applications", caller, params=params)


@router.get("/cohorts/{cohort_id}/report", responses=ERRORS, tags=["feedback"])
async def cohort_report(cohort_id: uuid.UUID, request: Request, caller: BoardOrAdmin) -> Response:
    """The evaluation report (feedback) with the kind's own measures (pairing) as ``programme``."""
    path = f"/cohorts/{cohort_id}"
    report, measures = await asyncio.gather(
        call(request, "feedback", "GET", path + "/report", caller),
        call(request, "pairing", "GET", path + "/measures", caller),
    )
    if answered(report, "feedback").status_code != 200:
        return Response(content=report.content, status_code=report.status_code, media_type=report.content_type)
    programme = answered(measures, "pairing").json() if measures.status_code == 200 else None
    return JSONResponse(report.json() | {"programme": programme})

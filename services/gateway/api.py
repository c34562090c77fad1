"""The contract's HTTP API (DESIGN.md, "Gateway HTTP contract"), forwarded to the owning services.

Every route checks the body's shape (shared/contract.py) and the caller's role, then makes one call
to the owning service, which decides everything about the object: whose it is (404 for "not yours",
exactly like "does not exist"), which fellow the caller is, and which state changes are legal (409).
The gateway decides no domain question.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from services.gateway import schemas as s
from services.gateway.auth import CallerDep, issue_dev_token
from services.gateway.settings import GatewaySettings
from services.gateway.upstream import Answer, Unavailable, Upstream
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


async def call(
    request: Request, service: str, method: str, path: str, caller: Caller, body: Any = None, params: Any = None
) -> Answer:
    settings = _settings(request)
    upstream: Upstream = request.app.state.upstream
    assertions: Assertions = request.app.state.assertions
    url = settings.service_urls()[service] + path
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

    results = dict(await asyncio.gather(*(check(n, u) for n, u in settings.service_urls().items())))
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


@router.get("/organisations", response_model=list[s.Organisation], responses=ERRORS, tags=["cohorts"])
async def organisations(request: Request, caller: CallerDep) -> Response:
    return await forward(request, "applications", "GET", "/organisations", caller)


@router.post("/organisations", status_code=201, responses=CREATED, tags=["cohorts"])
async def create_organisation(request: Request, caller: Admin, body: s.CreateOrganisation) -> Response:
    return await forward(request, "applications", "POST", "/organisations", caller, body.forwarded())


@router.get("/cohorts", responses=ERRORS, tags=["cohorts"])
async def list_cohorts(request: Request, caller: CallerDep) -> Response:
    """Every cohort, newest first, with whether it takes applications now."""
    return await forward(request, "applications", "GET", "/cohorts", caller)


@router.post("/cohorts", status_code=201, responses=CREATED, tags=["cohorts"])
async def create_cohort(request: Request, caller: Admin, body: s.CreateCohort) -> Response:
    return await forward(request, "applications", "POST", "/cohorts", caller, body.forwarded())


@router.get("/cohorts/{cohort_id}", responses=ERRORS, tags=["cohorts"])
async def get_cohort(cohort_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    return await forward(request, "applications", "GET", f"/cohorts/{cohort_id}", caller)


@router.post("/cohorts/{cohort_id}/close", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["cohorts"])
async def close_cohort(cohort_id: uuid.UUID, request: Request, caller: Admin, body: s.Empty | None = None) -> Response:
    return await forward(request, "applications", "POST", f"/cohorts/{cohort_id}/close", caller, {})


@router.get("/cohorts/{cohort_id}/shortlisting", responses=ERRORS, tags=["cohorts"])
async def shortlisting(cohort_id: uuid.UUID, request: Request, caller: Board) -> Response:
    """The fair-shortlisting counts (small numbers suppressed)."""
    return await forward(request, "applications", "GET", f"/cohorts/{cohort_id}/shortlisting", caller)


@router.post("/cohorts/{cohort_id}/enrol", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["cohorts"])
async def enrol(cohort_id: uuid.UUID, request: Request, caller: Board, body: s.Empty | None = None) -> Response:
    return await forward(request, "applications", "POST", f"/cohorts/{cohort_id}/enrol", caller, {})


# --- applications ---


@router.post("/applications", status_code=201, responses=CREATED, tags=["applications"])
async def submit_application(request: Request, caller: Applicant, body: s.SubmitApplication) -> Response:
    return await forward(request, "applications", "POST", "/applications", caller, body.forwarded())


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


@router.get("/applications/{application_id}", responses=ERRORS, tags=["applications"])
async def get_application(application_id: uuid.UUID, request: Request, caller: CallerDep) -> Response:
    return await forward(request, "applications", "GET", f"/applications/{application_id}", caller)


@router.post(
    "/applications/{application_id}/endorse", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["applications"]
)
async def endorse(
    application_id: uuid.UUID, request: Request, caller: Sponsor, body: s.Empty | None = None
) -> Response:
    return await forward(request, "applications", "POST", f"/applications/{application_id}/endorse", caller, {})


@router.post(
    "/applications/{application_id}/decision", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["applications"]
)
async def decide(application_id: uuid.UUID, request: Request, caller: Board, body: s.BoardDecision) -> Response:
    return await forward(
        request, "applications", "POST", f"/applications/{application_id}/decision", caller, body.forwarded()
    )


@router.post(
    "/applications/{application_id}/withdraw", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["applications"]
)
async def withdraw(
    application_id: uuid.UUID,
    request: Request,
    caller: Annotated[Caller, Depends(role("applicant", "board"))],
    body: s.Empty | None = None,
) -> Response:
    return await forward(request, "applications", "POST", f"/applications/{application_id}/withdraw", caller, {})


# --- pairing ---


@router.post("/cohorts/{cohort_id}/pairing", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["pairing"])
async def request_pairing(
    cohort_id: uuid.UUID, request: Request, caller: Board, body: s.Empty | None = None
) -> Response:
    return await forward(request, "applications", "POST", f"/cohorts/{cohort_id}/pairing", caller, {})


@router.get("/cohorts/{cohort_id}/pairing", responses=ERRORS, tags=["pairing"])
async def pairing_status(cohort_id: uuid.UUID, request: Request, caller: BoardOrAdmin) -> Response:
    """The round's state and who is left out, with the reason."""
    return await forward(request, "pairing", "GET", f"/cohorts/{cohort_id}/pairing", caller)


@router.get("/cohorts/{cohort_id}/pairs", responses=ERRORS, tags=["pairing"])
async def list_pairs(
    cohort_id: uuid.UUID, request: Request, caller: Annotated[Caller, Depends(role("applicant", "board", "admin"))]
) -> Response:
    return await forward(request, "pairing", "GET", f"/cohorts/{cohort_id}/pairs", caller)


@router.post("/cohorts/{cohort_id}/pairs/swap", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["pairing"])
async def swap(cohort_id: uuid.UUID, request: Request, caller: Board, body: s.Swap) -> Response:
    return await forward(request, "pairing", "POST", f"/cohorts/{cohort_id}/pairs/swap", caller, body.forwarded())


@router.post("/cohorts/{cohort_id}/pairs/publish", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["pairing"])
async def publish_pairs(cohort_id: uuid.UUID, request: Request, caller: Board, body: s.Empty | None = None) -> Response:
    return await forward(request, "pairing", "POST", f"/cohorts/{cohort_id}/pairs/publish", caller, {})


@router.get("/pairs/mine", responses=ERRORS, tags=["pairing"])
async def my_pairs(request: Request, caller: Fellow) -> Response:
    """The caller's published pairs: partners (organisation, sector, place) and visits."""
    return await forward(request, "pairing", "GET", "/pairs/mine", caller)


@router.post("/pairs/{pair_id}/visits", status_code=201, responses=CREATED, tags=["pairing"])
async def schedule_visit(pair_id: uuid.UUID, request: Request, caller: Fellow, body: s.ScheduleVisit) -> Response:
    return await forward(request, "pairing", "POST", f"/pairs/{pair_id}/visits", caller, body.forwarded())


@router.post("/visits/{visit_id}/complete", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["pairing"])
async def complete_visit(
    visit_id: uuid.UUID, request: Request, caller: Fellow, body: s.Empty | None = None
) -> Response:
    return await forward(request, "pairing", "POST", f"/visits/{visit_id}/complete", caller, {})


# --- feedback ---


@router.post("/pairs/{pair_id}/feedback", status_code=201, responses=CREATED, tags=["feedback"])
async def give_feedback(pair_id: uuid.UUID, request: Request, caller: Fellow, body: s.GiveFeedback) -> Response:
    return await forward(request, "feedback", "POST", f"/pairs/{pair_id}/feedback", caller, body.forwarded())


@router.put(
    "/pairs/{pair_id}/feedback/{feedback_id}", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["feedback"]
)
async def correct_feedback(
    pair_id: uuid.UUID, feedback_id: uuid.UUID, request: Request, caller: Fellow, body: s.Correction
) -> Response:
    return await forward(
        request, "feedback", "PUT", f"/pairs/{pair_id}/feedback/{feedback_id}", caller, body.forwarded()
    )


@router.get("/pairs/{pair_id}/feedback", responses=ERRORS, tags=["feedback"])
async def my_pair_feedback(pair_id: uuid.UUID, request: Request, caller: Fellow) -> Response:
    return await forward(request, "feedback", "GET", f"/pairs/{pair_id}/feedback", caller)


@router.get("/fellows/{fellow_id}/feedback", responses=ERRORS, tags=["feedback"])
async def fellow_feedback(
    fellow_id: uuid.UUID, request: Request, caller: Annotated[Caller, Depends(role("applicant", "board", "admin"))]
) -> Response:
    return await forward(request, "feedback", "GET", f"/fellows/{fellow_id}/feedback", caller)


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


# --- notifications ---


@router.get("/notifications", responses=ERRORS, tags=["notifications"])
async def notifications(request: Request, caller: CallerDep) -> Response:
    return await forward(request, "notifications", "GET", "/notifications", caller)


@router.get("/notifications/preferences", response_model=s.Preferences, responses=ERRORS, tags=["notifications"])
async def notification_preferences(request: Request, caller: CallerDep) -> Response:
    return await forward(request, "notifications", "GET", "/notifications/preferences", caller)


@router.put("/notifications/preferences", response_model=s.Preferences, responses=ERRORS, tags=["notifications"])
async def set_notification_preferences(request: Request, caller: CallerDep, body: s.Preferences) -> Response:
    return await forward(request, "notifications", "PUT", "/notifications/preferences", caller, body.forwarded())


@router.post("/notifications/staff-contacts", status_code=201, responses=CREATED, tags=["notifications"])
async def register_staff_contact(request: Request, caller: Admin, body: s.StaffContactIn) -> Response:
    return await forward(request, "notifications", "POST", "/staff-contacts", caller, body.forwarded())


@router.get("/notifications/staff-contacts", responses=ERRORS, tags=["notifications"])
async def staff_contacts(request: Request, caller: Admin) -> Response:
    return await forward(request, "notifications", "GET", "/staff-contacts", caller)


@router.delete(
    "/notifications/staff-contacts/{staff_id}",
    status_code=202,
    responses={**ACCEPTED, **ERRORS},
    tags=["notifications"],
)
async def remove_staff_contact(staff_id: uuid.UUID, request: Request, caller: Admin) -> Response:
    return await forward(request, "notifications", "DELETE", f"/staff-contacts/{staff_id}", caller)


@router.get("/notifications/deliveries/unconfirmed", responses=ERRORS, tags=["notifications"])
async def unconfirmed_deliveries(request: Request, caller: Admin) -> Response:
    """Deliveries whose outcome is unknown (the sender stopped while handing them over): id, template,
    attempts and when, nothing personal."""
    return await forward(request, "notifications", "GET", "/deliveries/unconfirmed", caller)


@router.post(
    "/notifications/deliveries/{delivery_id}/resend",
    status_code=202,
    responses={**ACCEPTED, **ERRORS},
    tags=["notifications"],
)
async def resend_delivery(
    delivery_id: uuid.UUID, request: Request, caller: Admin, body: s.Empty | None = None
) -> Response:
    """Send an unconfirmed delivery again, with the same Message-ID, on an operator's word."""
    return await forward(request, "notifications", "POST", f"/deliveries/{delivery_id}/resend", caller)

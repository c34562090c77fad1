"""HTTP commands and queries of the applications service (the gateway calls these)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator
from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.applications import domain
from services.applications.models import Application, Cohort, Decision, Organisation, Programme, outbox
from shared import events as ev
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.fields import OrganisationCode, Text
from shared.identity import Caller, CallerDep
from shared.service import RuntimeDep

router = APIRouter()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateCohort(Strict):
    programme: Text
    name: Text
    capacity: int = Field(ge=2, le=100_000)
    pairing_mode: ev.PairingMode
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    exchange_starts: date | None = None
    exchange_ends: date | None = None
    auto_publish: bool = False

    model_config = ConfigDict(extra="forbid", strict=False)


class Created(BaseModel):
    id: uuid.UUID


def _weekdays() -> list[ev.Weekday]:
    return ["monday", "tuesday", "wednesday", "thursday", "friday"]


class SubmitApplication(Strict):
    cohort_id: uuid.UUID
    name: Text
    email: EmailStr
    job_title: Text
    organisation_id: uuid.UUID
    staff_group: ev.StaffGroup
    band: str
    statement: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=domain.STATEMENT_MIN, max_length=domain.STATEMENT_MAX)
    ]
    availability: list[ev.Weekday] = Field(default_factory=_weekdays, min_length=1)
    interests: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20
    )
    equality: dict[str, Any] | None = None

    model_config = ConfigDict(extra="forbid", strict=False)

    @field_validator("band")
    @classmethod
    def _band(cls, band: str) -> str:
        if not domain.BAND_PATTERN.match(band):
            raise ValueError(
                "band must be an Agenda for Change band 2-9 or 8a-8d, "
                "FY1, FY2, CT1-3, ST1-8, SAS, consultant, GP or other"
            )
        return band

    @field_validator("equality")
    @classmethod
    def _consent(cls, equality: dict[str, Any] | None) -> dict[str, Any] | None:
        if equality is not None and equality.get("consent") is not True:
            raise ValueError("equality data is kept only with consent: set equality.consent to true")
        return equality


class CreateOrganisation(Strict):
    code: OrganisationCode
    name: Text
    sector: Literal[ev.SECTORS]  # type: ignore[valid-type]
    place: Literal[ev.PLACES]  # type: ignore[valid-type]


class BoardDecision(Strict):
    decision: Literal["shortlist", "waitlist", "decline"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Empty(Strict):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


def _organisation_view(o: Organisation) -> dict[str, Any]:
    return {"id": o.id, "code": o.code, "name": o.name, "sector": o.sector, "place": o.place}


def _application_view(a: Application) -> dict[str, Any]:
    return {
        "id": a.id,
        "cohort_id": a.cohort_id,
        "name": a.name,
        "email": a.email,
        "job_title": a.job_title,
        "organisation_id": a.organisation_id,
        "staff_group": a.staff_group,
        "band": a.band,
        "statement": a.statement,
        "availability": a.availability,
        "interests": a.interests,
        "state": a.state,
        "submitted_at": a.submitted_at,
        "updated_at": a.updated_at,
    }


@router.get("/organisations")
async def list_organisations(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    async with runtime.transaction() as s:
        rows = (await s.scalars(select(Organisation).order_by(Organisation.name))).all()
    return [_organisation_view(o) for o in rows]


@router.post("/organisations", status_code=status.HTTP_201_CREATED)
async def create_organisation(body: CreateOrganisation, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("admin")
    async with runtime.transaction() as s:
        if await s.scalar(select(Organisation.id).where(func.lower(Organisation.code) == body.code.lower())):
            raise Conflict(f"an organisation with code {body.code} already exists")
        organisation = Organisation(
            id=uuid.uuid4(), code=body.code, name=body.name, sector=body.sector, place=body.place
        )
        s.add(organisation)
        try:
            await s.flush()
        except IntegrityError as exc:
            raise Conflict(f"an organisation with code {body.code} already exists") from exc
    return Created(id=organisation.id)


@router.post("/cohorts", status_code=status.HTTP_201_CREATED)
async def create_cohort(body: CreateCohort, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("admin")
    now = _now()
    opens_at = body.opens_at or now
    starts = body.exchange_starts or now.date()
    ends = body.exchange_ends or starts + timedelta(days=365)
    if body.closes_at is not None and body.closes_at <= opens_at:
        raise Invalid("closes_at must be after opens_at")
    if ends < starts:
        raise Invalid("exchange_ends must not be before exchange_starts")
    async with runtime.transaction() as s:
        programme = await s.scalar(select(Programme).where(Programme.name == body.programme))
        if programme is None:
            programme = Programme(id=uuid.uuid4(), name=body.programme)
            s.add(programme)
            await s.flush()
        cohort = Cohort(
            id=uuid.uuid4(),
            programme_id=programme.id,
            name=body.name,
            capacity=body.capacity,
            pairing_mode=body.pairing_mode,
            opens_at=opens_at,
            closes_at=body.closes_at,
            exchange_starts=starts,
            exchange_ends=ends,
            auto_publish=body.auto_publish,
            created_by=caller.sub,
        )
        s.add(cohort)
        await s.flush()
        await outbox.add(
            s,
            ev.CohortOpened(
                cohort_id=cohort.id,
                programme=programme.name,
                name=cohort.name,
                capacity=cohort.capacity,
                pairing_mode=body.pairing_mode,
                opens_at=opens_at,
                closes_at=body.closes_at,
                exchange_starts=starts,
                exchange_ends=ends,
                auto_publish=body.auto_publish,
            ),
        )
    return Created(id=cohort.id)


async def _cohort(s: AsyncSession, cohort_id: uuid.UUID) -> tuple[Cohort, Programme]:
    row = (await s.execute(select(Cohort, Programme).join(Programme).where(Cohort.id == cohort_id))).first()
    if row is None:
        raise NotFound("no such cohort")
    return row[0], row[1]


@router.get("/cohorts/{cohort_id}")
async def get_cohort(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    async with runtime.transaction() as s:
        cohort, programme = await _cohort(s, cohort_id)
        counts = dict(
            (
                await s.execute(
                    select(Application.state, func.count())
                    .where(Application.cohort_id == cohort_id)
                    .group_by(Application.state)
                )
            ).all()
        )
    return {
        "id": cohort.id,
        "programme": programme.name,
        "name": cohort.name,
        "capacity": cohort.capacity,
        "pairing_mode": cohort.pairing_mode,
        "opens_at": cohort.opens_at,
        "closes_at": cohort.closes_at,
        "exchange_starts": cohort.exchange_starts,
        "exchange_ends": cohort.exchange_ends,
        "auto_publish": cohort.auto_publish,
        "counts": {state: counts.get(state, 0) for state in domain.STATES},
    }


@router.post("/cohorts/{cohort_id}/close", status_code=status.HTTP_202_ACCEPTED)
async def close_cohort(cohort_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """Close the application window now; later applications are refused."""
    caller.require("admin")
    now = _now()
    async with runtime.transaction() as s:
        cohort = await s.get(Cohort, cohort_id, with_for_update=True)
        if cohort is None:
            raise NotFound("no such cohort")
        if cohort.closes_at is not None and cohort.closes_at <= now:
            raise Conflict(f"applications to this cohort already closed at {cohort.closes_at.isoformat()}")
        cohort.closes_at = now
        await outbox.add(s, ev.CohortClosed(cohort_id=cohort.id, closed_at=now))
    return Created(id=cohort_id)


@router.get("/cohorts/{cohort_id}/shortlisting")
async def shortlisting(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """The board's fair-shortlisting view: who applied, in aggregate, with small numbers suppressed."""
    caller.require("board")
    async with runtime.transaction() as s:
        await _cohort(s, cohort_id)
        rows = (
            await s.execute(
                select(Application, Organisation)
                .join(Organisation, Organisation.id == Application.organisation_id)
                .where(Application.cohort_id == cohort_id, Application.state != domain.WITHDRAWN)
            )
        ).all()
    by: dict[str, Counter[str]] = {k: Counter() for k in ("organisation", "sector", "place", "staff_group", "state")}
    equality: dict[str, Counter[str]] = {}
    consented = 0
    for application, organisation in rows:
        by["organisation"][organisation.code] += 1
        by["sector"][organisation.sector] += 1
        by["place"][organisation.place] += 1
        by["staff_group"][application.staff_group] += 1
        by["state"][application.state] += 1
        if application.equality and application.equality.get("consent") is True:
            consented += 1
            for key, value in application.equality.items():
                if key != "consent" and isinstance(value, str | int | bool):
                    equality.setdefault(key, Counter())[str(value)] += 1
    return {
        "cohort_id": cohort_id,
        "applications": len(rows),
        **{f"by_{k}": dict(sorted(v.items())) for k, v in by.items()},
        "equality": {
            "consented": domain.suppressed({"n": consented})["n"],
            "by_question": {k: domain.suppressed(dict(v)) for k, v in sorted(equality.items())},
        },
    }


_organisation = select(Organisation.code, Organisation.name).where(Organisation.id == bindparam("organisation_id"))
_COHORT_AND_ORGANISATION = select(
    Cohort.opens_at,
    Cohort.closes_at,
    _organisation.with_only_columns(Organisation.code).scalar_subquery().label("code"),
    _organisation.with_only_columns(Organisation.name).scalar_subquery().label("organisation_name"),
).where(Cohort.id == bindparam("cohort_id"))
# Built once: ``insert(...).values(...)`` per request spent more CPU building the statement than running it.
_INSERT_APPLICATION = insert(cast(Table, Application.__table__))


@router.post("/applications", status_code=status.HTTP_201_CREATED)
async def submit_application(body: SubmitApplication, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("applicant")
    now = _now()
    async with runtime.transaction() as s:
        # The cohort and the organisation in one prebuilt statement of plain columns: the busiest write
        # of the system skips the ORM's identity map and unit of work (a third of this service's CPU).
        keys = {"cohort_id": body.cohort_id, "organisation_id": body.organisation_id}
        found = (await s.execute(_COHORT_AND_ORGANISATION, keys)).first()
        if found is None:
            raise Invalid("cohort_id: no such cohort")
        if now < found.opens_at:
            raise Conflict(f"applications to this cohort open at {found.opens_at.isoformat()}")
        if found.closes_at is not None and now >= found.closes_at:
            raise Conflict(f"applications to this cohort closed at {found.closes_at.isoformat()}")
        if found.code is None:
            raise Invalid("organisation_id: no such organisation")
        application_id = uuid.uuid4()
        try:  # the unique index on (cohort, lower(e-mail)) finds a second application: no query first
            await s.execute(
                _INSERT_APPLICATION,
                {
                    "id": application_id,
                    "cohort_id": body.cohort_id,
                    "owner_sub": caller.sub,
                    "name": body.name,
                    "email": body.email,
                    "job_title": body.job_title,
                    "organisation_id": body.organisation_id,
                    "staff_group": body.staff_group,
                    "band": body.band,
                    "statement": body.statement,
                    "availability": list(dict.fromkeys(body.availability)),
                    "interests": list(dict.fromkeys(body.interests)),
                    "equality": body.equality,
                    "state": domain.SUBMITTED,
                    "submitted_at": now,
                    "updated_at": now,
                },
            )
        except IntegrityError as exc:
            raise Conflict("an application with this e-mail address already exists for this cohort") from exc
        await outbox.add(
            s,
            ev.ApplicationSubmitted(
                application_id=application_id,
                cohort_id=body.cohort_id,
                organisation_id=body.organisation_id,
                organisation_code=found.code,
                staff_group=body.staff_group,
                band=body.band,
                submitted_at=now,
            ),
            ev.ContactRecorded(
                person_id=application_id,
                subject=caller.sub,
                name=body.name,
                email=body.email,
                job_title=body.job_title,
                organisation_id=body.organisation_id,
                organisation_name=found.organisation_name,
            ),
        )
    return Created(id=application_id)


def _can_read(caller: Caller, application: Application) -> bool:
    if caller.role in ("board", "admin"):
        return True
    if caller.role == "sponsor":
        return caller.organisation_id == application.organisation_id
    return caller.sub == application.owner_sub


async def _readable(s: AsyncSession, caller: Caller, application_id: uuid.UUID) -> Application:
    application = await s.get(Application, application_id, with_for_update=True)
    # Not found and not yours answer the same, so nobody learns which ids exist.
    if application is None or not _can_read(caller, application):
        raise NotFound("no such application")
    return application


@router.get("/applications/mine")
async def my_applications(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    async with runtime.transaction() as s:
        rows = (
            await s.scalars(
                select(Application).where(Application.owner_sub == caller.sub).order_by(Application.submitted_at)
            )
        ).all()
    return [_application_view(a) for a in rows]


@router.get("/applications/{application_id}")
async def get_application(application_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    async with runtime.transaction() as s:
        application = await _readable(s, caller, application_id)
    return _application_view(application)


async def _change(
    s: AsyncSession, application: Application, action: str, caller: Caller, reason: str | None = None
) -> tuple[str, datetime]:
    previous = application.state
    try:
        application.state = domain.transition(previous, action)
    except domain.IllegalTransition as exc:
        raise Conflict(str(exc), state=previous) from exc
    now = _now()
    application.updated_at = now
    s.add(
        Decision(
            application_id=application.id,
            action=action,
            from_state=previous,
            to_state=application.state,
            reason=reason,
            decided_by=caller.sub,
            decided_at=now,
        )
    )
    return previous, now


async def _organisation_code(s: AsyncSession, organisation_id: uuid.UUID) -> str:
    code = await s.scalar(select(Organisation.code).where(Organisation.id == organisation_id))
    return code or ""


@router.post("/applications/{application_id}/endorse", status_code=status.HTTP_202_ACCEPTED)
async def endorse(application_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("sponsor")
    async with runtime.transaction() as s:
        application = await _readable(s, caller, application_id)
        _, now = await _change(s, application, "endorse", caller)
        await outbox.add(
            s,
            ev.ApplicationEndorsed(
                application_id=application.id,
                cohort_id=application.cohort_id,
                organisation_code=await _organisation_code(s, application.organisation_id),
                endorsed_at=now,
            ),
        )
    return Created(id=application.id)


DECISION_EVENTS: dict[str, type[ev.ApplicationShortlisted | ev.ApplicationWaitlisted | ev.ApplicationDeclined]] = {
    "shortlist": ev.ApplicationShortlisted,
    "waitlist": ev.ApplicationWaitlisted,
    "decline": ev.ApplicationDeclined,
}


@router.post("/applications/{application_id}/decision", status_code=status.HTTP_202_ACCEPTED)
async def decide(application_id: uuid.UUID, body: BoardDecision, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("board")
    async with runtime.transaction() as s:
        application = await _readable(s, caller, application_id)
        _, now = await _change(s, application, body.decision, caller, body.reason)
        await outbox.add(
            s,
            DECISION_EVENTS[body.decision](
                application_id=application.id,
                cohort_id=application.cohort_id,
                organisation_code=await _organisation_code(s, application.organisation_id),
                decided_at=now,
            ),
        )
    return Created(id=application.id)


@router.post("/applications/{application_id}/withdraw", status_code=status.HTTP_202_ACCEPTED)
async def withdraw(application_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with runtime.transaction() as s:
        application = await _readable(s, caller, application_id)
        if caller.role not in ("board",) and caller.sub != application.owner_sub:
            raise Forbidden("only the applicant or the board can withdraw an application")
        previous, now = await _change(s, application, "withdraw", caller)
        await outbox.add(
            s,
            ev.ApplicationWithdrawn(
                application_id=application.id,
                cohort_id=application.cohort_id,
                previous_state=previous,
                withdrawn_at=now,
            ),
        )
        if previous in (domain.SHORTLISTED, domain.ENROLLED):
            await _promote_next(s, application, caller)
    return Created(id=application.id)


async def _promote_next(s: AsyncSession, withdrawn: Application, caller: Caller) -> None:
    """A place was freed: the first waitlisted application (in decision order) moves up to shortlisted."""
    cohort = await s.get(Cohort, withdrawn.cohort_id, with_for_update=True)
    assert cohort is not None
    taken = await s.scalar(
        select(func.count()).where(
            Application.cohort_id == cohort.id, Application.state.in_((domain.SHORTLISTED, domain.ENROLLED))
        )
    )
    if (taken or 0) >= cohort.capacity:
        return
    nxt = await s.scalar(
        select(Application)
        .where(Application.cohort_id == cohort.id, Application.state == domain.WAITLISTED)
        .order_by(Application.updated_at, Application.id)
        .limit(1)
        .with_for_update()
    )
    if nxt is None:
        return
    _, now = await _change(s, nxt, "promote", caller, f"a place was freed by the withdrawal of {withdrawn.id}")
    await outbox.add(
        s,
        ev.ApplicationShortlisted(
            application_id=nxt.id,
            cohort_id=nxt.cohort_id,
            organisation_code=await _organisation_code(s, nxt.organisation_id),
            decided_at=now,
            promoted_after_withdrawal_of=withdrawn.id,
        ),
    )


@router.post("/cohorts/{cohort_id}/enrol", status_code=status.HTTP_202_ACCEPTED)
async def enrol(cohort_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    caller.require("board")
    async with runtime.transaction() as s:
        cohort, _ = await _cohort(s, cohort_id)
        shortlisted = (
            await s.scalars(
                select(Application)
                .where(Application.cohort_id == cohort_id, Application.state == domain.SHORTLISTED)
                .order_by(Application.updated_at, Application.id)
                .with_for_update()
            )
        ).all()
        enrolled = await s.scalar(
            select(func.count()).where(Application.cohort_id == cohort_id, Application.state == domain.ENROLLED)
        )
        room = domain.enrolment(len(shortlisted), enrolled or 0, cohort.capacity)
        organisations = {o.id: o for o in (await s.scalars(select(Organisation))).all()}
        fellow_ids = []
        # One outbox insert for the whole fan-out after the loop: staged one by one, every event's
        # insert also flushed the application and decision rows before it (500 round trips for 500).
        events: list[ev.Event] = []
        for application in shortlisted[:room]:
            _, now = await _change(s, application, "enrol", caller)
            organisation = organisations[application.organisation_id]
            fellow_ids.append(application.id)
            events.append(
                ev.FellowEnrolled(
                    fellow_id=application.id,
                    cohort_id=cohort_id,
                    organisation_id=organisation.id,
                    organisation_code=organisation.code,
                    sector=organisation.sector,
                    place=organisation.place,
                    staff_group=application.staff_group,
                    band=application.band,
                    availability=application.availability,
                    interests=application.interests,
                    enrolled_at=now,
                    person_id=domain.person_id(application.email),
                )
            )
        waitlisted = []
        for application in shortlisted[room:]:
            _, now = await _change(s, application, "overflow", caller, "over the cohort's capacity")
            waitlisted.append(application.id)
            events.append(
                ev.ApplicationWaitlisted(
                    application_id=application.id,
                    cohort_id=cohort_id,
                    organisation_code=organisations[application.organisation_id].code,
                    decided_at=now,
                )
            )
        await outbox.add(s, *events)
    return {"id": cohort_id, "enrolled": fellow_ids, "waitlisted": waitlisted, "over_capacity": len(waitlisted)}


@router.post("/cohorts/{cohort_id}/pairing", status_code=status.HTTP_202_ACCEPTED)
async def request_pairing(cohort_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("board")
    async with runtime.transaction() as s:
        cohort, _ = await _cohort(s, cohort_id)
        fellow_ids = (
            await s.scalars(
                select(Application.id)
                .where(Application.cohort_id == cohort_id, Application.state == domain.ENROLLED)
                .order_by(Application.id)
            )
        ).all()
        if len(fellow_ids) < 2:
            raise Conflict(f"a pairing round needs at least two enrolled fellows; this cohort has {len(fellow_ids)}")
        await outbox.add(
            s,
            ev.PairingRequested(
                cohort_id=cohort_id,
                fellow_ids=list(fellow_ids),
                pairing_mode=cohort.pairing_mode,
                auto_publish=cohort.auto_publish,
                exchange_starts=cohort.exchange_starts,
                exchange_ends=cohort.exchange_ends,
                requested_at=_now(),
            ),
        )
    return Created(id=cohort_id)

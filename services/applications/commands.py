"""Transaction scripts of the applications service: load rows in the caller's transaction, ask the
domain, save, stage the events in the outbox. Refusals are ``shared.errors``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.applications import domain, seed
from services.applications.models import (
    Application,
    Cohort,
    Decision,
    Erasure,
    ErasureConfirmation,
    Organisation,
    Programme,
    outbox,
)
from shared import events as ev
from shared import privacy, topics
from shared.clock import utcnow
from shared.errors import Conflict, Invalid, NotFound
from shared.identity import Caller
from shared.retention import BATCH
from shared.views import view

# --- organisations and cohorts --------------------------------------------------------------


async def create_organisation(s: AsyncSession, code: str, name: str, sector: str, place: str) -> uuid.UUID:
    if await s.scalar(select(Organisation.id).where(func.lower(Organisation.code) == code.lower())):
        raise Conflict(f"an organisation with code {code} already exists")
    organisation = Organisation(id=uuid.uuid4(), code=code, name=name, sector=sector, place=place)
    s.add(organisation)
    try:
        await s.flush()
    except IntegrityError as exc:
        raise Conflict(f"an organisation with code {code} already exists") from exc
    return organisation.id


async def seed_organisations(s: AsyncSession) -> int:
    """Insert the BLMK partners (demo data) that are not there yet; return how many were added."""
    stmt = pg_insert(Organisation).values(seed.partners()).on_conflict_do_nothing(index_elements=["code"])
    result = await s.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


class CohortForm(Protocol):
    """A new cohort as the HTTP body gives it."""

    programme: str
    name: str
    capacity: int
    pairing_mode: ev.PairingMode
    opens_at: datetime | None
    closes_at: datetime | None
    exchange_starts: date | None
    exchange_ends: date | None
    auto_publish: bool


async def create_cohort(s: AsyncSession, form: CohortForm, created_by: str) -> uuid.UUID:
    dates = domain.cohort_dates(utcnow(), form.opens_at, form.closes_at, form.exchange_starts, form.exchange_ends)
    programme = await s.scalar(select(Programme).where(Programme.name == form.programme))
    if programme is None:
        programme = Programme(id=uuid.uuid4(), name=form.programme)
        s.add(programme)
        await s.flush()
    cohort = Cohort(
        id=uuid.uuid4(),
        programme_id=programme.id,
        created_by=created_by,
        **view(form, "name capacity pairing_mode auto_publish"),
        **asdict(dates),
    )
    s.add(cohort)
    await s.flush()
    await outbox.add(
        s,
        ev.CohortOpened(
            cohort_id=cohort.id,
            programme=programme.name,
            **view(cohort, "name capacity pairing_mode auto_publish"),
            **asdict(dates),
        ),
    )
    return cohort.id


async def close_cohort(s: AsyncSession, cohort_id: uuid.UUID) -> None:
    """Close the application window now; later applications are refused."""
    now = utcnow()
    cohort = await s.get(Cohort, cohort_id, with_for_update=True)
    if cohort is None:
        raise NotFound("no such cohort")
    domain.check_closable(now, cohort.closes_at)
    cohort.closes_at = now
    await outbox.add(s, ev.CohortClosed(cohort_id=cohort.id, closed_at=now))


async def request_pairing(s: AsyncSession, cohort_id: uuid.UUID) -> None:
    """Ask pairing for a round over the cohort's enrolled fellows (refused once its pairs are published)."""
    cohort = await s.get(Cohort, cohort_id)
    if cohort is None:
        raise NotFound("no such cohort")
    fellow_ids = (
        await s.scalars(
            select(Application.id)
            .where(Application.cohort_id == cohort_id, Application.state == domain.ENROLLED)
            .order_by(Application.id)
        )
    ).all()
    domain.check_pairing_request(len(fellow_ids), cohort.pairs_published_at)
    await outbox.add(
        s,
        ev.PairingRequested(
            cohort_id=cohort_id,
            fellow_ids=list(fellow_ids),
            pairing_mode=cohort.pairing_mode,
            auto_publish=cohort.auto_publish,
            exchange_starts=cohort.exchange_starts,
            exchange_ends=cohort.exchange_ends,
            requested_at=utcnow(),
        ),
    )


_PAIRS_PUBLISHED = (
    update(cast(Table, Cohort.__table__))
    .where(Cohort.id == bindparam("cohort"), Cohort.pairs_published_at.is_(None))
    .values(pairs_published_at=bindparam("at"))
)


async def record_pairs_published(s: AsyncSession, published: Mapping[uuid.UUID, datetime]) -> None:
    """Note when each cohort's pairs were published; the first time counts."""
    if published:
        await s.execute(_PAIRS_PUBLISHED, [{"cohort": c, "at": at} for c, at in published.items()])


# --- submission (the busiest write: prebuilt statements, no ORM; docs/decisions/0002) ----------

_organisation = select(Organisation.code, Organisation.name).where(Organisation.id == bindparam("organisation_id"))
_COHORT_AND_ORGANISATION = select(
    Cohort.opens_at,
    Cohort.closes_at,
    _organisation.with_only_columns(Organisation.code).scalar_subquery().label("code"),
    _organisation.with_only_columns(Organisation.name).scalar_subquery().label("organisation_name"),
).where(Cohort.id == bindparam("cohort_id"))
# Built once, not ``insert(...).values(...)`` per request (docs/decisions/0002).
_INSERT_APPLICATION = insert(cast(Table, Application.__table__))


class ApplicationForm(Protocol):
    """An application as the HTTP body gives it."""

    cohort_id: uuid.UUID
    name: str
    email: str | None
    job_title: str
    organisation_id: uuid.UUID
    staff_group: ev.StaffGroup
    band: str
    statement: str
    availability: list[ev.Weekday] | None
    interests: list[str] | None
    equality: dict[str, str | int | bool | None] | None


async def submit_application(s: AsyncSession, form: ApplicationForm, caller: Caller, dev_mode: bool) -> uuid.UUID:
    """The caller's application; its e-mail is their sign-in's (domain.applicant_email)."""
    now, email, owner_sub = utcnow(), domain.applicant_email(caller.email, form.email, dev_mode), caller.sub
    # The cohort and the organisation in one prebuilt statement of plain columns, past the ORM's
    # identity map and unit of work.
    keys = {"cohort_id": form.cohort_id, "organisation_id": form.organisation_id}
    found = (await s.execute(_COHORT_AND_ORGANISATION, keys)).first()
    if found is None:
        raise Invalid("cohort_id: no such cohort")
    domain.check_window(now, found.opens_at, found.closes_at)
    if found.code is None:
        raise Invalid("organisation_id: no such organisation")
    application_id = uuid.uuid4()
    try:  # unique indexes on open applications (cohort with lower(e-mail), and with owner): no query first
        await s.execute(
            _INSERT_APPLICATION,
            {
                "id": application_id,
                "cohort_id": form.cohort_id,
                "owner_sub": owner_sub,
                "name": form.name,
                "email": email,
                "job_title": form.job_title,
                "organisation_id": form.organisation_id,
                "staff_group": form.staff_group,
                "band": form.band,
                "statement": form.statement,
                "availability": domain.availability(form.availability),
                "interests": domain.interests(form.interests),
                "equality": form.equality,
                "state": domain.SUBMITTED,
                "submitted_at": now,
                "updated_at": now,
            },
        )
    except IntegrityError as exc:
        raise Conflict("you already have an open application to this cohort (withdraw it to apply again)") from exc
    await outbox.add(
        s,
        ev.ApplicationSubmitted(
            application_id=application_id,
            organisation_code=found.code,
            submitted_at=now,
            **view(form, "cohort_id organisation_id staff_group band"),
        ),
        ev.ContactRecorded(
            person_id=application_id,
            subject=owner_sub,
            organisation_name=found.organisation_name,
            interests=domain.interests(form.interests),
            email=email,
            **view(form, "name job_title organisation_id"),
        ),
    )
    return application_id


# --- the state machine -----------------------------------------------------------------------


async def _readable(s: AsyncSession, caller: Caller, application_id: uuid.UUID) -> Application:
    """The application, locked, if the caller may read it; not found and not yours answer the same."""
    application = await s.get(Application, application_id, with_for_update=True)
    scope = domain.read_scope(caller.role, caller.sub, caller.organisation_id)
    if application is None or not scope.allows(application.owner_sub, application.organisation_id):
        raise NotFound("no such application")
    return application


def _change(
    s: AsyncSession, application: Application, action: str, by: str, reason: str | None = None
) -> domain.Change:
    """Move the application by ``action`` and add the change to its decision trail."""
    try:
        change = domain.change(application.state, action, by, utcnow(), reason)
    except domain.IllegalTransition as exc:
        raise Conflict(str(exc), state=application.state) from exc
    application.state = change.to_state
    application.updated_at = change.decided_at
    s.add(Decision(application_id=application.id, **asdict(change)))
    return change


async def _organisation_code(s: AsyncSession, organisation_id: uuid.UUID) -> str:
    code = await s.scalar(select(Organisation.code).where(Organisation.id == organisation_id))
    return code or ""


async def endorse(s: AsyncSession, caller: Caller, application_id: uuid.UUID) -> None:
    application = await _readable(s, caller, application_id)
    change = _change(s, application, "endorse", caller.sub)
    await outbox.add(
        s,
        ev.ApplicationEndorsed(
            application_id=application.id,
            cohort_id=application.cohort_id,
            organisation_code=await _organisation_code(s, application.organisation_id),
            endorsed_at=change.decided_at,
        ),
    )


async def decide(s: AsyncSession, caller: Caller, application_id: uuid.UUID, decision: str, reason: str) -> None:
    """A board decision (shortlist, waitlist, decline) with its reason."""
    application = await _readable(s, caller, application_id)
    change = _change(s, application, decision, caller.sub, reason)
    code = await _organisation_code(s, application.organisation_id)
    await outbox.add(s, domain.decision_event(decision, application, code, change.decided_at))


async def withdraw(s: AsyncSession, caller: Caller, application_id: uuid.UUID) -> None:
    """Withdraw an application; a place it held goes to the first waitlisted."""
    application = await _readable(s, caller, application_id)
    domain.check_may_withdraw(caller.role, caller.sub, application.owner_sub)
    await _withdraw(s, application, caller.sub)


async def _withdraw(s: AsyncSession, application: Application, by: str) -> None:
    change = _change(s, application, "withdraw", by)
    await outbox.add(
        s,
        ev.ApplicationWithdrawn(
            application_id=application.id,
            cohort_id=application.cohort_id,
            previous_state=change.from_state,
            withdrawn_at=change.decided_at,
        ),
    )
    if domain.frees_a_place(change.from_state):
        await _promote_next(s, application, by)


async def _promote_next(s: AsyncSession, withdrawn: Application, by: str) -> None:
    """A place was freed: the first waitlisted application (in decision order) moves up to shortlisted."""
    cohort = await s.get(Cohort, withdrawn.cohort_id, with_for_update=True)
    assert cohort is not None
    taken = await s.scalar(
        select(func.count()).where(Application.cohort_id == cohort.id, Application.state.in_(domain.PLACE_HOLDING))
    )
    if not domain.room_for_promotion(taken or 0, cohort.capacity):
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
    change = _change(s, nxt, "promote", by, domain.promotion_reason(withdrawn.id))
    code = await _organisation_code(s, nxt.organisation_id)
    await outbox.add(s, domain.promoted(nxt, code, withdrawn.id, change.decided_at))


async def enrol(s: AsyncSession, caller: Caller, cohort_id: uuid.UUID, person_key: bytes) -> dict[str, Any]:
    """Enrol the shortlisted up to the cohort's capacity, in decision order; the rest wait. Each
    fellow's person id is keyed with ``person_key`` (ApplicationsSettings.person_key)."""
    cohort = await s.get(Cohort, cohort_id)
    if cohort is None:
        raise NotFound("no such cohort")
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
    fellows, overflow = domain.enrolment_split(shortlisted, enrolled or 0, cohort.capacity)
    organisations = {o.id: o for o in (await s.scalars(select(Organisation))).all()}
    # One outbox insert for the whole fan-out after the loops: staged one by one, every event's insert
    # would also flush the application and decision rows before it (docs/decisions/0001).
    events: list[ev.Event] = []
    for application in fellows:
        change = _change(s, application, "enrol", caller.sub)
        events.append(
            domain.fellow_enrolled(
                application, organisations[application.organisation_id], change.decided_at, person_key
            )
        )
    for application in overflow:
        change = _change(s, application, "overflow", caller.sub, domain.OVER_CAPACITY)
        code = organisations[application.organisation_id].code
        events.append(domain.decision_event("waitlist", application, code, change.decided_at))
    await outbox.add(s, *events)
    return {
        "id": cohort_id,
        "enrolled": [a.id for a in fellows],
        "waitlisted": [a.id for a in overflow],
        "over_capacity": len(overflow),
    }


# --- retention (shared/retention.py runs it) --------------------------------------------------------


async def purge_expired(
    s: AsyncSession, now: datetime, keep: timedelta, limit: int = BATCH, cohort_id: uuid.UUID | None = None
) -> int:
    """Anonymise one batch of applications never enrolled whose cohort closed more than ``keep`` ago
    (of one cohort, or all); the board's reasons for their decisions go too. Returns how many."""
    query = (
        select(Application.id)
        .join(Cohort, Cohort.id == Application.cohort_id)
        .where(
            Application.erased_at.is_(None),
            Application.state != domain.ENROLLED,
            Cohort.closes_at.is_not(None),
            Cohort.closes_at <= now - keep,
        )
        .limit(limit)
        .with_for_update(of=Application, skip_locked=True)
    )
    if cohort_id is not None:
        query = query.where(Application.cohort_id == cohort_id)
    expired = (await s.scalars(query)).all()
    for application_id in expired:
        await s.execute(
            update(Application).where(Application.id == application_id).values(domain.anonymised(application_id, now))
        )
    if expired:
        await s.execute(update(Decision).where(Decision.application_id.in_(expired)).values(reason=None))
    return len(expired)


# --- erasure on request (README, "Privacy") --------------------------------------------------------


async def request_erasure(s: AsyncSession, email: str, person_key: bytes, by: str) -> uuid.UUID:
    """Ask every service to erase the person who applied with this address: the erasure's id. Asking
    again answers the same erasure (the address is gone by then: the person's pseudonym finds it)."""
    found = (
        await s.execute(
            select(Application.id, Application.state)
            .where(func.lower(Application.email) == email.strip().lower(), Application.erased_at.is_(None))
            .order_by(Application.id)
            .with_for_update()  # two requests for one person: the second waits, then finds the first
        )
    ).all()
    person_id = domain.person_id(email, person_key)
    earlier = await s.scalar(
        select(Erasure).where(Erasure.person_id == person_id).order_by(Erasure.requested_at.desc()).limit(1)
    )
    ids = [application_id for application_id, _ in found]
    outcome = domain.erasure_request(ids, None if earlier is None else [uuid.UUID(i) for i in earlier.application_ids])
    if outcome == "unknown":
        raise NotFound("nobody applied with this e-mail address")
    if outcome == "earlier":
        assert earlier is not None
        return earlier.id
    enrolled = set(
        (
            await s.scalars(
                select(Decision.application_id).where(
                    Decision.application_id.in_(ids), Decision.to_state == domain.ENROLLED
                )
            )
        ).all()
    )
    fellow_ids = [i for i in ids if i in enrolled]
    erasure = Erasure(
        id=uuid.uuid4(),
        person_id=person_id,
        application_ids=[str(i) for i in ids],
        fellow_ids=[str(i) for i in fellow_ids],
        requested_by=by,
        requested_at=utcnow(),
    )
    s.add(erasure)
    await s.flush()
    await outbox.add(
        s,
        ev.PersonErasureRequested(
            erasure_id=erasure.id,
            application_ids=ids,
            fellow_ids=fellow_ids,
            person_id=person_id,
            requested_at=erasure.requested_at,
        ),
    )
    return erasure.id


async def erase_person(s: AsyncSession, event: ev.PersonErasureRequested) -> None:
    """This service's part of an erasure: an application not yet enrolled is withdrawn (a place it
    held goes to the first waitlisted); the applications anonymised (as retention does: state,
    dates, organisation, staff group and band stay, so counts add up), the board's reasons about them
    and their own name in the decision trail gone, and their contact forgotten on the compacted
    contacts topic (the outbox's copies deleted, a tombstone per application)."""
    now, ids = utcnow(), privacy.erased_ids(event)
    applications = (
        await s.scalars(select(Application).where(Application.id.in_(ids)).order_by(Application.id).with_for_update())
    ).all()
    subjects = {a.owner_sub for a in applications}
    for application in applications:  # nobody endorses, shortlists or enrols an erased person
        if domain.withdrawn_on_erasure(application.state):
            await _withdraw(s, application, domain.ERASED_BY)
    for application_id in ids:
        await s.execute(
            update(Application).where(Application.id == application_id).values(domain.anonymised(application_id, now))
        )
    await s.execute(update(Decision).where(Decision.application_id.in_(ids)).values(reason=None))
    await s.execute(
        update(Decision)
        .where(Decision.application_id.in_(ids), Decision.decided_by.in_(subjects))
        .values(decided_by=domain.ERASED_BY)
    )
    await outbox.forget(s, topics.CONTACTS, [str(i) for i in ids])
    await privacy.confirm(s, outbox, event, "applications")


async def record_erased(s: AsyncSession, events: list[ev.PersonErased]) -> None:
    """Each service's confirmation of an erasure; a repeated one changes nothing."""
    rows = [{"erasure_id": e.erasure_id, "service": e.service, "erased_at": e.erased_at} for e in events]
    await s.execute(pg_insert(ErasureConfirmation).values(rows).on_conflict_do_nothing())

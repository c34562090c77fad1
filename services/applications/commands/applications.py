"""Transaction scripts for applications: submission, the state machine (endorse, decide, withdraw,
promote) and enrolment. Refusals are ``shared.errors``."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.applications import domain, places
from services.applications.models import Application, Cohort, Decision, Organisation, outbox
from shared import events as ev
from shared import programmes
from shared.clock import utcnow
from shared.contract import Offer
from shared.errors import Conflict, Invalid, NotFound
from shared.identity import Caller
from shared.views import view

# --- submission (the busiest write: prebuilt statements, no ORM; docs/decisions/0002) ----------

# A retired organisation takes no new applications: it is not found here.
_organisation = select(Organisation.code, Organisation.name).where(
    Organisation.id == bindparam("organisation_id"), Organisation.retired_at.is_(None)
)
_COHORT_AND_ORGANISATION = select(
    Cohort.opens_at,
    Cohort.closes_at,
    Cohort.kind,
    _organisation.with_only_columns(Organisation.code).scalar_subquery().label("code"),
    _organisation.with_only_columns(Organisation.name).scalar_subquery().label("organisation_name"),
).where(Cohort.id == bindparam("cohort_id"))
# Built once, not ``insert(...).values(...)`` per request (docs/decisions/0002).
_INSERT_APPLICATION = insert(cast(Table, Application.__table__))


class ApplicationForm(Protocol):
    """An application as the HTTP body gives it."""

    cohort_id: uuid.UUID
    role: ev.Role
    capacity: int | None
    offer: Offer | None
    wants: list[str] | None
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
    conflicts: list[str] | None


async def submit_application(
    s: AsyncSession, form: ApplicationForm, caller: Caller, dev_mode: bool, person_key: bytes
) -> uuid.UUID:
    """The caller's application; its e-mail is their sign-in's (domain.applicant_email). Declared
    conflicts reach pairing as person pseudonyms keyed with ``person_key``, on the internal contacts
    topic only; their addresses are not kept."""
    now, email, owner_sub = utcnow(), domain.applicant_email(caller.email, form.email, dev_mode), caller.sub
    conflicts = domain.conflicts(form.conflicts, email, person_key)
    # The cohort and the organisation in one prebuilt statement of plain columns, past the ORM's
    # identity map and unit of work.
    keys = {"cohort_id": form.cohort_id, "organisation_id": form.organisation_id}
    found = (await s.execute(_COHORT_AND_ORGANISATION, keys)).first()
    if found is None:
        raise Invalid("cohort_id: no such cohort")
    domain.check_window(now, found.opens_at, found.closes_at)
    if found.code is None:
        raise Invalid("organisation_id: no such organisation, or it has retired")
    places = programmes.check_application(
        found.kind, form.role, form.capacity, form.offer is not None, bool(form.wants)
    )
    application_id = uuid.uuid4()
    row = view(form, "cohort_id name job_title organisation_id staff_group band statement role equality")
    try:  # unique indexes on open applications (cohort with lower(e-mail), and with owner): no query first
        await s.execute(
            _INSERT_APPLICATION,
            row
            | {
                "id": application_id,
                "owner_sub": owner_sub,
                "email": email,
                "availability": domain.availability(form.availability),
                "interests": domain.interests(form.interests),
                "capacity": places,
                "offer": form.offer.model_dump() if form.offer else None,
                "wants": domain.interests(form.wants),
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
            interests=domain.interests(form.interests, form.offer.tags if form.offer else None, form.wants),
            offer=form.offer and form.offer.summary,
            conflicts=conflicts,
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


async def _held_by_organisation(
    s: AsyncSession, cohort_id: uuid.UUID, states: tuple[str, ...] = domain.PLACE_HOLDING
) -> dict[uuid.UUID, int]:
    """How many of the cohort's places each organisation holds (or how many of its applications are in ``states``)."""
    rows = await s.execute(
        select(Application.organisation_id, func.count())
        .where(Application.cohort_id == cohort_id, Application.state.in_(states))
        .group_by(Application.organisation_id)
    )
    return {organisation: count for organisation, count in rows.tuples()}


async def _check_organisation_room(s: AsyncSession, application: Application) -> None:
    """Before the board shortlists: 409 when the application's organisation already holds every place
    the cohort allows one organisation (``places.py``); the cohort's row is locked, so two decisions
    cannot both take its last place."""
    cap = await s.scalar(select(Cohort.places_per_organisation).where(Cohort.id == application.cohort_id))
    if cap is None or application.state not in domain.TRANSITIONS["shortlist"][0]:
        return
    await s.get(Cohort, application.cohort_id, with_for_update=True)
    held = await _held_by_organisation(s, application.cohort_id)
    name = await s.scalar(select(Organisation.name).where(Organisation.id == application.organisation_id))
    places.check_room(held.get(application.organisation_id, 0), cap, name or "this organisation")


async def endorse(s: AsyncSession, caller: Caller, application_id: uuid.UUID, person_key: bytes) -> None:
    """The sponsor's yes; in a cohort that enrols endorsed applications at once (``auto_enrol``) the
    application is enrolled in the same transaction while places last, and waits when they are gone."""
    application = await _readable(s, caller, application_id)
    change = _change(s, application, "endorse", caller.sub)
    organisation = await s.get(Organisation, application.organisation_id)
    assert organisation is not None
    events: list[ev.Event] = [
        ev.ApplicationEndorsed(
            application_id=application.id,
            cohort_id=application.cohort_id,
            organisation_code=organisation.code,
            endorsed_at=change.decided_at,
        )
    ]
    auto_enrol = await s.scalar(select(Cohort.auto_enrol).where(Cohort.id == application.cohort_id))
    if auto_enrol:  # the cohort's row locked only then: one enrolment at a time, endorsements elsewhere free
        cohort = await s.get(Cohort, application.cohort_id, with_for_update=True)
        assert cohort is not None
        held = await _held_by_organisation(s, cohort.id)
        own = places.has_room(held.get(application.organisation_id, 0), cohort.places_per_organisation)
        room = own and domain.room_for_promotion(sum(held.values()), cohort.capacity)
        decision = "shortlist" if room else "waitlist"
        why = domain.AUTO_ENROL if room else domain.OVER_CAPACITY if own else places.OVER_ORGANISATION_PLACES
        change = _change(s, application, decision, caller.sub, why)
        events.append(domain.decision_event(decision, application, organisation.code, change.decided_at))
        if room:
            change = _change(s, application, "enrol", caller.sub, domain.AUTO_ENROL)
            events.append(domain.fellow_enrolled(application, organisation, change.decided_at, person_key))
    await outbox.add(s, *events)


async def decide(s: AsyncSession, caller: Caller, application_id: uuid.UUID, decision: str, reason: str) -> None:
    """A board decision (shortlist, waitlist, decline) with its reason."""
    application = await _readable(s, caller, application_id)
    if decision == "shortlist":
        await _check_organisation_room(s, application)
    change = _change(s, application, decision, caller.sub, reason)
    code = await _organisation_code(s, application.organisation_id)
    await outbox.add(s, domain.decision_event(decision, application, code, change.decided_at))


async def withdraw(s: AsyncSession, caller: Caller, application_id: uuid.UUID) -> None:
    """Withdraw an application; a place it held goes to the first waitlisted."""
    application = await _readable(s, caller, application_id)
    domain.check_may_withdraw(caller.role, caller.sub, application.owner_sub)
    await withdraw_application(s, application, caller.sub)


async def withdraw_application(s: AsyncSession, application: Application, by: str) -> None:
    """Withdraw the application on behalf of ``by``; a place it held goes to the first waitlisted."""
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
    """A place was freed: the first waitlisted application (in decision order) whose organisation has
    room under the cohort's cap moves up to shortlisted."""
    cohort = await s.get(Cohort, withdrawn.cohort_id, with_for_update=True)
    assert cohort is not None
    held = await _held_by_organisation(s, cohort.id)
    if not domain.room_for_promotion(sum(held.values()), cohort.capacity):
        return
    waiting = (
        select(Application)
        .where(Application.cohort_id == cohort.id, Application.state == domain.WAITLISTED)
        .order_by(Application.updated_at, Application.id)
        .with_for_update()
    )
    if cohort.places_per_organisation is None:
        nxt = await s.scalar(waiting.limit(1))
    else:
        waitlisted = (await s.scalars(waiting)).all()
        fit, _ = places.within_cap(waitlisted, _organisation_of, held, cohort.places_per_organisation)
        nxt = fit[0] if fit else None
    if nxt is None:
        return
    change = _change(s, nxt, "promote", by, domain.promotion_reason(withdrawn.id))
    code = await _organisation_code(s, nxt.organisation_id)
    await outbox.add(s, domain.promoted(nxt, code, withdrawn.id, change.decided_at))


async def enrol(s: AsyncSession, caller: Caller, cohort_id: uuid.UUID, person_key: bytes) -> dict[str, Any]:
    """Enrol the shortlisted up to the cohort's capacity and each organisation's cap, in decision order;
    the rest wait. Each fellow's person id is keyed with ``person_key`` (ApplicationsSettings.person_key)."""
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
    enrolled_by_organisation = await _held_by_organisation(s, cohort_id, (domain.ENROLLED,))
    fit, over_cap = places.within_cap(
        shortlisted, _organisation_of, enrolled_by_organisation, cohort.places_per_organisation
    )
    fellows, overflow = domain.enrolment_split(fit, enrolled or 0, cohort.capacity)
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
    for application, why in [(a, places.OVER_ORGANISATION_PLACES) for a in over_cap] + [
        (a, domain.OVER_CAPACITY) for a in overflow
    ]:
        change = _change(s, application, "overflow", caller.sub, why)
        code = organisations[application.organisation_id].code
        events.append(domain.decision_event("waitlist", application, code, change.decided_at))
    await outbox.add(s, *events)
    return {
        "id": cohort_id,
        "enrolled": [a.id for a in fellows],
        "waitlisted": [a.id for a in [*over_cap, *overflow]],
        "over_capacity": len(overflow),
        "over_organisation_places": len(over_cap),
    }


def _organisation_of(application: Application) -> uuid.UUID:
    return application.organisation_id

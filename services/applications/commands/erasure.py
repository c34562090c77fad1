"""Erasure on request (README, "Privacy"): the request, this service's part of it, and each service's
confirmation."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.applications import domain
from services.applications.commands.applications import withdraw_application
from services.applications.models import Application, Decision, Erasure, ErasureConfirmation, outbox
from shared import events as ev
from shared import privacy, topics
from shared.clock import utcnow
from shared.errors import NotFound


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
            await withdraw_application(s, application, domain.ERASED_BY)
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

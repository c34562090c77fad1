"""Transaction scripts for organisations and cohorts: create, close, ask pairing for a round, note
when the pairs were published."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.applications import domain, places, seed
from services.applications.models import Application, Cohort, Organisation, Programme, outbox
from shared import events as ev
from shared import programmes
from shared.clock import utcnow
from shared.errors import Conflict, NotFound
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


async def update_organisation(
    s: AsyncSession, organisation_id: uuid.UUID, code: str, name: str, sector: str, place: str
) -> None:
    """An admin corrects an organisation: its code (unique, any letter case), name, sector and place.
    Applications already made keep what they were made with (their events said it then)."""
    organisation = await s.get(Organisation, organisation_id, with_for_update=True)
    if organisation is None:
        raise NotFound("no such organisation")
    taken = select(Organisation.id).where(
        func.lower(Organisation.code) == code.lower(), Organisation.id != organisation_id
    )
    if await s.scalar(taken):
        raise Conflict(f"an organisation with code {code} already exists")
    organisation.code, organisation.name, organisation.sector, organisation.place = code, name, sector, place


async def retire_organisation(s: AsyncSession, organisation_id: uuid.UUID, now: datetime) -> None:
    """The organisation takes no new applications from now (409 when already retired); what it has stays."""
    organisation = await s.get(Organisation, organisation_id, with_for_update=True)
    if organisation is None:
        raise NotFound("no such organisation")
    if organisation.retired_at is not None:
        raise Conflict("this organisation is already retired")
    organisation.retired_at = now


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
    kind: ev.ProgrammeKind
    pairing_mode: ev.PairingMode | None
    reciprocal: bool
    auto_enrol: bool
    places_per_organisation: int | None
    opens_at: datetime | None
    closes_at: datetime | None
    exchange_starts: date | None
    exchange_ends: date | None
    auto_publish: bool


async def create_cohort(s: AsyncSession, form: CohortForm, created_by: str) -> uuid.UUID:
    dates = domain.cohort_dates(utcnow(), form.opens_at, form.closes_at, form.exchange_starts, form.exchange_ends)
    mode = programmes.cohort_settings(form.kind, form.pairing_mode, form.reciprocal)
    places.check_cap(form.places_per_organisation, form.capacity)
    programme = await s.scalar(select(Programme).where(Programme.name == form.programme))
    if programme is None:
        programme = Programme(id=uuid.uuid4(), name=form.programme)
        s.add(programme)
        await s.flush()
    cohort = Cohort(
        id=uuid.uuid4(),
        programme_id=programme.id,
        created_by=created_by,
        pairing_mode=mode,
        **view(form, "name capacity auto_publish kind reciprocal auto_enrol places_per_organisation"),
        **asdict(dates),
    )
    s.add(cohort)
    await s.flush()
    await outbox.add(
        s,
        ev.CohortOpened(
            cohort_id=cohort.id,
            programme=programme.name,
            **view(cohort, "name capacity pairing_mode auto_publish kind reciprocal auto_enrol"),
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
    domain.check_pairing_request(len(fellow_ids), cohort.pairs_published_at, cohort.kind)
    await outbox.add(
        s,
        ev.PairingRequested(
            cohort_id=cohort_id,
            fellow_ids=list(fellow_ids),
            pairing_mode=cohort.pairing_mode,
            kind=cohort.kind,
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

"""Reads of the applications service: organisations, cohorts, applications, the shortlisting view.
Who may read which application is ``domain.read_scope``'s decision, on every path here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.applications import domain, fairness
from services.applications.models import (
    Application,
    Cohort,
    Decision,
    Erasure,
    ErasureConfirmation,
    Organisation,
    Programme,
)
from shared.errors import Invalid, NotFound
from shared.identity import Caller
from shared.privacy import Holds, Person
from shared.registry import NAMES
from shared.views import view

LIST_LIMIT = 1000


def _scope(caller: Caller) -> domain.ReadScope:
    return domain.read_scope(caller.role, caller.sub, caller.organisation_id)


def _visible(scope: domain.ReadScope) -> ColumnElement[bool]:
    """``scope`` as a condition on the application table."""
    if scope.everything:
        return true()
    if scope.owner_sub is not None:
        return Application.owner_sub == scope.owner_sub
    if scope.organisation_id is not None:
        return Application.organisation_id == scope.organisation_id
    return false()


def organisation_view(o: Organisation) -> dict[str, Any]:
    return view(o, "id code name sector place", retired=o.retired_at is not None)


def application_view(a: Application) -> dict[str, Any]:
    """An application without its owner's token subject and equality answers."""
    return view(
        a,
        "id cohort_id role capacity name email job_title organisation_id staff_group band statement availability"
        " interests offer wants state submitted_at updated_at",
    )


async def organisations(s: AsyncSession, caller: Caller) -> list[dict[str, Any]]:
    """The partner organisations by name; retired ones for the board and admins only (their names
    still label past applications and pairs), not for those choosing one to apply from."""
    query = select(Organisation).order_by(Organisation.name)
    if caller.role not in ("board", "admin"):
        query = query.where(Organisation.retired_at.is_(None))
    return [organisation_view(o) for o in (await s.scalars(query)).all()]


async def _cohort(s: AsyncSession, cohort_id: uuid.UUID) -> tuple[Cohort, Programme]:
    row = (await s.execute(select(Cohort, Programme).join(Programme).where(Cohort.id == cohort_id))).first()
    if row is None:
        raise NotFound("no such cohort")
    return row[0], row[1]


async def cohort(s: AsyncSession, cohort_id: uuid.UUID, caller: Caller | None = None) -> dict[str, Any]:
    """A cohort with the number of its applications in each state; for the board and admins also the
    places each organisation holds (``places_held``)."""
    c, programme = await _cohort(s, cohort_id)
    counts = dict(
        (
            await s.execute(
                select(Application.state, func.count())
                .where(Application.cohort_id == cohort_id)
                .group_by(Application.state)
            )
        ).all()
    )
    found = {
        "id": c.id,
        "programme": programme.name,
        **view(
            c,
            "name kind capacity pairing_mode reciprocal auto_enrol opens_at closes_at exchange_starts exchange_ends"
            " auto_publish pairs_published_at places_per_organisation",
        ),
        "counts": {state: counts.get(state, 0) for state in domain.STATES},
    }
    if caller is not None and caller.role in ("board", "admin"):
        found["places_held"] = await places_held(s, cohort_id)
    return found


async def places_held(s: AsyncSession, cohort_id: uuid.UUID) -> list[dict[str, Any]]:
    """Per organisation with an application still open in the cohort, how many of its places it holds
    (shortlisted or enrolled), by organisation name: what the board and admins check a cap against."""
    held = func.count().filter(Application.state.in_(domain.PLACE_HOLDING))
    rows = await s.execute(
        select(Organisation.id, Organisation.name, held)
        .join(Application, Application.organisation_id == Organisation.id)
        .where(Application.cohort_id == cohort_id, Application.state.in_(domain.OPEN_STATES))
        .group_by(Organisation.id, Organisation.name)
        .order_by(Organisation.name)
    )
    return [{"organisation_id": i, "organisation_name": n, "held": h} for i, n, h in rows.tuples()]


async def cohorts(s: AsyncSession) -> list[dict[str, Any]]:
    """Every cohort, newest first, and whether it takes applications now."""
    now = datetime.now(UTC)
    rows = (
        await s.execute(select(Cohort, Programme).join(Programme).order_by(Cohort.opens_at.desc(), Cohort.id))
    ).all()
    return [
        {
            "id": c.id,
            "programme": p.name,
            **view(c, "name kind capacity pairing_mode opens_at closes_at places_per_organisation"),
            "open": domain.is_open(now, c.opens_at, c.closes_at),
        }
        for c, p in rows
    ]


async def shortlisting(s: AsyncSession, cohort_id: uuid.UUID) -> dict[str, Any]:
    """The board's fair-shortlisting view: who applied, in aggregate, with small numbers suppressed."""
    await _cohort(s, cohort_id)
    rows = (
        await s.execute(
            select(
                Organisation.code.label("organisation_code"),
                Organisation.sector,
                Organisation.place,
                Application.staff_group,
                Application.state,
                Application.equality,
            )
            .join(Organisation, Organisation.id == Application.organisation_id)
            .where(Application.cohort_id == cohort_id, Application.state != domain.WITHDRAWN)
        )
    ).all()
    return {"cohort_id": cohort_id, **fairness.shortlisting(fairness.Applicant(**row._mapping) for row in rows)}


async def application(s: AsyncSession, caller: Caller, application_id: uuid.UUID) -> dict[str, Any]:
    found = await s.get(Application, application_id)
    # Not found and not yours answer the same, so nobody learns which ids exist.
    if found is None or not _scope(caller).allows(found.owner_sub, found.organisation_id):
        raise NotFound("no such application")
    return application_view(found)


async def my_applications(s: AsyncSession, caller: Caller) -> list[dict[str, Any]]:
    """The caller's own applications, whatever their role."""
    rows = (
        await s.scalars(
            select(Application).where(Application.owner_sub == caller.sub).order_by(Application.submitted_at)
        )
    ).all()
    return [application_view(a) for a in rows]


async def applications(
    s: AsyncSession, caller: Caller, cohort_id: uuid.UUID | None, state: str | None
) -> list[dict[str, Any]]:
    """What the caller may see (``domain.read_scope``), optionally of one cohort and in one state."""
    if state is not None and state not in domain.STATES:
        raise Invalid(f"state must be one of {', '.join(domain.STATES)}")
    query = (
        select(Application, Organisation.name)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .where(_visible(_scope(caller)))
        .order_by(Application.submitted_at, Application.id)
        .limit(LIST_LIMIT)
    )
    if cohort_id is not None:
        query = query.where(Application.cohort_id == cohort_id)
    if state is not None:
        query = query.where(Application.state == state)
    rows = (await s.execute(query)).all()
    return [application_view(a) | {"organisation_name": name} for a, name in rows]


async def decisions(s: AsyncSession, cohort_id: uuid.UUID) -> list[dict[str, Any]]:
    """The decision trail of a cohort's applications (the board and admins): every state change, who
    made it, when and why, oldest first."""
    rows = await s.scalars(
        select(Decision)
        .join(Application, Application.id == Decision.application_id)
        .where(Application.cohort_id == cohort_id)
        .order_by(Decision.decided_at, Decision.id)
    )
    return [view(d, "application_id action from_state to_state reason decided_by decided_at") for d in rows]


# --- subject access ----------------------------------------------------------------------------------

PERSONAL_DATA = [
    Holds(Application, "id", "application"),
    Holds(Application, "owner_sub", "subject"),
    Holds(Decision, "application_id", "application"),
]


async def person(s: AsyncSession, email: str) -> Person:
    """Who a subject access request names: the applications made with this e-mail address (any letter
    case) and the token subjects that made them."""
    rows = (
        await s.execute(
            select(Application.id, Application.owner_sub).where(func.lower(Application.email) == email.lower())
        )
    ).all()
    return Person(subjects=sorted({sub for _, sub in rows}), application_ids=[i for i, _ in rows])


async def erasure(s: AsyncSession, erasure_id: uuid.UUID) -> dict[str, Any]:
    """An erasure and which services confirmed it (``erased_at`` null: not yet)."""
    found = await s.get(Erasure, erasure_id)
    if found is None:
        raise NotFound("no such erasure")
    confirmed = dict(
        (
            await s.execute(
                select(ErasureConfirmation.service, ErasureConfirmation.erased_at).where(
                    ErasureConfirmation.erasure_id == erasure_id
                )
            )
        ).all()
    )
    services = {name: confirmed.get(name) for name in NAMES}
    return {
        **view(found, "id requested_at requested_by application_ids fellow_ids"),
        "services": services,
        "complete": all(at is not None for at in services.values()),
    }

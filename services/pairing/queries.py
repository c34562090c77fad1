"""Reads of the pairing service: which fellows a caller is, a round's status, a cohort's pairs, a fellow's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing import domain
from services.pairing.models import (
    Agreement,
    CheckIn,
    Closure,
    CohortWeights,
    Exclusion,
    Fellow,
    Meeting,
    Pair,
    PairingRound,
    PairLock,
    Project,
    Reflection,
    Visit,
    applicants,
)
from shared.errors import NotFound
from shared.privacy import Holds, fellow_projections
from shared.views import view


def _fellows_of(subject: str) -> Select[uuid.UUID]:
    """The enrolled, not withdrawn fellows whose application the token subject made (ContactRecorded)."""
    return select(Fellow.id).where(Fellow.id.in_(applicants.of(subject)), Fellow.withdrawn.is_(False))


async def fellow_ids_of(s: AsyncSession, subject: str) -> set[uuid.UUID]:
    """Which fellows the caller is: none for someone who never applied or is not (or no longer) enrolled."""
    return set((await s.scalars(_fellows_of(subject))).all())


async def pairing_status(s: AsyncSession, cohort_id: uuid.UUID, default: domain.Weights) -> dict[str, Any]:
    """The cohort's round (its state, who was left unpaired) and the weights its next run uses."""
    stored = await s.scalar(select(CohortWeights.weights).where(CohortWeights.cohort_id == cohort_id))
    weights = domain.weights_of(stored, default).model_dump()
    pairing_round = await s.get(PairingRound, cohort_id)
    if pairing_round is None:
        return {"cohort_id": cohort_id, "status": "none", "unpaired": {}, "weights": weights}
    return {
        "cohort_id": cohort_id,
        "status": pairing_round.status,
        "unpaired": pairing_round.unpaired,
        "weights": weights,
    }


def _pair_view(p: Pair) -> dict[str, Any]:
    return view(
        p,
        "id cohort_id fellow_ids score reasons",
        roles={f: (p.roles or {}).get(f, "fellow") for f in p.fellow_ids},
        published=p.published_at is not None,
        completed=p.completed_at is not None,
    )


async def cohort_pairs(s: AsyncSession, cohort_id: uuid.UUID, role: str, subject: str) -> list[dict[str, Any]]:
    """Every pair for the board and admins; the published ones for a fellow of the cohort; 404 for others."""
    query = select(Pair).where(Pair.cohort_id == cohort_id).order_by(Pair.created_at, Pair.id)
    if role not in domain.SEES_EVERY_PAIR:
        in_cohort = await s.scalar(_fellows_of(subject).where(Fellow.cohort_id == cohort_id).limit(1))
        if in_cohort is None:
            raise NotFound("no such cohort")
        query = query.where(Pair.published_at.is_not(None))
        return [_pair_view(p) for p in (await s.scalars(query)).all()]
    pairs = (await s.scalars(query)).all()
    return await _board_view(s, cohort_id, pairs)


async def _board_view(s: AsyncSession, cohort_id: uuid.UUID, pairs: Iterable[Pair]) -> list[dict[str, Any]]:
    """The board's and admins' view of the pairs: each pair's lock and its visits as well."""
    locks = await s.execute(select(PairLock.fellow_a, PairLock.fellow_b).where(PairLock.cohort_id == cohort_id))
    locked = {frozenset((str(a), str(b))) for a, b in locks}
    pairs = list(pairs)
    visits: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if pairs:
        found = await s.scalars(
            select(Visit).where(Visit.pair_id.in_([p.id for p in pairs])).order_by(Visit.date, Visit.id)
        )
        for v in found:
            shown = view(v, "id host_fellow_id date", completed=v.completed_at is not None)
            visits.setdefault(v.pair_id, []).append(shown)
    return [
        _pair_view(p) | {"locked": frozenset(str(f) for f in p.fellow_ids) in locked, "visits": visits.get(p.id, [])}
        for p in pairs
    ]


async def my_pairs(s: AsyncSession, subject: str) -> list[dict[str, Any]]:
    """The caller's published pairs with partners (organisation, sector, place) and visits; nobody else's."""
    fellow_ids = await fellow_ids_of(s, subject)
    if not fellow_ids:
        return []
    mine = {str(f) for f in fellow_ids}
    cohorts = select(Fellow.cohort_id).where(Fellow.id.in_(fellow_ids))
    candidates = await s.scalars(
        select(Pair)
        .where(Pair.cohort_id.in_(cohorts), Pair.published_at.is_not(None))
        .order_by(Pair.created_at, Pair.id)
    )
    pairs = [p for p in candidates.all() if mine & set(p.fellow_ids)]
    ids = {f for p in pairs for f in p.fellow_ids}
    fellows = {str(f.id): f for f in (await s.scalars(select(Fellow).where(Fellow.id.in_(ids)))).all()}
    visits = (
        (await s.scalars(select(Visit).where(Visit.pair_id.in_([p.id for p in pairs])).order_by(Visit.date))).all()
        if pairs
        else []
    )
    windows = {
        r.cohort_id: r
        for r in (
            await s.scalars(select(PairingRound).where(PairingRound.cohort_id.in_({p.cohort_id for p in pairs})))
        ).all()
    }
    out = []
    for p in pairs:
        me = next(f for f in p.fellow_ids if f in mine)
        window = windows.get(p.cohort_id)
        out.append(
            {
                "id": p.id,
                "cohort_id": p.cohort_id,
                "fellow_id": me,
                "fellow_ids": p.fellow_ids,
                "partners": [
                    {
                        "fellow_id": f,
                        "organisation_id": fellows[f].organisation_id if f in fellows else None,
                        "organisation_code": fellows[f].organisation_code if f in fellows else None,
                        "sector": fellows[f].sector if f in fellows else None,
                        "place": fellows[f].place if f in fellows else None,
                    }
                    for f in p.fellow_ids
                    if f != me
                ],
                "reasons": p.reasons,
                "roles": {f: (p.roles or {}).get(f, "fellow") for f in p.fellow_ids},
                "completed": p.completed_at is not None,
                "exchange_starts": window.exchange_starts if window else None,
                "exchange_ends": window.exchange_ends if window else None,
                "visits": [
                    view(v, "id host_fellow_id date", completed=v.completed_at is not None)
                    for v in visits
                    if v.pair_id == p.id
                ],
            }
        )
    return out


# --- the board's rules of a cohort ---------------------------------------------------------------


async def exclusions(s: AsyncSession, cohort_id: uuid.UUID) -> set[frozenset[uuid.UUID]]:
    """The pairs of the cohort the board ruled out."""
    found = await s.execute(select(Exclusion.fellow_a, Exclusion.fellow_b).where(Exclusion.cohort_id == cohort_id))
    return {frozenset(p) for p in found.all()}


@dataclass(frozen=True)
class BoardRules:
    weights: domain.Weights  # the board's own, else the configured ones
    forbidden: set[frozenset[uuid.UUID]]  # the board's exclusions and the fellows' declared conflicts
    locks: list[frozenset[uuid.UUID]]  # oldest first


async def board_rules(
    s: AsyncSession, cohort_id: uuid.UUID, fellows: Iterable[domain.Fellow], default: domain.Weights
) -> BoardRules:
    """What a round of the cohort honours beyond the organisation rule."""
    stored = await s.scalar(select(CohortWeights.weights).where(CohortWeights.cohort_id == cohort_id))
    locks = await s.execute(
        select(PairLock.fellow_a, PairLock.fellow_b)
        .where(PairLock.cohort_id == cohort_id)
        .order_by(PairLock.created_at, PairLock.fellow_a)
    )
    table = applicants.table
    declared = await s.execute(
        select(table.c.application_id, table.c.conflicts)
        .join(Fellow, Fellow.id == table.c.application_id)
        .where(Fellow.cohort_id == cohort_id)
    )
    named = {row.application_id: [uuid.UUID(c) for c in row.conflicts] for row in declared.all() if row.conflicts}
    return BoardRules(
        weights=domain.weights_of(stored, default),
        forbidden=await exclusions(s, cohort_id) | domain.conflict_pairs(fellows, named),
        locks=[frozenset(p) for p in locks.all()],
    )


# --- subject access ----------------------------------------------------------------------------------

PERSONAL_DATA = [
    *fellow_projections(Fellow, Pair, applicants.table),
    Holds(Visit, "host_fellow_id", "application"),
    *(Holds(table, column, "application") for table in (Exclusion, PairLock) for column in ("fellow_a", "fellow_b")),
    Holds(Visit, "scheduled_by", "subject"),
    Holds(Meeting, "logged_by", "application"),
    Holds(CheckIn, "fellow_id", "application"),
    Holds(Closure, "fellow_id", "application"),
    Holds(Agreement, "agreed_by", "subject"),
    Holds(Project, "created_by", "subject"),
    Holds(Reflection, "learner_id", "application"),
    Holds(Reflection, "sharer_id", "application"),
]

"""Running and publishing a cohort's pairing round inside a transaction (used by handlers and API)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing import domain, matching
from services.pairing.models import EarlierPairing, Fellow, Pair, PairingRound, outbox
from shared import events as ev

WAITING = "waiting"
PAIRED = "paired"
PUBLISHED = "published"


def as_domain(row: Fellow, mode: str) -> domain.Fellow:
    return domain.Fellow(
        id=row.id,
        organisation_id=row.organisation_id,
        sector=row.sector,
        place=row.place,
        staff_group=row.staff_group,
        availability=frozenset(row.availability),
        interests=frozenset(row.interests),
        side=row.staff_group if mode == "bipartite" else "",
        person_id=row.person_id,
    )


async def earlier_pairs(s: AsyncSession, people: Iterable[uuid.UUID]) -> set[frozenset[uuid.UUID]]:
    """Which of these people were in one published pair before (any cohort)."""
    wanted = list(set(people))
    if len(wanted) < 2:
        return set()
    rows = await s.execute(
        select(EarlierPairing.person_a, EarlierPairing.person_b).where(
            EarlierPairing.person_a.in_(wanted), EarlierPairing.person_b.in_(wanted)
        )
    )
    return {frozenset((a, b)) for a, b in rows.all()}


async def run_if_ready(s: AsyncSession, pairing_round: PairingRound, weights: domain.Weights) -> bool:
    """Pair the round's fellows once all of them are projected here; False while some are missing."""
    if pairing_round.status == PUBLISHED:
        return False
    wanted = [uuid.UUID(f) for f in pairing_round.fellow_ids]
    rows = (await s.scalars(select(Fellow).where(Fellow.id.in_(wanted)))).all()
    if len(rows) < len(wanted):
        pairing_round.status = WAITING
        return False
    fellows = [as_domain(r, pairing_round.pairing_mode) for r in rows if not r.withdrawn]
    history = await earlier_pairs(s, [f.person for f in fellows])
    # the matcher is CPU-bound: run it off the event loop so the service keeps serving meanwhile
    result = await asyncio.to_thread(matching.pair, fellows, pairing_round.pairing_mode, weights, history)
    await s.execute(delete(Pair).where(Pair.cohort_id == pairing_round.cohort_id))
    now = datetime.now(UTC)
    for group in result.groups:
        s.add(
            Pair(
                id=uuid.uuid4(),
                cohort_id=pairing_round.cohort_id,
                fellow_ids=[str(f) for f in group.fellow_ids],
                score=group.score,
                reasons=list(group.reasons),
                created_at=now,
            )
        )
    pairing_round.unpaired = {str(k): v for k, v in result.unpaired.items()}
    pairing_round.status = PAIRED
    pairing_round.updated_at = now
    await s.flush()
    if pairing_round.auto_publish:
        await publish(s, pairing_round)
    return True


async def publish(s: AsyncSession, pairing_round: PairingRound) -> int:
    """Publish every pair of the round: one PairAssigned each, exactly once."""
    pairs = (
        await s.scalars(select(Pair).where(Pair.cohort_id == pairing_round.cohort_id, Pair.published_at.is_(None)))
    ).all()
    now = datetime.now(UTC)
    fellows = (
        await s.execute(
            select(Fellow.id, Fellow.organisation_code, Fellow.person_id).where(
                Fellow.cohort_id == pairing_round.cohort_id
            )
        )
    ).all()
    codes = {f.id: f.organisation_code for f in fellows}
    person = {f.id: f.person_id or f.id for f in fellows}
    for p in pairs:
        p.published_at = now
        people = sorted({person.get(uuid.UUID(f), uuid.UUID(f)) for f in p.fellow_ids})
        history = [
            {"person_a": a, "person_b": b, "pair_id": p.id, "paired_at": now}
            for a, b in itertools.combinations(people, 2)
        ]
        if history:
            await s.execute(insert(EarlierPairing).values(history).on_conflict_do_nothing())
        await outbox.add(
            s,
            ev.PairAssigned(
                pair_id=p.id,
                cohort_id=p.cohort_id,
                fellow_ids=[uuid.UUID(f) for f in p.fellow_ids],
                organisation_codes=[codes.get(uuid.UUID(f), "") for f in p.fellow_ids],
                score=p.score,
                reasons=p.reasons,
                assigned_at=now,
            ),
        )
    pairing_round.status = PUBLISHED
    pairing_round.updated_at = now
    return len(pairs)

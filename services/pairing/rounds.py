"""Running and publishing a cohort's pairing round inside a transaction (used by handlers and API)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing import domain, matching
from services.pairing.models import Fellow, Pair, PairingRound, outbox
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
    )


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
    result = matching.pair(fellows, pairing_round.pairing_mode, weights)
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
    codes = dict(
        (
            await s.execute(
                select(Fellow.id, Fellow.organisation_code).where(Fellow.cohort_id == pairing_round.cohort_id)
            )
        ).all()
    )
    for p in pairs:
        p.published_at = now
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

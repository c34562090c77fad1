"""Transaction scripts of the board's pairing tools (issue 19), called by ``api``: exclusions, locked pairs,
the cohort's own weights, a preview of a re-run and each fellow's alternatives.

A change to a cohort's rules takes the cohort's transaction-scoped advisory lock first, so two board
members' changes (a lock and an exclusion of the same pair, say) are checked one after the other; once
the cohort's pairs are published its rules no longer change (409). Every refusal changes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing import alternatives, commands, domain, matching, queries, scoring
from services.pairing.models import CohortWeights, Exclusion, Fellow, Pair, PairingRound, PairLock
from services.pairing.settings import PairingSettings
from shared.errors import Conflict, Invalid, NotFound

_LOCK_COHORT = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


async def _changeable(s: AsyncSession, cohort_id: uuid.UUID) -> PairingRound | None:
    """The cohort's round (None before any), once no other change to its rules is under way; 409 once
    its pairs are published."""
    await s.execute(_LOCK_COHORT, {"key": f"pairing-rules:{cohort_id}"})
    pairing_round = await s.get(PairingRound, cohort_id)
    refused = domain.rules_refused(pairing_round.status if pairing_round else None)
    if refused:
        raise Conflict(refused, status=domain.PUBLISHED)
    return pairing_round


async def _two_fellows(s: AsyncSession, cohort_id: uuid.UUID, ids: list[uuid.UUID]) -> tuple[uuid.UUID, uuid.UUID]:
    """The two fellows, the smaller id first; 422 unless they are two different fellows of the cohort."""
    if len(set(ids)) != 2:
        raise Invalid("name two different fellows")
    found = set(
        (
            await s.scalars(
                select(Fellow.id).where(Fellow.id.in_(ids), Fellow.cohort_id == cohort_id, Fellow.withdrawn.is_(False))
            )
        ).all()
    )
    if missing := [str(f) for f in ids if f not in found]:
        raise Invalid(f"not a fellow of this cohort: {', '.join(missing)}")
    a, b = sorted(ids)
    return a, b


def _pair_of(table: type[Exclusion] | type[PairLock], cohort_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID) -> Any:
    return (table.cohort_id == cohort_id) & (table.fellow_a == a) & (table.fellow_b == b)


async def exclude(s: AsyncSession, cohort_id: uuid.UUID, ids: list[uuid.UUID], by: str) -> None:
    """Never match these two fellows (kept if already there); 409 while the board keeps them as a locked pair."""
    await _changeable(s, cohort_id)
    a, b = await _two_fellows(s, cohort_id, ids)
    if await s.scalar(select(func.count()).where(_pair_of(PairLock, cohort_id, a, b))):
        raise Conflict("these two fellows are a locked pair: unlock them before ruling the pair out")
    row = {"cohort_id": cohort_id, "fellow_a": a, "fellow_b": b, "created_by": by, "created_at": datetime.now(UTC)}
    await s.execute(insert(Exclusion).values(row).on_conflict_do_nothing())


async def lock(s: AsyncSession, cohort_id: uuid.UUID, ids: list[uuid.UUID], by: str, settings: PairingSettings) -> None:
    """Keep this pair through a re-run (kept if already locked); 409 with the reason when the rules refuse
    it: two of one organisation (or side), a pair the board or a fellow ruled out, a fellow already locked."""
    pairing_round = await _changeable(s, cohort_id)
    if pairing_round is None:
        raise Conflict("this cohort has no pairing round yet: ask for one first (its mode decides who may pair)")
    a, b = await _two_fellows(s, cohort_id, ids)
    if await s.scalar(select(func.count()).where(_pair_of(PairLock, cohort_id, a, b))):
        return
    fellows = await commands.round_fellows(s, pairing_round)
    rules = await queries.board_rules(s, cohort_id, fellows, settings.pairing_weights)
    try:
        matching.check_locks(fellows, pairing_round.pairing_mode, [*rules.locks, frozenset({a, b})], rules.forbidden)
    except matching.LockRefused as exc:
        raise Conflict(str(exc)) from exc
    s.add(PairLock(cohort_id=cohort_id, fellow_a=a, fellow_b=b, created_by=by, created_at=datetime.now(UTC)))


async def unlock(s: AsyncSession, cohort_id: uuid.UUID, ids: list[uuid.UUID]) -> None:
    """Let a locked pair go; 404 when the board had not locked it."""
    await _changeable(s, cohort_id)
    if len(set(ids)) != 2:
        raise Invalid("name two different fellows")
    a, b = sorted(ids)
    gone = await s.execute(delete(PairLock).where(_pair_of(PairLock, cohort_id, a, b)))
    if not getattr(gone, "rowcount", 0):
        raise NotFound("these two fellows are not a locked pair of this cohort")


async def set_weights(s: AsyncSession, cohort_id: uuid.UUID, weights: domain.Weights, by: str) -> None:
    """The cohort's own weights, used by its next run (and preview, alternatives and swaps)."""
    await _changeable(s, cohort_id)
    row = {"cohort_id": cohort_id, "weights": weights.model_dump(), "updated_by": by, "updated_at": datetime.now(UTC)}
    stmt = insert(CohortWeights).values(row)
    changed = {column: stmt.excluded[column] for column in ("weights", "updated_by", "updated_at")}
    await s.execute(stmt.on_conflict_do_update(index_elements=["cohort_id"], set_=changed))


def _totals(result: domain.Round) -> tuple[float, float]:
    """The round's total and bound in the board's units (the sum of the pairs' scores): the matcher counts
    ``SCALE`` points per unit of score plus ``SCALE`` per pair (a trio counts as the pair it grew from)."""
    pairs = len(result.groups)
    return (
        round((result.weight - scoring.SCALE * pairs) / scoring.SCALE, 2),
        round((result.bound - scoring.SCALE * pairs) / scoring.SCALE, 2),
    )


async def preview(s: AsyncSession, cohort_id: uuid.UUID, settings: PairingSettings) -> dict[str, Any]:
    """What a re-run would give now, without changing anything: its total, the bound on every matching's
    total, and how many of its pairs are not among the cohort's pairs now."""
    pairing_round = await s.get(PairingRound, cohort_id)
    refused = domain.board_change_refused(pairing_round.status if pairing_round else None, "preview")
    if refused is not None:
        detail, status = refused
        raise Conflict(detail, status=status)
    assert pairing_round is not None
    fellows = await commands.round_fellows(s, pairing_round)
    try:
        result = await commands.pair_round(s, pairing_round, fellows, settings)
    except matching.LockRefused as exc:  # pragma: no cover - the routes refuse such locks
        raise Conflict(str(exc)) from exc
    now = {frozenset(p) for p in (await s.scalars(select(Pair.fellow_ids).where(Pair.cohort_id == cohort_id))).all()}
    changed = sum(frozenset(str(f) for f in g.fellow_ids) not in now for g in result.groups)
    total, bound = _totals(result)
    return {"total": total, "bound": bound, "pairs_changed": changed, "optimal": result.optimal}


async def alternatives_of(
    s: AsyncSession, cohort_id: uuid.UUID, fellow_id: uuid.UUID, settings: PairingSettings
) -> list[dict[str, Any]]:
    """The fellow's five best other partners, each with its score, reasons and what forcing it would cost."""
    pairing_round = await s.get(PairingRound, cohort_id)
    if pairing_round is None:
        raise Conflict("this cohort has no pairs yet", status="none")
    fellows = await commands.round_fellows(s, pairing_round)
    if fellow_id not in {f.id for f in fellows}:
        raise NotFound("no such fellow in this cohort's round")
    history = await commands.earlier_pairs(s, [f.person for f in fellows])
    rules = await queries.board_rules(s, cohort_id, fellows, settings.pairing_weights)
    mode = pairing_round.pairing_mode
    found = await asyncio.to_thread(
        alternatives.alternatives, fellows, mode, rules.weights, fellow_id, history, rules.forbidden, rules.locks
    )
    return [
        {
            "fellow_id": a.fellow_id,
            "score": a.score,
            "reasons": list(a.reasons),
            "loss": a.loss,
            "pairs_lost": a.pairs_lost,
            "exact": a.exact,
        }
        for a in found
    ]

"""HTTP commands and queries of the pairing service: pairs, swaps, publishing, visits."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing import domain, rounds
from services.pairing.models import Fellow, Pair, PairingRound, Visit, outbox
from shared import events as ev
from shared.errors import Conflict, Invalid, NotFound
from shared.identity import Caller, CallerDep
from shared.service import RuntimeDep

router = APIRouter()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Empty(Strict):
    pass


class Swap(Strict):
    fellow_a: uuid.UUID
    fellow_b: uuid.UUID


class ScheduleVisit(Strict):
    host_fellow_id: uuid.UUID
    date: date


class Created(BaseModel):
    id: uuid.UUID


def _weights(request: Request) -> domain.Weights:
    weights: domain.Weights = request.app.state.weights
    return weights


def _pair_view(p: Pair) -> dict[str, Any]:
    return {
        "id": p.id,
        "cohort_id": p.cohort_id,
        "fellow_ids": p.fellow_ids,
        "score": p.score,
        "reasons": p.reasons,
        "published": p.published_at is not None,
        "completed": p.completed_at is not None,
    }


@router.get("/cohorts/{cohort_id}/pairing")
async def pairing_status(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    caller.require("board", "admin")
    async with runtime.transaction() as s:
        pairing_round = await s.get(PairingRound, cohort_id)
    if pairing_round is None:
        return {"cohort_id": cohort_id, "status": "none", "unpaired": {}}
    return {"cohort_id": cohort_id, "status": pairing_round.status, "unpaired": pairing_round.unpaired}


@router.get("/cohorts/{cohort_id}/pairs")
async def list_pairs(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    async with runtime.transaction() as s:
        query = select(Pair).where(Pair.cohort_id == cohort_id).order_by(Pair.created_at, Pair.id)
        if caller.role not in ("board", "admin"):
            in_cohort = await s.scalar(
                select(Fellow.id).where(Fellow.cohort_id == cohort_id, Fellow.id.in_(caller.fellow_ids)).limit(1)
            )
            if in_cohort is None:
                raise NotFound("no such cohort")
            query = query.where(Pair.published_at.is_not(None))
        pairs = (await s.scalars(query)).all()
    return [_pair_view(p) for p in pairs]


async def _round(s: AsyncSession, cohort_id: uuid.UUID) -> PairingRound:
    pairing_round = await s.get(PairingRound, cohort_id, with_for_update=True)
    if pairing_round is None or pairing_round.status == rounds.WAITING:
        raise Conflict("this cohort has no pairs yet", status="none" if pairing_round is None else "waiting")
    return pairing_round


@router.post("/cohorts/{cohort_id}/pairs/publish", status_code=status.HTTP_202_ACCEPTED)
async def publish_pairs(cohort_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    caller.require("board")
    async with runtime.transaction() as s:
        pairing_round = await _round(s, cohort_id)
        if pairing_round.status == rounds.PUBLISHED:
            raise Conflict("the pairs of this cohort are already published", status=rounds.PUBLISHED)
        published = await rounds.publish(s, pairing_round)
    return {"id": cohort_id, "published": published}


@router.post("/cohorts/{cohort_id}/pairs/swap", status_code=status.HTTP_202_ACCEPTED)
async def swap(
    cohort_id: uuid.UUID, body: Swap, request: Request, runtime: RuntimeDep, caller: CallerDep
) -> dict[str, Any]:
    caller.require("board")
    weights = _weights(request)
    async with runtime.transaction() as s:
        pairing_round = await _round(s, cohort_id)
        if pairing_round.status == rounds.PUBLISHED:
            raise Conflict("published pairs cannot be changed", status=rounds.PUBLISHED)
        pairs = (await s.scalars(select(Pair).where(Pair.cohort_id == cohort_id).with_for_update())).all()
        a, b = str(body.fellow_a), str(body.fellow_b)
        pair_a = next((p for p in pairs if a in p.fellow_ids), None)
        pair_b = next((p for p in pairs if b in p.fellow_ids), None)
        if pair_a is None or pair_b is None:
            raise Invalid("both fellows must be in a pair of this cohort")
        if pair_a.id == pair_b.id:
            raise Invalid("the two fellows are already in the same pair")
        new_a = [b if f == a else f for f in pair_a.fellow_ids]
        new_b = [a if f == b else f for f in pair_b.fellow_ids]
        rows = {str(f.id): f for f in (await s.scalars(select(Fellow).where(Fellow.cohort_id == cohort_id))).all()}
        mode = pairing_round.pairing_mode
        history = await rounds.earlier_pairs(s, [f.person_id or f.id for f in rows.values()])
        scored = []
        for members in (new_a, new_b):
            chosen = [rounds.as_domain(rows[f], mode) for f in members]
            group = domain.score_group(chosen, mode, weights, history)
            if isinstance(group, str):
                raise Conflict(f"that swap breaks the hard rule: {group}")
            scored.append(group)
        for p, group in zip((pair_a, pair_b), scored, strict=True):
            p.fellow_ids = [str(f) for f in group.fellow_ids]
            p.score = group.score
            p.reasons = [*group.reasons, "swapped by the board"]
    return {"id": cohort_id, "pairs": [pair_a.id, pair_b.id]}


async def _my_pair(s: AsyncSession, caller: Caller, pair_id: uuid.UUID) -> Pair:
    pair = await s.get(Pair, pair_id, with_for_update=True)
    if pair is None or not ({str(f) for f in caller.fellow_ids} & set(pair.fellow_ids)):
        raise NotFound("no such pair")
    if pair.published_at is None:
        raise Conflict("this pair is not published yet")
    return pair


@router.post("/pairs/{pair_id}/visits", status_code=status.HTTP_201_CREATED)
async def schedule_visit(pair_id: uuid.UUID, body: ScheduleVisit, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with runtime.transaction() as s:
        pair = await _my_pair(s, caller, pair_id)
        if str(body.host_fellow_id) not in pair.fellow_ids:
            raise Invalid("host_fellow_id must be a fellow of this pair")
        pairing_round = await s.get(PairingRound, pair.cohort_id)
        assert pairing_round is not None
        problem = domain.visit_date_problem(body.date, pairing_round.exchange_starts, pairing_round.exchange_ends)
        if problem:
            raise Invalid(problem)
        existing = await s.scalar(
            select(Visit.id).where(Visit.pair_id == pair.id, Visit.host_fellow_id == body.host_fellow_id)
        )
        if existing is not None:
            raise Conflict("this fellow already hosts a visit of this pair", visit_id=str(existing))
        visit = Visit(
            id=uuid.uuid4(),
            pair_id=pair.id,
            host_fellow_id=body.host_fellow_id,
            date=body.date,
            scheduled_by=caller.sub,
            created_at=datetime.now(UTC),
        )
        s.add(visit)
        await s.flush()
        await outbox.add(
            s,
            ev.ExchangeVisitScheduled(
                visit_id=visit.id, pair_id=pair.id, host_fellow_id=body.host_fellow_id, date=body.date
            ),
        )
    return Created(id=visit.id)


@router.post("/visits/{visit_id}/complete", status_code=status.HTTP_202_ACCEPTED)
async def complete_visit(visit_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with runtime.transaction() as s:
        visit = await s.get(Visit, visit_id, with_for_update=True)
        if visit is None:
            raise NotFound("no such visit")
        pair = await _my_pair(s, caller, visit.pair_id)
        if visit.completed_at is not None:
            raise Conflict("this visit is already complete")
        now = datetime.now(UTC)
        visit.completed_at = now
        await outbox.add(
            s,
            ev.ExchangeVisitCompleted(
                visit_id=visit.id, pair_id=pair.id, host_fellow_id=visit.host_fellow_id, completed_at=now
            ),
        )
        await s.flush()
        hosts = set(
            (
                await s.scalars(
                    select(Visit.host_fellow_id).where(Visit.pair_id == pair.id, Visit.completed_at.is_not(None))
                )
            ).all()
        )
        fellow_ids = [uuid.UUID(f) for f in pair.fellow_ids]
        if pair.completed_at is None and domain.exchange_complete(fellow_ids, hosts):
            pair.completed_at = now
            await outbox.add(
                s,
                ev.ExchangeCompleted(
                    pair_id=pair.id, cohort_id=pair.cohort_id, fellow_ids=fellow_ids, completed_at=now
                ),
            )
    return Created(id=visit.id)

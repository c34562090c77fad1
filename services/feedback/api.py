"""HTTP commands and queries of the feedback service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import domain
from services.feedback.models import (
    CollaborationOpportunity,
    ExchangePair,
    Feedback,
    FeedbackRequest,
    Fellow,
    outbox,
)
from services.feedback.release import Clock, given_pairs, release_pair, system_clock
from shared import events as ev
from shared.errors import Conflict, Invalid, NotFound
from shared.identity import Caller, CallerDep
from shared.service import RuntimeDep

router = APIRouter()

Narrative = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Idea = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


@dataclass(frozen=True)
class FeedbackConfig:
    """What the composition root configures: the correction window and the clock."""

    edit_window: timedelta = timedelta(hours=48)
    clock: Clock = system_clock


async def _config(request: Request) -> FeedbackConfig:
    config: FeedbackConfig = getattr(request.app.state, "feedback", FeedbackConfig())
    return config


ConfigDep = Annotated[FeedbackConfig, Depends(_config)]


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strengths: dict[str, int] = Field(
        description="Ratings 1-5 of at least three of the nine Healthcare Leadership Model dimensions"
    )
    top_strengths: list[str] | None = Field(
        default=None,
        description="One to three of the rated dimensions; by default the best-rated ones",
    )
    narrative: Narrative
    collaboration_ideas: list[Idea] = Field(default_factory=list, max_length=20)


class GiveFeedback(Correction):
    to_fellow_id: uuid.UUID


class Created(BaseModel):
    id: uuid.UUID


def _checked_strengths(body: Correction) -> list[str]:
    problem = domain.strengths_problem(body.strengths)
    if problem:
        raise Invalid(problem)
    top = body.top_strengths if body.top_strengths is not None else domain.default_top_strengths(body.strengths)
    problem = domain.top_strengths_problem(body.strengths, top)
    if problem:
        raise Invalid(problem)
    return top


async def _my_pair(s: AsyncSession, caller: Caller, pair_id: uuid.UUID) -> tuple[ExchangePair, uuid.UUID]:
    """The pair, locked, and which of its fellows the caller is; 404 for anyone else."""
    pair = await s.get(ExchangePair, pair_id, with_for_update=True)
    fellow_ids = [uuid.UUID(f) for f in pair.fellow_ids] if pair else []
    mine = [f for f in fellow_ids if f in caller.fellow_ids]
    if pair is None or not mine:
        raise NotFound("no such pair")
    return pair, mine[0]


def _still_open(pair: ExchangePair, now: Any) -> None:
    if pair.exchange_completed_at is None:
        raise Conflict("feedback opens when the exchange is complete")
    if pair.released_at is not None:
        raise Conflict("the feedback of this pair has been released; no more can be given")
    if pair.due_at is not None and now > pair.due_at:
        raise Conflict(f"feedback was due by {pair.due_at.isoformat()}")


@router.post("/pairs/{pair_id}/feedback", status_code=status.HTTP_201_CREATED)
async def give_feedback(
    pair_id: uuid.UUID, body: GiveFeedback, runtime: RuntimeDep, caller: CallerDep, config: ConfigDep
) -> Created:
    top = _checked_strengths(body)
    async with runtime.transaction() as s:
        pair, giver = await _my_pair(s, caller, pair_id)
        fellow_ids = [uuid.UUID(f) for f in pair.fellow_ids]
        if body.to_fellow_id not in domain.partners(fellow_ids, giver):
            raise Invalid("to_fellow_id must be your partner in this pair")
        now = config.clock()
        _still_open(pair, now)
        existing = await s.scalar(  # the pair is locked: nobody else of the pair writes meanwhile
            select(Feedback.id).where(
                Feedback.pair_id == pair.id,
                Feedback.from_fellow_id == giver,
                Feedback.to_fellow_id == body.to_fellow_id,
            )
        )
        if existing is not None:
            raise Conflict(
                "you have already given feedback to this partner; correct it with "
                f"PUT /api/pairs/{pair.id}/feedback/{existing} while its edit window is open",
                feedback_id=str(existing),
            )
        feedback = Feedback(
            id=uuid.uuid4(),
            pair_id=pair.id,
            from_fellow_id=giver,
            to_fellow_id=body.to_fellow_id,
            strengths=body.strengths,
            top_strengths=top,
            narrative=body.narrative,
            collaboration_ideas=body.collaboration_ideas,
            submitted_at=now,
        )
        s.add(feedback)
        await s.flush()
        await outbox.add(
            s,
            ev.FeedbackSubmitted(
                feedback_id=feedback.id,
                pair_id=pair.id,
                from_fellow_id=giver,
                to_fellow_id=body.to_fellow_id,
                strengths=body.strengths,
                top_strengths=top,
                submitted_at=now,
            ),
        )
        given = await given_pairs(s, pair.id)
        if domain.all_submitted(fellow_ids, given):
            await release_pair(s, pair, now, domain.ALL_SUBMITTED)
    return Created(id=feedback.id)


@router.put("/pairs/{pair_id}/feedback/{feedback_id}", status_code=status.HTTP_202_ACCEPTED)
async def correct_feedback(
    pair_id: uuid.UUID,
    feedback_id: uuid.UUID,
    body: Correction,
    runtime: RuntimeDep,
    caller: CallerDep,
    config: ConfigDep,
) -> Created:
    """Correct one's own feedback within the edit window, while it is unreleased."""
    top = _checked_strengths(body)
    async with runtime.transaction() as s:
        pair, giver = await _my_pair(s, caller, pair_id)
        feedback = await s.get(Feedback, feedback_id, with_for_update=True)
        if feedback is None or feedback.pair_id != pair.id or feedback.from_fellow_id != giver:
            raise NotFound("no such feedback of yours")
        now = config.clock()
        problem = domain.correction_problem(feedback.submitted_at, feedback.released_at, now, config.edit_window)
        if problem:
            raise Conflict(problem)
        _still_open(pair, now)
        feedback.strengths = body.strengths
        feedback.top_strengths = top
        feedback.narrative = body.narrative
        feedback.collaboration_ideas = body.collaboration_ideas
        feedback.corrected_at = now
        await outbox.add(
            s,
            ev.FeedbackSubmitted(
                feedback_id=feedback.id,
                pair_id=pair.id,
                from_fellow_id=giver,
                to_fellow_id=feedback.to_fellow_id,
                strengths=body.strengths,
                top_strengths=top,
                submitted_at=feedback.submitted_at,
                corrected_at=now,
            ),
        )
    return Created(id=feedback.id)


def _feedback_view(f: Feedback) -> dict[str, Any]:
    return {
        "id": f.id,
        "pair_id": f.pair_id,
        "from_fellow_id": f.from_fellow_id,
        "to_fellow_id": f.to_fellow_id,
        "strengths": f.strengths,
        "top_strengths": f.top_strengths,
        "narrative": f.narrative,
        "collaboration_ideas": f.collaboration_ideas,
        "submitted_at": f.submitted_at,
        "corrected_at": f.corrected_at,
        "released_at": f.released_at,
    }


@router.get("/pairs/{pair_id}/feedback")
async def my_pair_feedback(
    pair_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep, config: ConfigDep
) -> dict[str, Any]:
    """A fellow's view of their pair's feedback: what they gave (to correct it) and what is still due."""
    async with runtime.transaction() as s:
        pair, me = await _my_pair(s, caller, pair_id)
        given = (
            await s.scalars(
                select(Feedback).where(Feedback.pair_id == pair.id, Feedback.from_fellow_id == me).order_by(Feedback.id)
            )
        ).all()
        requests = (
            await s.scalars(
                select(FeedbackRequest).where(FeedbackRequest.pair_id == pair.id, FeedbackRequest.from_fellow_id == me)
            )
        ).all()
    answered = {f.to_fellow_id for f in given}
    return {
        "pair_id": pair.id,
        "fellow_id": me,
        "exchange_completed_at": pair.exchange_completed_at,
        "due_at": pair.due_at,
        "released_at": pair.released_at,
        "edit_window_hours": config.edit_window.total_seconds() / 3600,
        "given": [_feedback_view(f) for f in given],
        "still_due": sorted(str(r.to_fellow_id) for r in requests if r.to_fellow_id not in answered),
    }


@router.get("/fellows/{fellow_id}/feedback")
async def released_feedback(fellow_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """Released feedback about one fellow: only to that fellow and the board; nothing before release."""
    if caller.role not in ("board", "admin") and fellow_id not in caller.fellow_ids:
        raise NotFound("no such fellow")
    async with runtime.transaction() as s:
        rows = (
            await s.scalars(
                select(Feedback)
                .where(Feedback.to_fellow_id == fellow_id, Feedback.released_at.is_not(None))
                .order_by(Feedback.released_at, Feedback.id)
            )
        ).all()
    return [
        {
            "id": f.id,
            "pair_id": f.pair_id,
            "from_fellow_id": f.from_fellow_id,
            "strengths": f.strengths,
            "top_strengths": f.top_strengths,
            "narrative": f.narrative,
            "collaboration_ideas": f.collaboration_ideas,
            "released_at": f.released_at,
        }
        for f in rows
    ]


@router.get("/cohorts/{cohort_id}/report")
async def cohort_report(
    cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep, config: ConfigDep
) -> dict[str, Any]:
    """The cohort evaluation report (board and admin), small numbers suppressed."""
    caller.require("board", "admin")
    async with runtime.transaction() as s:
        fellows = (await s.scalars(select(Fellow).where(Fellow.cohort_id == cohort_id))).all()
        pairs = (await s.scalars(select(ExchangePair).where(ExchangePair.cohort_id == cohort_id))).all()
        if not fellows and not pairs:
            raise NotFound("no fellows or pairs of this cohort yet")
        pair_ids = [p.id for p in pairs]
        requests = (await s.scalars(select(FeedbackRequest).where(FeedbackRequest.pair_id.in_(pair_ids)))).all()
        feedback = (await s.scalars(select(Feedback).where(Feedback.pair_id.in_(pair_ids)))).all()
        opportunities = (
            await s.scalars(
                select(CollaborationOpportunity.organisation_ids).where(CollaborationOpportunity.pair_id.in_(pair_ids))
            )
        ).all()
    report = domain.cohort_report(
        cohort_id,
        fellows=[domain.FellowFacts(f.id, f.organisation_id, f.organisation_code, f.sector, f.place) for f in fellows],
        pairs=[
            domain.PairFacts(p.id, [uuid.UUID(f) for f in p.fellow_ids], p.exchange_completed_at is not None)
            for p in pairs
        ],
        requests=[domain.RequestFacts(r.from_fellow_id, r.to_fellow_id, r.missing_at is not None) for r in requests],
        feedback=[
            domain.FeedbackFacts(
                f.from_fellow_id, f.to_fellow_id, f.strengths, f.top_strengths, f.released_at is not None
            )
            for f in feedback
        ],
        opportunities=[tuple(uuid.UUID(o) for o in ids) for ids in opportunities],
    )
    report["generated_at"] = config.clock().isoformat()
    return report

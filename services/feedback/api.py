"""HTTP commands and queries of the feedback service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.feedback import domain
from services.feedback.models import CollaborationOpportunity, ExchangePair, Feedback, outbox
from shared import events as ev
from shared.errors import Conflict, Invalid, NotFound
from shared.identity import CallerDep
from shared.service import RuntimeDep

router = APIRouter()


class GiveFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_fellow_id: uuid.UUID
    strengths: dict[str, int]
    narrative: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
    collaboration_ideas: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    ] = Field(default_factory=list, max_length=20)


class Created(BaseModel):
    id: uuid.UUID


@router.post("/pairs/{pair_id}/feedback", status_code=status.HTTP_201_CREATED)
async def give_feedback(pair_id: uuid.UUID, body: GiveFeedback, runtime: RuntimeDep, caller: CallerDep) -> Created:
    problem = domain.strengths_problem(body.strengths)
    if problem:
        raise Invalid(problem)
    async with runtime.transaction() as s:
        pair = await s.get(ExchangePair, pair_id, with_for_update=True)
        fellow_ids = [uuid.UUID(f) for f in pair.fellow_ids] if pair else []
        mine = [f for f in fellow_ids if f in caller.fellow_ids]
        if pair is None or not mine:
            raise NotFound("no such pair")
        giver = mine[0]
        if body.to_fellow_id not in domain.partners(fellow_ids, giver):
            raise Invalid("to_fellow_id must be your partner in this pair")
        if pair.exchange_completed_at is None:
            raise Conflict("feedback opens when the exchange is complete")
        now = datetime.now(UTC)
        feedback = Feedback(
            id=uuid.uuid4(),
            pair_id=pair.id,
            from_fellow_id=giver,
            to_fellow_id=body.to_fellow_id,
            strengths=body.strengths,
            narrative=body.narrative,
            collaboration_ideas=body.collaboration_ideas,
            submitted_at=now,
        )
        s.add(feedback)
        try:
            await s.flush()
        except IntegrityError as exc:
            raise Conflict("you have already given feedback to this partner") from exc
        await outbox.add(
            s,
            ev.FeedbackSubmitted(
                feedback_id=feedback.id,
                pair_id=pair.id,
                from_fellow_id=giver,
                to_fellow_id=body.to_fellow_id,
                strengths=body.strengths,
                submitted_at=now,
            ),
        )
        for idea in body.collaboration_ideas:
            opportunity = CollaborationOpportunity(
                id=uuid.uuid4(),
                pair_id=pair.id,
                feedback_id=feedback.id,
                idea=idea,
                organisation_codes=pair.organisation_codes,
                created_at=now,
            )
            s.add(opportunity)
            await outbox.add(
                s,
                ev.CollaborationOpportunityIdentified(
                    opportunity_id=opportunity.id, pair_id=pair.id, organisation_ids=[], identified_at=now
                ),
            )
        given = (await s.scalars(select(Feedback).where(Feedback.pair_id == pair.id))).all()
        if domain.all_submitted(fellow_ids, {(f.from_fellow_id, f.to_fellow_id) for f in given}):
            for f in given:
                if f.released_at is None:
                    f.released_at = now
                    await outbox.add(
                        s,
                        ev.FeedbackReleased(
                            feedback_id=f.id,
                            pair_id=pair.id,
                            to_fellow_id=f.to_fellow_id,
                            strengths=f.strengths,
                            released_at=now,
                        ),
                    )
    return Created(id=feedback.id)


@router.get("/fellows/{fellow_id}/feedback")
async def released_feedback(fellow_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    if caller.role not in ("board", "admin") and fellow_id not in caller.fellow_ids:
        raise NotFound("no such fellow")
    async with runtime.transaction() as s:
        rows = (
            await s.scalars(
                select(Feedback)
                .where(Feedback.to_fellow_id == fellow_id, Feedback.released_at.is_not(None))
                .order_by(Feedback.released_at)
            )
        ).all()
    return [
        {
            "id": f.id,
            "pair_id": f.pair_id,
            "from_fellow_id": f.from_fellow_id,
            "strengths": f.strengths,
            "narrative": f.narrative,
            "collaboration_ideas": f.collaboration_ideas,
            "released_at": f.released_at,
        }
        for f in rows
    ]

"""Reads of the feedback service: who a caller is, a fellow's view of a pair, released feedback,
the cohort report. No writes."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import cast, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import assessment, collaboration, domain, evaluation
from services.feedback.models import (
    CollaborationCheckIn,
    CollaborationOpportunity,
    ExchangePair,
    Feedback,
    FeedbackRequest,
    Fellow,
    SelfAssessment,
    applicants,
)
from shared.disclosure import rounded
from shared.errors import NotFound
from shared.identity import Caller
from shared.privacy import FORMER_FELLOW, Holds, fellow_projections
from shared.views import view


async def fellow_ids(s: AsyncSession, subject: str) -> frozenset[uuid.UUID]:
    """The fellows a token subject is: its applications (from ContactRecorded) that were enrolled
    and not withdrawn since (``domain.acts_as_fellow``)."""
    rows = await s.execute(select(Fellow.id, Fellow.withdrawn_at).where(Fellow.id.in_(applicants.of(subject))))
    return frozenset(fellow for fellow, withdrawn_at in rows if domain.acts_as_fellow(withdrawn_at))


async def my_pair(
    s: AsyncSession, pair_id: uuid.UUID, my_fellow_ids: frozenset[uuid.UUID], *, lock: bool = False
) -> tuple[ExchangePair, uuid.UUID]:
    """The pair (locked for a command) and which of its fellows the caller is; 404 for anyone else."""
    pair = await s.get(ExchangePair, pair_id, with_for_update=lock)
    me = domain.my_fellow_in((uuid.UUID(f) for f in pair.fellow_ids), my_fellow_ids) if pair else None
    if pair is None or me is None:
        raise NotFound("no such pair")
    return pair, me


async def given_pairs(s: AsyncSession, pair_id: uuid.UUID) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """(giver, receiver) of every feedback submitted in a pair."""
    rows = await s.execute(select(Feedback.from_fellow_id, Feedback.to_fellow_id).where(Feedback.pair_id == pair_id))
    return {(giver, receiver) for giver, receiver in rows}


async def roles(s: AsyncSession, fellow_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each fellow's role in the cohort's kind (a learner and a sharer make a shadowing match)."""
    rows = await s.execute(select(Fellow.id, Fellow.role).where(Fellow.id.in_(fellow_ids)))
    return {fellow: role for fellow, role in rows}


def fellow_facts(f: Fellow) -> domain.FellowFacts:
    return domain.FellowFacts(f.id, f.organisation_id, f.organisation_code, f.sector, f.place)


def _feedback_view(f: Feedback) -> dict[str, Any]:
    return view(
        f,
        "id pair_id from_fellow_id to_fellow_id strengths top_strengths narrative collaboration_ideas submitted_at"
        " corrected_at released_at",
    )


async def pair_feedback(
    s: AsyncSession, pair_id: uuid.UUID, my_fellow_ids: frozenset[uuid.UUID], edit_window: timedelta
) -> dict[str, Any]:
    """A fellow's view of their pair's feedback: what they gave (to correct it) and what is still due."""
    pair, me = await my_pair(s, pair_id, my_fellow_ids)
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
    due = domain.unanswered(
        ((r.from_fellow_id, r.to_fellow_id) for r in requests), {(f.from_fellow_id, f.to_fellow_id) for f in given}
    )
    return {
        "pair_id": pair.id,
        "fellow_id": me,
        "exchange_completed_at": pair.exchange_completed_at,
        "due_at": pair.due_at,
        "released_at": pair.released_at,
        "edit_window_hours": edit_window.total_seconds() / 3600,
        "given": [_feedback_view(f) for f in given],
        "still_due": sorted(str(receiver) for _, receiver in due),
    }


async def released_feedback(s: AsyncSession, fellow_id: uuid.UUID) -> list[dict[str, Any]]:
    """Released feedback about one fellow, oldest first; nothing before release."""
    rows = (
        await s.execute(
            select(Feedback, Fellow.erased_at)
            .outerjoin(Fellow, Fellow.id == Feedback.from_fellow_id)
            .where(Feedback.to_fellow_id == fellow_id, Feedback.released_at.is_not(None))
            .order_by(Feedback.released_at, Feedback.id)
        )
    ).all()
    return [
        view(f, "id pair_id from_fellow_id strengths top_strengths narrative collaboration_ideas released_at")
        | {"given_by": FORMER_FELLOW if erased_at is not None else "your partner"}
        for f, erased_at in rows
    ]


async def cohort_facts(s: AsyncSession, cohort_id: uuid.UUID) -> evaluation.CohortFacts:
    """What a cohort's report is made of: its fellows, pairs, feedback requests, feedback and opportunities."""
    fellows = (await s.scalars(select(Fellow).where(Fellow.cohort_id == cohort_id))).all()
    pairs = (await s.scalars(select(ExchangePair).where(ExchangePair.cohort_id == cohort_id))).all()
    pair_ids = [p.id for p in pairs]
    requests = (await s.scalars(select(FeedbackRequest).where(FeedbackRequest.pair_id.in_(pair_ids)))).all()
    feedback = (await s.scalars(select(Feedback).where(Feedback.pair_id.in_(pair_ids)))).all()
    opportunities = (
        await s.scalars(
            select(CollaborationOpportunity.organisation_ids).where(CollaborationOpportunity.pair_id.in_(pair_ids))
        )
    ).all()
    return evaluation.CohortFacts(
        fellows=[fellow_facts(f) for f in fellows],
        pairs=[
            evaluation.PairFacts(p.id, [uuid.UUID(f) for f in p.fellow_ids], p.exchange_completed_at is not None)
            for p in pairs
        ],
        requests=[
            evaluation.RequestFacts(r.from_fellow_id, r.to_fellow_id, r.missing_at is not None) for r in requests
        ],
        feedback=[
            evaluation.FeedbackFacts(
                f.from_fellow_id, f.to_fellow_id, f.strengths, f.top_strengths, f.released_at is not None
            )
            for f in feedback
        ],
        opportunities=[tuple(uuid.UUID(o) for o in ids) for ids in opportunities],
    )


async def programme_report(s: AsyncSession, cohort_ids: list[uuid.UUID], now: datetime) -> dict[str, Any]:
    """The report across a programme's cohorts (``evaluation.programme_report``), in the order given."""
    facts = {str(c): await cohort_facts(s, c) for c in dict.fromkeys(cohort_ids)}
    return evaluation.programme_report(facts) | {"generated_at": now.isoformat()}


async def cohort_report(s: AsyncSession, cohort_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The cohort evaluation report, small numbers suppressed (``evaluation.cohort_report``)."""
    facts = await cohort_facts(s, cohort_id)
    if not facts.fellows and not facts.pairs:
        raise NotFound("no fellows or pairs of this cohort yet")
    report = evaluation.cohort_report(
        cohort_id,
        fellows=facts.fellows,
        pairs=facts.pairs,
        requests=facts.requests,
        feedback=facts.feedback,
        opportunities=facts.opportunities,
    )
    report["self_assessment"] = await assessment.cohort_change(s, cohort_id)
    learners = set(
        (await s.scalars(select(Fellow.id).where(Fellow.cohort_id == cohort_id, Fellow.role == domain.LEARNER))).all()
    )
    if learners:  # shadowing: the learners' reflections to their sharers, counted, never read
        report["reflections_sent"] = rounded(sum(1 for f in facts.feedback if f.from_fellow_id in learners))
    report["generated_at"] = now.isoformat()
    return report


# --- subject access ----------------------------------------------------------------------------------

PERSONAL_DATA = [
    *fellow_projections(Fellow, ExchangePair, applicants.table),
    Holds(FeedbackRequest, "from_fellow_id", "application"),
    Holds(Feedback, "from_fellow_id", "application"),
    Holds(Feedback, "to_fellow_id", "application"),
    Holds(SelfAssessment, "fellow_id", "application"),
]


# --- collaboration followed through ------------------------------------------------------------


def _opportunity_view(
    o: CollaborationOpportunity, check_ins: list[CollaborationCheckIn], owner: bool
) -> dict[str, Any]:
    """An opportunity: its state for every reader; the idea, the next step and the check-ins' answers
    (free text written by fellows and owners) for its owners only."""
    shown = view(o, "id pair_id organisation_codes organisation_ids status created_at updated_at")
    months = [view(c, "month due_at reminded_at answered_at status") for c in sorted(check_ins, key=lambda c: c.month)]
    if owner:
        shown |= view(o, "idea next_step dropped_reason")
        for row, c in zip(months, sorted(check_ins, key=lambda c: c.month), strict=True):
            row["update"] = c.update
    return shown | {"check_ins": months}


async def opportunities(s: AsyncSession, caller: Caller, status: str | None = None) -> list[dict[str, Any]]:
    """The opportunities the caller may read (a sponsor: their organisation's; the board and admins:
    all), oldest first."""
    query = select(CollaborationOpportunity).order_by(CollaborationOpportunity.created_at, CollaborationOpportunity.id)
    if status:
        query = query.where(CollaborationOpportunity.status == status)
    if caller.role == "sponsor":
        mine = cast(literal(json.dumps([str(caller.organisation_id)])), JSONB)
        query = query.where(cast(CollaborationOpportunity.organisation_ids, JSONB).op("@>")(mine))
    rows = (await s.scalars(query)).all()
    check_ins: dict[uuid.UUID, list[CollaborationCheckIn]] = {}
    if rows:
        found = await s.scalars(
            select(CollaborationCheckIn).where(CollaborationCheckIn.opportunity_id.in_([o.id for o in rows]))
        )
        for c in found:
            check_ins.setdefault(c.opportunity_id, []).append(c)
    return [
        _opportunity_view(
            o, check_ins.get(o.id, []), collaboration.owns(caller.role, caller.organisation_id, o.organisation_ids)
        )
        for o in rows
    ]


async def opportunity(s: AsyncSession, caller: Caller, opportunity_id: uuid.UUID) -> dict[str, Any]:
    found = await s.get(CollaborationOpportunity, opportunity_id)
    if found is None:
        raise NotFound("no such opportunity")
    collaboration.check_readable(caller.role, caller.organisation_id, found.organisation_ids)
    check_ins = (
        await s.scalars(select(CollaborationCheckIn).where(CollaborationCheckIn.opportunity_id == opportunity_id))
    ).all()
    return _opportunity_view(
        found, list(check_ins), collaboration.owns(caller.role, caller.organisation_id, found.organisation_ids)
    )


async def collaboration_map(s: AsyncSession) -> dict[str, Any]:
    """Which organisations (by code) are linked through exchanges and through opportunities started or
    delivered, across every cohort."""
    exchanges = (await s.scalars(select(ExchangePair.organisation_codes))).all()
    opportunities = (
        await s.execute(select(CollaborationOpportunity.organisation_codes, CollaborationOpportunity.status))
    ).all()
    return collaboration.collaboration_map(exchanges, [(codes, status) for codes, status in opportunities])

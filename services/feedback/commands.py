"""Transaction scripts of the feedback service, for its routes, handlers and release worker.

Each runs in the caller's transaction: load rows → ask ``domain`` → save → outbox. Refusals raise
``shared.errors``. Time comes in as ``now``; ``system_clock`` is where its callers read it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import collaboration, domain, queries
from services.feedback.models import (
    CollaborationCheckIn,
    CollaborationOpportunity,
    ExchangePair,
    Feedback,
    FeedbackRequest,
    Fellow,
    SelfAssessment,
    applicants,
    outbox,
)
from shared import events as ev
from shared import privacy
from shared.clock import utcnow
from shared.db import upsert
from shared.errors import Conflict, Invalid, NotFound
from shared.identity import Caller
from shared.views import view

log = logging.getLogger(__name__)

# Built once: SQLAlchemy caches one statement. A fellow enrolled again has the row overwritten.
_UPSERT_FELLOW = upsert(Fellow.__table__)  # type: ignore[arg-type]

system_clock = utcnow  # routes, handlers and the release worker read the time here


@dataclass(frozen=True)
class Submission:
    """What a fellow writes about a partner."""

    strengths: dict[str, int]
    top_strengths: list[str] | None
    narrative: str
    collaboration_ideas: list[str]


def _top_strengths(submission: Submission, ratings_optional: bool) -> list[str]:
    top, problem = domain.top_strengths(submission.strengths, submission.top_strengths, ratings_optional)
    if problem:
        raise Invalid(problem)
    return top


async def _writing(
    s: AsyncSession, pair: ExchangePair, giver: uuid.UUID, receiver: uuid.UUID, submission: Submission
) -> tuple[list[str], dict[uuid.UUID, str]]:
    """The top strengths of what ``giver`` writes about ``receiver``, and the pair's roles; refused when
    the giver does not write to that fellow, or rates too little where ratings are asked for."""
    fellow_ids = [uuid.UUID(f) for f in pair.fellow_ids]
    roles = await queries.roles(s, fellow_ids)
    problem = domain.writing_problem(giver, receiver, fellow_ids, roles)
    if problem:
        raise Invalid(problem)
    return _top_strengths(submission, domain.reflection(roles.get(giver), roles.get(receiver))), roles


def _still_open(pair: ExchangePair, now: datetime) -> None:
    problem = domain.giving_problem(pair.exchange_completed_at, pair.released_at, pair.due_at, now)
    if problem:
        raise Conflict(problem)


def _submitted(f: Feedback) -> ev.FeedbackSubmitted:
    """The fact of a submission: the ratings, narrative and ideas stay here until released to the partner."""
    return ev.FeedbackSubmitted(
        feedback_id=f.id, **view(f, "pair_id from_fellow_id to_fellow_id submitted_at corrected_at")
    )


async def give_feedback(
    s: AsyncSession,
    pair_id: uuid.UUID,
    my_fellow_ids: frozenset[uuid.UUID],
    to_fellow_id: uuid.UUID,
    submission: Submission,
    now: datetime,
) -> uuid.UUID:
    """A fellow's feedback about a partner; the pair's feedback is released once all of it is in. In
    shadowing it is the learner's reflection to the sharer, ratings optional."""
    pair, giver = await queries.my_pair(s, pair_id, my_fellow_ids, lock=True)
    fellow_ids = [uuid.UUID(f) for f in pair.fellow_ids]
    top, roles = await _writing(s, pair, giver, to_fellow_id, submission)
    _still_open(pair, now)
    existing = await s.scalar(  # the pair is locked: nobody else of the pair writes meanwhile
        select(Feedback.id).where(
            Feedback.pair_id == pair.id, Feedback.from_fellow_id == giver, Feedback.to_fellow_id == to_fellow_id
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
        to_fellow_id=to_fellow_id,
        strengths=submission.strengths,
        top_strengths=top,
        narrative=submission.narrative,
        collaboration_ideas=submission.collaboration_ideas,
        submitted_at=now,
    )
    s.add(feedback)
    await s.flush()
    await outbox.add(s, _submitted(feedback))
    if domain.all_submitted(fellow_ids, await queries.given_pairs(s, pair.id), roles):
        await release_pair(s, pair, now, domain.ALL_SUBMITTED)
    return feedback.id


async def correct_feedback(
    s: AsyncSession,
    pair_id: uuid.UUID,
    feedback_id: uuid.UUID,
    my_fellow_ids: frozenset[uuid.UUID],
    submission: Submission,
    edit_window: timedelta,
    now: datetime,
) -> uuid.UUID:
    """Correct one's own feedback within the edit window, while it is unreleased."""
    pair, giver = await queries.my_pair(s, pair_id, my_fellow_ids, lock=True)
    feedback = await s.get(Feedback, feedback_id, with_for_update=True)
    if feedback is None or feedback.pair_id != pair.id or feedback.from_fellow_id != giver:
        raise NotFound("no such feedback of yours")
    top, _ = await _writing(s, pair, giver, feedback.to_fellow_id, submission)
    problem = domain.correction_problem(feedback.submitted_at, feedback.released_at, now, edit_window)
    if problem:
        raise Conflict(problem)
    _still_open(pair, now)
    feedback.strengths = submission.strengths
    feedback.top_strengths = top
    feedback.narrative = submission.narrative
    feedback.collaboration_ideas = submission.collaboration_ideas
    feedback.corrected_at = now
    await outbox.add(s, _submitted(feedback))
    return feedback.id


async def enrol_fellow(s: AsyncSession, event: ev.FellowEnrolled) -> None:
    """Who a fellow is, organisationally (for collaboration opportunities and the report). Enrolled
    again after a withdrawal, they are a fellow again: the withdrawal is cleared."""
    await s.execute(
        _UPSERT_FELLOW,
        {
            "id": event.fellow_id,
            "cohort_id": event.cohort_id,
            "organisation_id": event.organisation_id,
            "organisation_code": event.organisation_code,
            "sector": event.sector,
            "place": event.place,
            "enrolled_at": event.enrolled_at,
            "role": event.role,
            "withdrawn_at": None,
        },
    )


async def withdraw_fellow(s: AsyncSession, fellow_id: uuid.UUID, withdrawn_at: datetime) -> None:
    """A fellow's application was withdrawn: the subject that applied acts as that fellow no more.
    An application never enrolled has no fellow row here, so nothing changes. ApplicationWithdrawn
    and FellowEnrolled share their key, so they arrive here in the order they happened."""
    await s.execute(update(Fellow).where(Fellow.id == fellow_id).values(withdrawn_at=withdrawn_at))


async def open_feedback(
    s: AsyncSession,
    pair_id: uuid.UUID,
    fellow_ids: list[uuid.UUID],
    completed_at: datetime,
    due_after: timedelta,
    now: datetime,
) -> None:
    """The pair's exchange is complete: each fellow is asked for feedback on each partner."""
    pair = await s.get(ExchangePair, pair_id, with_for_update=True)
    if pair is None:  # PairAssigned and ExchangeCompleted share a key, so this means a lost event
        raise LookupError(f"ExchangeCompleted for unknown pair {pair_id}")
    if pair.exchange_completed_at is not None:
        return
    pair.exchange_completed_at = completed_at
    due = domain.due_at(completed_at, due_after)
    pair.due_at = due
    roles = await queries.roles(s, fellow_ids)  # in shadowing only the learner is asked, for a reflection
    requests = [
        FeedbackRequest(
            id=uuid.uuid4(), pair_id=pair.id, from_fellow_id=giver, to_fellow_id=receiver, due_at=due, created_at=now
        )
        for giver in fellow_ids
        for receiver in domain.partners(fellow_ids, giver)
        if (giver, receiver) in domain.expected(fellow_ids, roles)
    ]
    s.add_all(requests)
    await outbox.add(
        s,
        *(
            ev.FeedbackRequested(request_id=r.id, **view(r, "pair_id from_fellow_id to_fellow_id due_at"))
            for r in requests
        ),
    )


async def release_pair(s: AsyncSession, pair: ExchangePair, now: datetime, reason: str) -> int:
    """Release every unreleased feedback of a (locked) pair; returns how many were released.

    Each collaboration idea becomes a CollaborationOpportunity. When the deadline forced the
    release, the requests nobody answered are recorded as missing.
    """
    if pair.released_at is not None:
        return 0
    pair.released_at = now
    pair.release_reason = reason
    given = (await s.scalars(select(Feedback).where(Feedback.pair_id == pair.id, Feedback.released_at.is_(None)))).all()
    rows = (await s.scalars(select(Fellow).where(Fellow.id.in_([uuid.UUID(f) for f in pair.fellow_ids])))).all()
    fellows = {f.id: queries.fellow_facts(f) for f in rows}
    opportunities, events = domain.release(
        pair.id,
        [domain.GivenFacts(f.id, f.from_fellow_id, f.to_fellow_id, f.collaboration_ideas) for f in given],
        fellows,
        now,
    )
    for f in given:
        f.released_at = now
    s.add_all(
        CollaborationOpportunity(
            id=o.id,
            pair_id=pair.id,
            feedback_id=o.feedback_id,
            idea=o.idea,
            organisation_codes=o.organisation_codes,
            organisation_ids=[str(x) for x in o.organisation_ids],
            created_at=now,
        )
        for o in opportunities
    )
    await s.flush()  # the opportunities before their check-ins (a foreign key)
    ended = pair.exchange_completed_at or now
    s.add_all(
        CollaborationCheckIn(opportunity_id=o.id, month=month, due_at=due)
        for o in opportunities
        for month, due in collaboration.check_ins(ended)
    )
    await outbox.add(s, *events)
    if reason == domain.DEADLINE:
        requests = (
            await s.scalars(
                select(FeedbackRequest).where(FeedbackRequest.pair_id == pair.id, FeedbackRequest.missing_at.is_(None))
            )
        ).all()
        missing = set(
            domain.unanswered(
                ((r.from_fellow_id, r.to_fellow_id) for r in requests), await queries.given_pairs(s, pair.id)
            )
        )
        for r in requests:
            if (r.from_fellow_id, r.to_fellow_id) in missing:
                r.missing_at = now
    await s.flush()
    return len(given)


RELEASE_BATCH = 100  # pairs released per sweep transaction


async def release_overdue(
    s: AsyncSession, now: datetime, limit: int = RELEASE_BATCH, cohort_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """One sweep: release the pairs (of one cohort, or all) whose due date has passed. Rows are
    claimed with ``FOR UPDATE SKIP LOCKED``, so several instances never release a pair twice."""
    query = (
        select(ExchangePair)
        .where(ExchangePair.released_at.is_(None), ExchangePair.due_at.is_not(None), ExchangePair.due_at <= now)
        .order_by(ExchangePair.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if cohort_id is not None:
        query = query.where(ExchangePair.cohort_id == cohort_id)
    pairs = (await s.scalars(query)).all()
    for pair in pairs:
        released = await release_pair(s, pair, now, domain.DEADLINE)
        log.info("pair %s passed its due date: released %d feedback", pair.id, released)
    return [p.id for p in pairs]


# --- collaboration followed through (collaboration.py) ------------------------------------------


async def update_opportunity(
    s: AsyncSession,
    caller: Caller,
    opportunity_id: uuid.UUID,
    status: str,
    next_step: str | None,
    reason: str | None,
    update_text: str | None,
    now: datetime,
) -> None:
    """The owners move an opportunity on; the update answers the check-in that is due, if any."""
    opportunity = await s.get(CollaborationOpportunity, opportunity_id, with_for_update=True)
    if opportunity is None or not collaboration.owns(caller.role, caller.organisation_id, opportunity.organisation_ids):
        raise NotFound("no such opportunity")
    opportunity.status = collaboration.moved(opportunity.status, status, reason)
    opportunity.dropped_reason = reason
    opportunity.next_step = next_step if next_step is not None else opportunity.next_step
    opportunity.updated_at, opportunity.updated_by = now, caller.sub
    check_ins = (
        await s.scalars(select(CollaborationCheckIn).where(CollaborationCheckIn.opportunity_id == opportunity_id))
    ).all()
    facts = [collaboration.CheckInFacts(c.month, c.due_at, c.reminded_at, c.answered_at) for c in check_ins]
    answered = collaboration.answered_by_update(facts, now)
    for check_in in check_ins:
        if check_in.month == answered:
            check_in.answered_at, check_in.status, check_in.update = now, opportunity.status, update_text
    await outbox.add(
        s,
        ev.CollaborationOpportunityUpdated(
            opportunity_id=opportunity.id,
            pair_id=opportunity.pair_id,
            organisation_ids=[uuid.UUID(o) for o in opportunity.organisation_ids],
            status=opportunity.status,
            updated_at=now,
        ),
    )


CHECK_IN_BATCH = 200


async def remind_due_check_ins(s: AsyncSession, now: datetime, limit: int = CHECK_IN_BATCH) -> int:
    """One sweep: each check-in that fell due, of an opportunity still under way, is reminded once
    (claimed with ``FOR UPDATE SKIP LOCKED``); a delivered or dropped one needs no check-in."""
    due = (
        await s.execute(
            select(CollaborationCheckIn, CollaborationOpportunity)
            .join(CollaborationOpportunity, CollaborationOpportunity.id == CollaborationCheckIn.opportunity_id)
            .where(CollaborationCheckIn.reminded_at.is_(None), CollaborationCheckIn.due_at <= now)
            .order_by(CollaborationCheckIn.due_at)
            .limit(limit)
            .with_for_update(of=CollaborationCheckIn, skip_locked=True)
        )
    ).all()
    events: list[ev.Event] = []
    for check_in, opportunity in due:
        check_in.reminded_at = now
        if opportunity.status in collaboration.DONE:
            continue
        events.append(
            ev.CollaborationCheckInDue(
                opportunity_id=opportunity.id,
                pair_id=opportunity.pair_id,
                organisation_ids=[uuid.UUID(o) for o in opportunity.organisation_ids],
                month=check_in.month,
                status=opportunity.status,
                due_at=check_in.due_at,
            )
        )
    await outbox.add(s, *events)
    return len(due)


# --- erasure (shared/privacy.py) ----------------------------------------------------------------------


async def erase_person(s: AsyncSession, event: ev.PersonErasureRequested) -> None:
    """Forget a person: their subject, and the words others wrote about them (the narrative; the
    ratings stay, detached from anyone, so the cohort report's counts and means stay right). What they
    wrote for others is the others' to keep: it stays, shown as from "a former fellow"."""
    ids = privacy.erased_ids(event)
    await applicants.forget(s, ids)
    await s.execute(update(Fellow).where(Fellow.id.in_(ids)).values(erased_at=utcnow()))
    await s.execute(update(Feedback).where(Feedback.to_fellow_id.in_(ids)).values(narrative=""))
    await s.execute(delete(SelfAssessment).where(SelfAssessment.fellow_id.in_(ids)))  # their own view: theirs
    await privacy.confirm(s, outbox, event, "feedback")

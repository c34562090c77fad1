"""Feedback rules: pure, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared import events as ev
from shared.events import LEADERSHIP_DIMENSIONS

MIN_DIMENSIONS = 3
MAX_TOP_STRENGTHS = 3
LEARNER, SHARER = "learner", "sharer"  # the roles of a shadowing match (FellowEnrolled.role)

# Why a pair's feedback was released (``exchange_pair.release_reason``).
ALL_SUBMITTED = "all_submitted"
DEADLINE = "deadline"

# Roles that read any fellow's released feedback and the cohort report.
STAFF = ("board", "admin")


# --- who the caller is, and what they may read ------------------------------------------------


def acts_as_fellow(withdrawn_at: datetime | None) -> bool:
    """An enrolled fellow is one to the service until their application is withdrawn; enrolled
    again, they are one again (the withdrawal is cleared)."""
    return withdrawn_at is None


def my_fellow_in(pair_fellow_ids: Iterable[uuid.UUID], my_fellow_ids: frozenset[uuid.UUID]) -> uuid.UUID | None:
    """Which fellow of a pair the caller is; None for anyone else (answered like a wrong id)."""
    return next((f for f in pair_fellow_ids if f in my_fellow_ids), None)


def may_read_released(role: str, fellow_id: uuid.UUID, my_fellow_ids: frozenset[uuid.UUID]) -> bool:
    """Released feedback about a fellow is read by that fellow, the board and admins."""
    return role in STAFF or fellow_id in my_fellow_ids


def strengths_problem(strengths: dict[str, int]) -> str | None:
    unknown = sorted(set(strengths) - set(LEADERSHIP_DIMENSIONS))
    if unknown:
        return f"unknown leadership dimensions: {', '.join(unknown)}; use {', '.join(LEADERSHIP_DIMENSIONS)}"
    if len(strengths) < MIN_DIMENSIONS:
        return f"rate at least {MIN_DIMENSIONS} of the nine leadership dimensions"
    bad = sorted(k for k, v in strengths.items() if not 1 <= v <= 5)
    if bad:
        return f"ratings are 1 to 5: check {', '.join(bad)}"
    return None


def top_strengths_problem(strengths: Mapping[str, int], top: list[str]) -> str | None:
    if not top:
        return "pick at least one top strength"
    if len(top) > MAX_TOP_STRENGTHS:
        return f"pick at most {MAX_TOP_STRENGTHS} top strengths"
    if len(set(top)) != len(top):
        return "each top strength once"
    unrated = [t for t in top if t not in strengths]
    if unrated:
        return f"top strengths must be among the dimensions you rated: {', '.join(unrated)}"
    return None


def default_top_strengths(strengths: Mapping[str, int]) -> list[str]:
    """When the giver picks none: the best-rated dimensions (up to three, in the model's order)."""
    best = max(strengths.values())
    return [d for d in LEADERSHIP_DIMENSIONS if strengths.get(d) == best][:MAX_TOP_STRENGTHS]


def top_strengths(
    strengths: Mapping[str, int], top: list[str] | None, ratings_optional: bool = False
) -> tuple[list[str], str | None]:
    """The top strengths a rating names (the giver's pick, or by default the best-rated), or why
    the rating is refused. Where ratings are optional (``reflection``), none at all is fine."""
    if ratings_optional and not strengths:
        return [], ("top strengths must be among the dimensions you rated" if top else None)
    problem = strengths_problem(dict(strengths))
    if problem:
        return [], problem
    chosen = top if top is not None else default_top_strengths(strengths)
    return chosen, top_strengths_problem(strengths, chosen)


def partners(fellow_ids: list[uuid.UUID], fellow: uuid.UUID) -> list[uuid.UUID]:
    return [f for f in fellow_ids if f != fellow]


def reflection(giver_role: str | None, receiver_role: str | None) -> bool:
    """A shadowing learner writing to the sharer who hosted them: a reflection and a thank-you, where
    ratings are optional (DESIGN.md, Programme kinds)."""
    return giver_role == LEARNER and receiver_role == SHARER


def expected(
    fellow_ids: list[uuid.UUID], roles: Mapping[uuid.UUID, str] | None = None
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Every (giver, receiver) of a pair or trio: each fellow writes about each partner. In a
    shadowing match (a sharer in it) only the learner writes, to the sharer."""
    every = {(a, b) for a in fellow_ids for b in partners(fellow_ids, a)}
    roles = roles or {}
    if SHARER not in roles.values():
        return every
    return {(a, b) for a, b in every if reflection(roles.get(a), roles.get(b))}


def writing_problem(
    giver: uuid.UUID, receiver: uuid.UUID, fellow_ids: list[uuid.UUID], roles: Mapping[uuid.UUID, str]
) -> str | None:
    """Whether ``giver`` writes about ``receiver`` in this pair."""
    if receiver not in partners(fellow_ids, giver):
        return "to_fellow_id must be your partner in this pair"
    if (giver, receiver) not in expected(fellow_ids, roles):
        return "in shadowing the learner writes to the sharer who hosted them; a sharer writes no feedback"
    return None


def all_submitted(
    fellow_ids: list[uuid.UUID],
    submitted: set[tuple[uuid.UUID, uuid.UUID]],
    roles: Mapping[uuid.UUID, str] | None = None,
) -> bool:
    """Blind release: every fellow has written about every partner (in shadowing: the learner has)."""
    return expected(fellow_ids, roles) <= submitted


def unanswered(
    requested: Iterable[tuple[uuid.UUID, uuid.UUID]], answered: set[tuple[uuid.UUID, uuid.UUID]]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The (giver, receiver) requests nobody has answered yet: still due, or missing at the deadline."""
    return [r for r in requested if r not in answered]


def giving_problem(
    exchange_completed_at: datetime | None, released_at: datetime | None, due_at: datetime | None, now: datetime
) -> str | None:
    """Whether a pair takes feedback (or corrections) now: after the exchange, before release and due date."""
    if exchange_completed_at is None:
        return "feedback opens when the exchange is complete"
    if released_at is not None:
        return "the feedback of this pair has been released; no more can be given"
    if due_at is not None and now > due_at:
        return f"feedback was due by {due_at.isoformat()}"
    return None


def due_at(exchange_completed_at: datetime, due_after: timedelta) -> datetime:
    """Deterministic from the event, so a redelivered ExchangeCompleted computes the same due date."""
    return exchange_completed_at + due_after


def correction_problem(
    submitted_at: datetime, released_at: datetime | None, now: datetime, edit_window: timedelta
) -> str | None:
    if released_at is not None:
        return "this feedback has been released and can no longer be corrected"
    if now > submitted_at + edit_window:
        return f"corrections are possible for {_human(edit_window)} after submitting; that time has passed"
    return None


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day{'s' if days != 1 else ''}"
    if hours >= 1 and hours == int(hours):
        return f"{int(hours)} hour{'s' if hours != 1 else ''}"
    return f"{int(delta.total_seconds() // 60)} minutes"


@dataclass(frozen=True)
class FellowFacts:
    id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_code: str
    sector: str
    place: str


# --- release ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GivenFacts:
    """One unreleased feedback of a pair, as far as its release is concerned."""

    id: uuid.UUID
    from_fellow_id: uuid.UUID
    to_fellow_id: uuid.UUID
    collaboration_ideas: list[str]


@dataclass(frozen=True)
class Opportunity:
    """A collaboration idea of released feedback, linking the giver's and receiver's organisations."""

    id: uuid.UUID
    feedback_id: uuid.UUID
    idea: str
    organisation_codes: list[str]
    organisation_ids: list[uuid.UUID]


def release(
    pair_id: uuid.UUID, given: Iterable[GivenFacts], fellows: Mapping[uuid.UUID, FellowFacts], now: datetime
) -> tuple[list[Opportunity], list[ev.Event]]:
    """What releasing a pair's feedback causes: FeedbackReleased for each, and a collaboration
    opportunity (with its event) for each idea."""
    opportunities: list[Opportunity] = []
    events: list[ev.Event] = []
    for f in given:
        events.append(
            ev.FeedbackReleased(
                feedback_id=f.id,
                pair_id=pair_id,
                to_fellow_id=f.to_fellow_id,
                released_at=now,
            )
        )
        linked = [fellows[x] for x in (f.from_fellow_id, f.to_fellow_id) if x in fellows]
        organisation_ids = list(dict.fromkeys(x.organisation_id for x in linked))
        codes = list(dict.fromkeys(x.organisation_code for x in linked))
        for idea in f.collaboration_ideas:
            opportunity = Opportunity(uuid.uuid4(), f.id, idea, codes, organisation_ids)
            opportunities.append(opportunity)
            events.append(
                ev.CollaborationOpportunityIdentified(
                    opportunity_id=opportunity.id,
                    pair_id=pair_id,
                    organisation_ids=organisation_ids,
                    identified_at=now,
                )
            )
    return opportunities, events

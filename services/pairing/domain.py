"""Pairing and exchange rules: pure values and decisions, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Fellow:
    id: uuid.UUID
    organisation_id: uuid.UUID
    sector: str
    place: str
    staff_group: str
    availability: frozenset[str]
    interests: frozenset[str] = frozenset()
    side: str = ""  # bipartite mode: the side of the fellow (clinical / non_clinical)
    person_id: uuid.UUID | None = None  # the same person across cohorts (FellowEnrolled.person_id)

    @property
    def person(self) -> uuid.UUID:
        """Who the fellow is across cohorts: the person id, else (older events) the fellow id."""
        return self.person_id or self.id


class Weights(BaseModel):
    """How much each preference counts; configured through PAIRING_WEIGHT_* settings."""

    different_sector: float = Field(default=4, ge=0)
    different_place: float = Field(default=3, ge=0)
    clinical_mix: float = Field(default=3, ge=0)
    shared_availability: float = Field(default=1, ge=0, description="per shared weekday, up to 5")
    shared_interest: float = Field(default=1, ge=0, description="per shared interest, up to 3")
    not_paired_before: float = Field(default=5, ge=0)


@dataclass(frozen=True)
class Match:
    """How well two fellows suit each other, and why."""

    score: float
    reasons: tuple[str, ...]


def allowed(a: Fellow, b: Fellow, mode: str) -> str | None:
    """None when a and b may be paired; else the hard rule they break."""
    if a.organisation_id == b.organisation_id:
        return "same organisation"
    if mode == "bipartite" and a.side == b.side:
        return f"both {a.side}"
    return None


def match(a: Fellow, b: Fellow, weights: Weights, paired_before: bool = False) -> Match:
    score = 0.0
    reasons: list[str] = []
    if a.sector != b.sector:
        score += weights.different_sector
        reasons.append(f"different sectors ({a.sector} and {b.sector})")
    if a.place != b.place:
        score += weights.different_place
        reasons.append(f"different places ({a.place} and {b.place})")
    if a.staff_group != b.staff_group:
        score += weights.clinical_mix
        reasons.append("a clinical and a non-clinical fellow")
    days = a.availability & b.availability
    if days:
        score += weights.shared_availability * min(len(days), 5)
        reasons.append(f"{len(days)} weekday(s) both are available")
    interests = a.interests & b.interests
    if interests:
        score += weights.shared_interest * min(len(interests), 3)
        reasons.append("shared interests: " + ", ".join(sorted(interests)))
    if not paired_before:
        score += weights.not_paired_before
        reasons.append("not paired before")
    return Match(score=score, reasons=tuple(reasons))


@dataclass(frozen=True)
class Group:
    """A pair, or the one trio of an odd cohort."""

    fellow_ids: tuple[uuid.UUID, ...]
    score: float
    reasons: tuple[str, ...]


@dataclass
class Round:
    groups: list[Group] = field(default_factory=list)
    unpaired: dict[uuid.UUID, str] = field(default_factory=dict)
    weight: int = 0  # the matching's total edge weight (scoring.SCALE points per unit, pairs only)
    bound: float = 0.0  # an upper bound on that total over every matching of the cohort
    optimal: bool = False  # True when the weight provably equals the optimum (bound met)


def score_group(
    members: Sequence[Fellow],
    mode: str,
    weights: Weights,
    earlier: Iterable[frozenset[uuid.UUID]] = (),
) -> Group | str:
    """Score a group (a pair, or a trio); the reason when it breaks the hard rule."""
    seen = earlier if isinstance(earlier, set | frozenset) else set(earlier)
    total = 0.0
    reasons: list[str] = []
    for i, a in enumerate(members):
        for b in members[i + 1 :]:
            problem = allowed(a, b, mode if len(members) == 2 else "peer")
            if problem:
                return problem
            m = match(a, b, weights, frozenset({a.person, b.person}) in seen)
            total += m.score
            reasons.extend(r for r in m.reasons if r not in reasons)
    if mode == "bipartite" and len(members) == 3 and len({m.side for m in members}) < 2:
        return f"all three are {members[0].side}"
    return Group(fellow_ids=tuple(f.id for f in members), score=total, reasons=tuple(reasons))


def visit_date_problem(day: date, starts: date, ends: date) -> str | None:
    if not starts <= day <= ends:
        return f"the visit must fall inside the exchange window {starts.isoformat()} to {ends.isoformat()}"
    return None


def exchange_complete(fellow_ids: list[uuid.UUID], completed_hosts: set[uuid.UUID]) -> bool:
    """The exchange is complete when every fellow of the pair has hosted a completed visit."""
    return set(fellow_ids) <= completed_hosts

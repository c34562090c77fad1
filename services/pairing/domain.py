"""Pairing and exchange rules: pure values and decisions, no I/O."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from pydantic import BaseModel, Field

from shared import programmes

# The states of a cohort's pairing round: requested but some fellows not projected here yet, paired
# (the board may swap, re-run or publish), published (pairs are public and final).
WAITING = "waiting"
PAIRED = "paired"
PUBLISHED = "published"

SWAP_NOTE = "swapped by the board"
RULED_OUT = "the board or a fellow ruled this pair out"

# Who sees every pair of a cohort, published or not; a fellow of the cohort sees its published pairs.
SEES_EVERY_PAIR = ("board", "admin")


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
    role: str = "fellow"  # shared/programmes.py: learner, sharer, mentor, mentee in the kinds that host
    capacity: int = 1  # a sharer's or mentor's places

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


def weights_of(stored: Mapping[str, float] | None, default: Weights) -> Weights:
    """A cohort's weights: the board's own (``PUT …/weights``) when it set them, else the configured ones."""
    return Weights.model_validate(stored) if stored else default


def conflict_pairs(
    fellows: Iterable[Fellow], declared: Mapping[uuid.UUID, Iterable[uuid.UUID]]
) -> set[frozenset[uuid.UUID]]:
    """The pairs of fellows where either named the other's person (its pseudonym, ``person_id``) as a
    conflict when applying: never to be matched, like two fellows of one organisation."""
    fellows = list(fellows)
    by_person: dict[uuid.UUID, list[uuid.UUID]] = {}
    for f in fellows:
        if f.person_id is not None:
            by_person.setdefault(f.person_id, []).append(f.id)
    return {
        frozenset({f.id, other})
        for f in fellows
        for person in declared.get(f.id, ())
        for other in by_person.get(person, ())
        if other != f.id
    }


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


# The words of each reason (what the board reads in pairing's answers) → its code (what PairAssigned
# carries: shared interests are free text, so the words never travel).
_REASON_CODES = (
    ("different sectors", "different_sector"),
    ("different places", "different_place"),
    ("a clinical and a non-clinical", "clinical_mix"),
    ("weekday(s) both are available", "shared_availability"),
    ("shared interests", "shared_interests"),
    ("not paired before", "not_paired_before"),
    ("trio:", "trio"),
    (SWAP_NOTE, "swapped_by_board"),
)


def reason_codes(reasons: Iterable[str]) -> list[str]:
    """The codes of a pair's reasons (ev.PAIR_REASONS), each once, in order; words no rule makes are left out."""
    codes = (code for words in reasons for part, code in _REASON_CODES if part in words)
    return list(dict.fromkeys(codes))


def reasons_without_interests(reasons: Iterable[str]) -> list[str]:
    """A pair's reasons once one of its fellows is erased: the shared interests were theirs (free
    text), so only the fact that there were some stays."""
    return ["shared interests" if r.startswith("shared interests") else r for r in reasons]


def may_pair_again(status: str | None, kind: str | None = None) -> bool:
    """A pairing request (first or again) is taken until the round is published; then it changes nothing,
    except in the kinds where people join as they go (shadowing, mentoring): published matches stay and
    the newcomers fill the places left."""
    return status != PUBLISHED or programmes.kind(kind).reruns_after_publishing


def host_problem(kind: str | None, roles: dict[str, str], host: uuid.UUID) -> str | None:
    """Who may host a visit of a pair of this kind: anyone of an exchange pair; in shadowing the sharer
    alone (one visit per match); in mentoring nobody (mentor and mentee meet instead)."""
    k = programmes.kind(kind)
    if k.visits_per_match == 0:
        return f"{k.title} has meetings, not visits"
    if k.host and roles.get(str(host)) != k.host:
        return f"in {k.title} the {k.host} hosts the visit"
    return None


def board_change_refused(status: str | None, change: str) -> tuple[str, str] | None:
    """Why a round in ``status`` (None: never requested) refuses the board's ``change`` ("publish",
    "swap" or "preview"), and the status to report; None when the change may go ahead."""
    if status is None or status == WAITING:
        return "this cohort has no pairs yet", status or "none"
    if status == PUBLISHED:
        if change == "publish":
            return "the pairs of this cohort are already published", PUBLISHED
        return "published pairs cannot be changed", PUBLISHED
    return None


def rules_refused(status: str | None) -> str | None:
    """Why the board may no longer change a cohort's rules (exclusions, locks, weights): once its pairs
    are published a re-run cannot use them."""
    if status == PUBLISHED:
        return "the pairs of this cohort are published: its pairing rules can no longer change"
    return None


def swap(groups: Sequence[Sequence[str]], a: str, b: str) -> tuple[int, int, list[str], list[str]] | str:
    """Fellows ``a`` and ``b`` exchange places: the indices of their two groups and the members of each
    afterwards, or why the swap cannot be made (the hard rule is checked on the new groups by the caller)."""
    at_a = next((k for k, g in enumerate(groups) if a in g), None)
    at_b = next((k for k, g in enumerate(groups) if b in g), None)
    if at_a is None or at_b is None:
        return "both fellows must be in a pair of this cohort"
    if at_a == at_b:
        return "the two fellows are already in the same pair"
    new_a = [b if f == a else f for f in groups[at_a]]
    new_b = [a if f == b else f for f in groups[at_b]]
    return at_a, at_b, new_a, new_b


def met(people: Iterable[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Every two people of a published group, the smaller id first: who has been paired with whom."""
    return list(itertools.combinations(sorted(set(people)), 2))


def visit_date_problem(day: date, starts: date, ends: date) -> str | None:
    if not starts <= day <= ends:
        return f"the visit must fall inside the exchange window {starts.isoformat()} to {ends.isoformat()}"
    return None


def exchange_complete(
    fellow_ids: list[uuid.UUID],
    completed_hosts: set[uuid.UUID],
    roles: dict[str, str] | None = None,
    kind: str | None = None,
) -> bool:
    """The exchange is complete when every fellow of the pair has hosted a completed visit (in shadowing:
    when the sharer has)."""
    k = programmes.kind(kind)
    hosts = {f for f in fellow_ids if (roles or {}).get(str(f)) == k.host} if k.host else set(fellow_ids)
    return bool(hosts) and hosts <= completed_hosts

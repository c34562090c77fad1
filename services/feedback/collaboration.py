"""Ways to work closer together, followed through (pure, no I/O; ``commands`` loads and saves).

Each idea a fellow names in their feedback becomes an *opportunity* when the pair's feedback is
released. It belongs jointly to the two organisations of the exchange: their sponsors (or an admin)
move it along ``idea → exploring → started → delivered``, or drop it with a reason, and say what the
next step is. Check-ins fall 3, 6 and 12 months after the exchange; each is reminded once when due and
answered by the owners' next update. The collaboration map links organisations through exchanges and
through opportunities started or delivered, across every cohort.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import Conflict, Invalid, NotFound

IDEA, EXPLORING, STARTED, DELIVERED, DROPPED = "idea", "exploring", "started", "delivered", "dropped"
STATUSES = (IDEA, EXPLORING, STARTED, DELIVERED, DROPPED)
ORDER = {IDEA: 0, EXPLORING: 1, STARTED: 2, DELIVERED: 3}
DONE = frozenset({DELIVERED, DROPPED})
# What the map counts as organisations that have actually started working together.
WORKING_TOGETHER = frozenset({STARTED, DELIVERED})
CHECK_IN_MONTHS = (3, 6, 12)
OWNER_ROLES = ("sponsor", "admin")
READERS = ("sponsor", "board", "admin")


def add_months(when: datetime, months: int) -> datetime:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


def check_ins(exchange_ended: datetime) -> list[tuple[int, datetime]]:
    """(month, due) of an opportunity's check-ins, counted from the end of its exchange."""
    return [(m, add_months(exchange_ended, m)) for m in CHECK_IN_MONTHS]


def owns(role: str, organisation_id: uuid.UUID | None, organisation_ids: Iterable[str]) -> bool:
    """An admin, or a sponsor of one of the opportunity's organisations."""
    return role == "admin" or (
        role == "sponsor" and organisation_id is not None and str(organisation_id) in set(organisation_ids)
    )


def check_readable(role: str, organisation_id: uuid.UUID | None, organisation_ids: Iterable[str]) -> None:
    """The board reads every opportunity's state; a sponsor only their organisation's (404 otherwise)."""
    if role == "board" or owns(role, organisation_id, organisation_ids):
        return
    raise NotFound("no such opportunity")


def moved(current: str, wanted: str, reason: str | None) -> str:
    """The new status, or why not: forward only, never out of delivered or dropped; a drop says why."""
    if current in DONE:
        raise Conflict(f"the opportunity is already {current}", state=current)
    if wanted == DROPPED:
        if not reason:
            raise Invalid("reason: say why the opportunity is dropped")
        return DROPPED
    if reason:
        raise Invalid("reason: only a dropped opportunity has a reason")
    if ORDER[wanted] < ORDER[current]:
        raise Conflict(f"an opportunity moves forward: it is {current}, not back to {wanted}", state=current)
    return wanted


@dataclass(frozen=True)
class CheckInFacts:
    month: int
    due_at: datetime
    reminded_at: datetime | None
    answered_at: datetime | None


def answered_by_update(check_ins: Sequence[CheckInFacts], now: datetime) -> int | None:
    """Which check-in an update made at ``now`` answers: the latest one unanswered that is due or was
    reminded (the owners' answer to the e-mail)."""
    due = [c for c in check_ins if (c.due_at <= now or c.reminded_at) and c.answered_at is None]
    return max(due, key=lambda c: c.due_at).month if due else None


@dataclass(frozen=True)
class Link:
    """Two organisations (ids as text, sorted) and how they are linked."""

    a: str
    b: str
    exchanges: int = 0
    started: int = 0
    delivered: int = 0


def collaboration_map(
    exchanges: Iterable[Sequence[str]], opportunities: Iterable[tuple[Sequence[str], str]]
) -> dict[str, Any]:
    """Which organisations are linked, across all cohorts: through exchanges (a pair of fellows of two
    organisations) and through opportunities started or delivered. Organisations linked by nothing
    are left out."""
    links: dict[tuple[str, str], dict[str, int]] = {}

    def each_pair(organisations: Sequence[str]) -> list[tuple[str, str]]:
        ordered = sorted(set(organisations))
        return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]]

    for organisations in exchanges:
        for key in each_pair(organisations):
            links.setdefault(key, {"exchanges": 0, "started": 0, "delivered": 0})["exchanges"] += 1
    for organisations, status in opportunities:
        if status in WORKING_TOGETHER:
            for key in each_pair(organisations):
                links.setdefault(key, {"exchanges": 0, "started": 0, "delivered": 0})[status] += 1
    found = [Link(a, b, **counts) for (a, b), counts in sorted(links.items())]
    return {
        "organisations": sorted({o for link in found for o in (link.a, link.b)}),
        "links": [vars(link) for link in found],
    }

"""The application state machine and its rules: pure, no I/O."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

SUBMITTED = "submitted"
ENDORSED = "endorsed"
SHORTLISTED = "shortlisted"
WAITLISTED = "waitlisted"
DECLINED = "declined"
ENROLLED = "enrolled"
WITHDRAWN = "withdrawn"

STATES = (SUBMITTED, ENDORSED, SHORTLISTED, WAITLISTED, DECLINED, ENROLLED, WITHDRAWN)
OPEN_STATES = frozenset({SUBMITTED, ENDORSED, SHORTLISTED, WAITLISTED, ENROLLED})

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "endorse": (frozenset({SUBMITTED}), ENDORSED),
    "shortlist": (frozenset({ENDORSED, WAITLISTED}), SHORTLISTED),
    "waitlist": (frozenset({ENDORSED}), WAITLISTED),
    "decline": (frozenset({ENDORSED, WAITLISTED}), DECLINED),
    "enrol": (frozenset({SHORTLISTED}), ENROLLED),
    # enrolment over capacity: shortlisted beyond the capacity wait, in decision order
    "overflow": (frozenset({SHORTLISTED}), WAITLISTED),
    # a withdrawal freed a place: the first waitlisted moves up
    "promote": (frozenset({WAITLISTED}), SHORTLISTED),
    "withdraw": (OPEN_STATES, WITHDRAWN),
}

BOARD_DECISIONS = {"shortlist": "shortlist", "waitlist": "waitlist", "decline": "decline"}

BAND_PATTERN = re.compile(r"^([2-7]|8[a-d]|9|FY[12]|CT[1-3]|ST[1-8]|SAS|consultant|GP|other)$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_AVAILABILITY = WEEKDAYS[:5]
STATEMENT_MIN, STATEMENT_MAX = 20, 3000


@dataclass(frozen=True)
class IllegalTransition(Exception):
    action: str
    state: str

    def __str__(self) -> str:
        allowed = ", ".join(sorted(TRANSITIONS[self.action][0]))
        return f"cannot {self.action} an application that is {self.state} (only from: {allowed})"


def transition(state: str, action: str) -> str:
    """The state an application reaches by ``action``, or IllegalTransition."""
    sources, target = TRANSITIONS[action]
    if state not in sources:
        raise IllegalTransition(action, state)
    return target


def enrolment(shortlisted: int, enrolled: int, capacity: int) -> int:
    """How many of the shortlisted can be enrolled now without going over capacity."""
    return max(0, min(shortlisted, capacity - enrolled))


_PERSON_NAMESPACE = uuid.UUID("9c7fb252-9d61-8384-5796-d6b01b29f787")


def person_id(email: str) -> uuid.UUID:
    """A stable pseudonymous id of a person across cohorts, derived from the e-mail address."""
    return uuid.uuid5(_PERSON_NAMESPACE, email.strip().lower())


SMALL_NUMBER = 5


def suppressed(counts: dict[str, int]) -> dict[str, int | str]:
    """Aggregate counts with small numbers (1 to 4) shown as "<5" so nobody can be singled out."""
    return {k: ("<5" if 0 < v < SMALL_NUMBER else v) for k, v in sorted(counts.items())}


def places_taken(shortlisted: int, enrolled: int) -> int:
    return shortlisted + enrolled

"""The rules of applications and cohorts: pure, no I/O.

States and transitions, the cohort's dates and application window, who may read or withdraw an
application, the capacity split of enrolment, and the events these decisions cause. A refusal is
raised as a ``shared.errors`` domain error (or ``IllegalTransition``) for the caller to answer.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from shared import events as ev
from shared import programmes
from shared.contract import DEFAULT_AVAILABILITY
from shared.errors import Conflict, Forbidden, Invalid
from shared.views import view

SUBMITTED = "submitted"
ENDORSED = "endorsed"
SHORTLISTED = "shortlisted"
WAITLISTED = "waitlisted"
DECLINED = "declined"
ENROLLED = "enrolled"
WITHDRAWN = "withdrawn"

STATES = (SUBMITTED, ENDORSED, SHORTLISTED, WAITLISTED, DECLINED, ENROLLED, WITHDRAWN)
OPEN_STATES = frozenset({SUBMITTED, ENDORSED, SHORTLISTED, WAITLISTED, ENROLLED})
# The states that hold one of the cohort's places.
PLACE_HOLDING = (SHORTLISTED, ENROLLED)

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

# Without an end date, the exchange runs for a year from its start.
DEFAULT_EXCHANGE_LENGTH = timedelta(days=365)


# --- cohorts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortDates:
    opens_at: datetime
    closes_at: datetime | None
    exchange_starts: date
    exchange_ends: date


def cohort_dates(
    now: datetime,
    opens_at: datetime | None,
    closes_at: datetime | None,
    exchange_starts: date | None,
    exchange_ends: date | None,
) -> CohortDates:
    """A new cohort's dates with their defaults (open from now; the exchange from today, for a year), or Invalid."""
    opens = opens_at or now
    starts = exchange_starts or now.date()
    ends = exchange_ends or starts + DEFAULT_EXCHANGE_LENGTH
    if closes_at is not None and closes_at <= opens:
        raise Invalid("closes_at must be after opens_at")
    if ends < starts:
        raise Invalid("exchange_ends must not be before exchange_starts")
    return CohortDates(opens, closes_at, starts, ends)


def availability(days: list[ev.Weekday] | None) -> list[ev.Weekday]:
    """The weekdays an applicant can host or visit, each once in the given order; Monday to Friday
    when none were given."""
    return list(dict.fromkeys(days or DEFAULT_AVAILABILITY))


def interests(*given: list[str] | None) -> list[str]:
    """Each interest once, in order; pairing scores a sharer's offer tags and a learner's wants with them."""
    return list(dict.fromkeys(i for g in given for i in g or ()))


def conflicts(given: list[str] | None, own_email: str, key: bytes) -> list[uuid.UUID]:
    """The people an applicant must never be matched with, as their person pseudonyms (``person_id``,
    the same keyed HMAC as FellowEnrolled.person_id): the addresses themselves are neither kept nor sent."""
    own = own_email.strip().lower()
    if any(e.strip().lower() == own for e in given or ()):
        raise Invalid("conflicts: your own e-mail address cannot be one of your conflicts")
    return list(dict.fromkeys(person_id(e, key) for e in given or ()))


def is_open(now: datetime, opens_at: datetime, closes_at: datetime | None) -> bool:
    """Whether the cohort takes applications at ``now``."""
    return opens_at <= now and (closes_at is None or now < closes_at)


def check_window(now: datetime, opens_at: datetime, closes_at: datetime | None) -> None:
    """Conflict unless the cohort takes applications at ``now``."""
    if now < opens_at:
        raise Conflict(f"applications to this cohort open at {opens_at.isoformat()}")
    if closes_at is not None and now >= closes_at:
        raise Conflict(f"applications to this cohort closed at {closes_at.isoformat()}")


def check_closable(now: datetime, closes_at: datetime | None) -> None:
    """Conflict if the application window has already closed."""
    if closes_at is not None and closes_at <= now:
        raise Conflict(f"applications to this cohort already closed at {closes_at.isoformat()}")


def check_pairing_request(fellows: int, pairs_published_at: datetime | None, kind: str | None = None) -> None:
    """A pairing round needs two enrolled fellows, and none runs once the cohort's pairs are published
    (but in the kinds where people join as they go: there the newcomers fill the places left)."""
    if pairs_published_at is not None and not programmes.kind(kind).reruns_after_publishing:
        raise Conflict("the pairs of this cohort are already published")
    if fellows < 2:
        raise Conflict(f"a pairing round needs at least two enrolled fellows; this cohort has {fellows}")


# --- who may do what ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReadScope:
    """The applications someone may read: all, their organisation's, or their own."""

    everything: bool = False
    organisation_id: uuid.UUID | None = None
    owner_sub: str | None = None

    def allows(self, owner_sub: str, organisation_id: uuid.UUID) -> bool:
        if self.everything:
            return True
        if self.owner_sub is not None:
            return owner_sub == self.owner_sub
        return self.organisation_id is not None and organisation_id == self.organisation_id


def read_scope(role: str, sub: str, organisation_id: uuid.UUID | None) -> ReadScope:
    """Who reads what: the board and admins every application, a sponsor their organisation's
    (none without one), anyone else their own."""
    if role in ("board", "admin"):
        return ReadScope(everything=True)
    if role == "sponsor":
        return ReadScope(organisation_id=organisation_id)
    return ReadScope(owner_sub=sub)


def check_may_withdraw(role: str, sub: str, owner_sub: str) -> None:
    if role != "board" and sub != owner_sub:
        raise Forbidden("only the applicant or the board can withdraw an application")


def applicant_email(claimed: str | None, given: str | None, dev_mode: bool) -> str:
    """The sign-in's e-mail (the body may only repeat it); without one, the body's, in dev mode only."""
    if claimed and given and given.strip().lower() != claimed.strip().lower():
        raise Invalid("email: not the e-mail address your sign-in carries; leave it out or give that one")
    if not claimed and not dev_mode:
        raise Forbidden("your sign-in carries no e-mail address (the token's email claim), so you cannot apply")
    if not (email := claimed or given):
        raise Invalid("email: field required (your sign-in carries no e-mail address)")
    return email


# --- the state machine and its trail --------------------------------------------------------


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


@dataclass(frozen=True)
class Change:
    """One state change as the decision trail records it: who, when, why."""

    action: str
    from_state: str
    to_state: str
    reason: str | None
    decided_by: str
    decided_at: datetime


def change(state: str, action: str, by: str, at: datetime, reason: str | None = None) -> Change:
    """The change ``action`` makes to an application in ``state``, or IllegalTransition."""
    return Change(action, state, transition(state, action), reason, by, at)


class ApplicationFacts(Protocol):
    """What the rules read of an application (a row of the application table fits)."""

    id: uuid.UUID
    cohort_id: uuid.UUID
    organisation_id: uuid.UUID
    email: str
    staff_group: str
    band: str
    availability: list[str]
    interests: list[str]
    role: str
    capacity: int


class OrganisationFacts(Protocol):
    id: uuid.UUID
    code: str
    sector: str
    place: str


DecisionEvent = ev.ApplicationShortlisted | ev.ApplicationWaitlisted | ev.ApplicationDeclined
DECISION_EVENTS: dict[str, type[DecisionEvent]] = {
    "shortlist": ev.ApplicationShortlisted,
    "waitlist": ev.ApplicationWaitlisted,
    "decline": ev.ApplicationDeclined,
}


def decision_event(decision: str, application: ApplicationFacts, organisation_code: str, at: datetime) -> DecisionEvent:
    """The event a board decision causes."""
    return DECISION_EVENTS[decision](
        application_id=application.id,
        cohort_id=application.cohort_id,
        organisation_code=organisation_code,
        decided_at=at,
    )


# --- places: waitlist promotion and enrolment -----------------------------------------------


def frees_a_place(previous_state: str) -> bool:
    """Whether withdrawing an application in this state frees one of the cohort's places."""
    return previous_state in PLACE_HOLDING


def room_for_promotion(places_taken: int, capacity: int) -> bool:
    """Whether the first waitlisted application (in decision order) may move up."""
    return places_taken < capacity


def promotion_reason(withdrawn_id: uuid.UUID) -> str:
    return f"a place was freed by the withdrawal of {withdrawn_id}"


def promoted(
    application: ApplicationFacts, organisation_code: str, withdrawn_id: uuid.UUID, at: datetime
) -> ev.ApplicationShortlisted:
    """The event of a waitlisted application moving up into a freed place."""
    return ev.ApplicationShortlisted(
        application_id=application.id,
        cohort_id=application.cohort_id,
        organisation_code=organisation_code,
        decided_at=at,
        promoted_after_withdrawal_of=withdrawn_id,
    )


def enrolment(shortlisted: int, enrolled: int, capacity: int) -> int:
    """How many of the shortlisted can be enrolled now without going over capacity."""
    return max(0, min(shortlisted, capacity - enrolled))


T = TypeVar("T")


def enrolment_split(shortlisted: Sequence[T], enrolled: int, capacity: int) -> tuple[Sequence[T], Sequence[T]]:
    """The shortlisted (in decision order) who are enrolled now, and those over capacity who wait."""
    room = enrolment(len(shortlisted), enrolled, capacity)
    return shortlisted[:room], shortlisted[room:]


OVER_CAPACITY = "over the cohort's capacity"
AUTO_ENROL = "endorsed by the sponsor in a cohort that enrols endorsed applications at once"


def fellow_enrolled(
    application: ApplicationFacts, organisation: OrganisationFacts, at: datetime, person_key: bytes
) -> ev.FellowEnrolled:
    """What pairing and feedback learn of a new fellow: the organisation, never the e-mail address or
    the interests (free text: those travel on the internal contacts topic)."""
    return ev.FellowEnrolled(
        fellow_id=application.id,
        organisation_id=organisation.id,
        organisation_code=organisation.code,
        enrolled_at=at,
        person_id=person_id(application.email, person_key),
        **view(organisation, "sector place"),
        **view(application, "cohort_id staff_group band availability role capacity"),
    )


def person_id(email: str, key: bytes) -> uuid.UUID:
    """A stable pseudonymous id of a person across cohorts: HMAC-SHA256 of the normalised e-mail
    address under ``key`` (held by this service alone), as a UUIDv8. Without the key nobody can
    recompute it from an address, so a staff list does not re-identify the fellows on the topic."""
    digest = bytearray(hmac.new(key, email.strip().lower().encode(), hashlib.sha256).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80  # version 8: custom (RFC 9562)
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC variant
    return uuid.UUID(bytes=bytes(digest))


# --- retention -------------------------------------------------------------------------------------


def anonymised(application_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """What stays of an application once its personal details are erased: its state, dates,
    organisation, staff group and band (the counts and the decision trail still add up), nothing that
    names or describes the person."""
    placeholder = f"erased-{application_id}"
    return {
        "owner_sub": placeholder,
        "name": "",
        "email": f"{placeholder}@erased.invalid",  # unique per cohort, like any e-mail here
        "job_title": "",
        "statement": "",
        "interests": [],
        "offer": None,
        "wants": [],
        "equality": None,
        "erased_at": now,
    }


# --- erasure on request --------------------------------------------------------------------------

ERASED_BY = "erased"  # who made a change, in the decision trail, when it was the erased person


def withdrawn_on_erasure(state: str) -> bool:
    """Whether erasing its applicant withdraws an application: every open one not yet enrolled (an
    enrolled fellow stays enrolled: their pair and the cohort's counts stand)."""
    return state in OPEN_STATES and state != ENROLLED


def erasure_request(open_ids: Iterable[uuid.UUID], earlier: Iterable[uuid.UUID] | None) -> str:
    """Whether asking to erase a person makes a new erasure (``new``), is the one asked for before
    (``earlier``: it covers every application still under the address, or none is left), or names
    nobody (``unknown``). ``open_ids``: applications still under the address; ``earlier``: the
    applications of the person's latest erasure, if any. A person erased who applied again is new."""
    ids = set(open_ids)
    if earlier is not None and ids <= set(earlier):
        return "earlier"
    return "new" if ids else "unknown"

"""Places per organisation, where a programme caps them (issue 21): pure rules, no I/O.

The board's own decision to shortlist past an organisation's cap is refused (409, with the reason):
the board chooses who takes that organisation's places, so it is told at once and nothing changes; it
may waitlist the application or free one of the organisation's places first. What moves people
without a board decision (auto-enrolment on endorsement, promotion after a withdrawal, enrolment)
never takes an organisation over its cap: the applicant over it waits on the waitlist, and a freed
place goes to the first waitlisted application (in decision order) whose organisation still has room.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

from shared.errors import Conflict, Invalid

OVER_ORGANISATION_PLACES = "over the places one organisation may hold in this cohort"

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def check_cap(places_per_organisation: int | None, capacity: int) -> None:
    """A cohort's cap per organisation is 1 to its capacity, or none."""
    if places_per_organisation is not None and not 1 <= places_per_organisation <= capacity:
        raise Invalid(f"places_per_organisation: from 1 to the cohort's capacity ({capacity}), or left out")


def has_room(held: int, places_per_organisation: int | None) -> bool:
    """Whether an organisation holding ``held`` of the cohort's places may take one more."""
    return places_per_organisation is None or held < places_per_organisation


def check_room(held: int, places_per_organisation: int | None, organisation: str) -> None:
    """Conflict when the board would shortlist past the organisation's cap."""
    if not has_room(held, places_per_organisation):
        raise Conflict(
            f"{organisation} already holds {held} of its {places_per_organisation} place(s) in this cohort: "
            "waitlist this application, or free one of its places first"
        )


def within_cap(
    candidates: Sequence[T], organisation_of: Callable[[T], K], held: Mapping[K, int], cap: int | None
) -> tuple[list[T], list[T]]:
    """The candidates (in decision order) who fit their organisation's cap, given the places each
    organisation already ``held`` besides them, and those over it."""
    taken: dict[K, int] = dict(held)
    fit: list[T] = []
    over: list[T] = []
    for candidate in candidates:
        organisation = organisation_of(candidate)
        if has_room(taken.get(organisation, 0), cap):
            taken[organisation] = taken.get(organisation, 0) + 1
            fit.append(candidate)
        else:
            over.append(candidate)
    return fit, over

"""The programme kinds (DESIGN.md, "Programme kinds"): who takes part in each, how they are matched and
what they do together. Contract knowledge that every service reads the same way; pure, no I/O.

A cohort has a ``kind``; an application a ``role`` that must suit it. In ``shadowing`` and ``mentoring``
one role *hosts* (a sharer's places, a mentor's mentees: its ``capacity``) and the other is matched to
one host each; ``exchange`` and ``paired_learning`` pair fellows (``paired_learning``: a clinician with a
manager, the bipartite mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from shared.errors import Invalid
from shared.events import PairingMode, ProgrammeKind, Role

KIND_NAMES: tuple[str, ...] = get_args(ProgrammeKind)
ROLE_NAMES: tuple[str, ...] = get_args(Role)
DEFAULT_KIND: ProgrammeKind = "exchange"
DEFAULT_ROLE: Role = "fellow"


@dataclass(frozen=True)
class Kind:
    name: ProgrammeKind
    title: str  # what the programme team calls it
    seed: str  # the source document (shared/seeds)
    roles: tuple[Role, ...]  # the roles an application may take
    host: Role | None = None  # the role with places, matched to several of ``guest``
    guest: Role | None = None  # the role matched to one host
    places: tuple[int, int] = (1, 1)  # a host's capacity: least and most
    pairing_modes: tuple[PairingMode, ...] = ("peer", "bipartite")  # the first is the default
    visits_per_match: int = 2  # exchange visits: one hosted by each fellow; shadowing: the sharer hosts one
    reruns_after_publishing: bool = False  # new participants fill the places left; published matches stay

    @property
    def matched_with_capacity(self) -> bool:
        return self.host is not None


def _hosted(
    name: ProgrammeKind, title: str, seed: str, *, guest: Role, host: Role, places: tuple[int, int], visits: int
) -> Kind:
    """A kind in which each ``guest`` is matched to one ``host`` with places: bipartite only, and a run
    after the matches are published fills the places left."""
    return Kind(
        name,
        title,
        seed,
        (guest, host),
        host=host,
        guest=guest,
        places=places,
        pairing_modes=("bipartite",),
        visits_per_match=visits,
        reruns_after_publishing=True,
    )


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("exchange", "Leading Beyond Boundaries exchange", "000", ("fellow",)),
        _hosted("shadowing", "Stepping into my shoes", "004", guest="learner", host="sharer", places=(1, 10), visits=1),
        _hosted(
            "mentoring",
            "Mentoring for diversity / reciprocal mentoring",
            "002, 004",
            guest="mentee",
            host="mentor",
            places=(1, 3),
            visits=0,
        ),
        Kind("paired_learning", "Paired learning", "003", ("fellow",), pairing_modes=("bipartite",)),
    )
}


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def kind(name: str | None) -> Kind:
    """The kind of a cohort (``exchange`` for cohorts made before kinds existed)."""
    return KINDS[name or DEFAULT_KIND]


def cohort_settings(name: str, pairing_mode: PairingMode | None, reciprocal: bool) -> PairingMode:
    """A new cohort's pairing mode (the kind's default when none is given), or Invalid."""
    k = kind(name)
    mode = pairing_mode or k.pairing_modes[0]
    if mode not in k.pairing_modes:
        raise Invalid(f"pairing_mode: {_a(name)} cohort pairs {' or '.join(k.pairing_modes)}, not {mode}")
    if reciprocal and name != "mentoring":
        raise Invalid("reciprocal: only a mentoring cohort can be reciprocal")
    return mode


def check_application(
    cohort_kind: str,
    role: str,
    capacity: int | None,
    has_offer: bool,
    has_wants: bool,
) -> int:
    """What a role brings must suit the cohort's kind; the places the applicant offers (1 for a role
    that hosts nobody), or Invalid with the field and the reason."""
    k = kind(cohort_kind)
    if role not in k.roles:
        raise Invalid(f"role: {_a(k.name)} cohort takes {' or '.join(k.roles)}, not {role}")
    if role == k.host:
        least, most = k.places
        if capacity is None:
            raise Invalid(f"capacity: {_a(role)} says how many people they can take ({least}-{most})")
        if not least <= capacity <= most:
            raise Invalid(f"capacity: {_a(role)} takes {least} to {most}, not {capacity}")
    elif capacity is not None:
        raise Invalid(f"capacity: only {_a(k.host or 'sharer or mentor')} has places")
    if has_offer != (role == "sharer"):
        raise Invalid("offer: a sharer says what they will show" if role == "sharer" else "offer: only a sharer offers")
    if has_wants and role != "learner":
        raise Invalid("wants: only a learner says what they want to see")
    return capacity or 1

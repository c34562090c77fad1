"""Fair shortlisting: who applied to a cohort, in aggregate, as the Programme Board sees it (pure, no
I/O; ``queries.shortlisting`` loads the rows). A rule of the applications domain kept beside it, so
that ``domain.py`` stays the state machine, the cohort's dates and places, and the events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.disclosure import Sum, protect


@dataclass(frozen=True)
class Applicant:
    """One application as the fair-shortlisting view counts it."""

    organisation_code: str
    sector: str
    place: str
    staff_group: str
    state: str
    equality: dict[str, Any] | None


def shortlisting(applicants: Iterable[Applicant]) -> dict[str, Any]:
    """Who applied, in aggregate; equality answers only with consent. Published under disclosure
    control (shared/disclosure.py): every count rounded to 5, small ones hidden, and further cells
    suppressed where the breakdowns' sums (an organisation's sector and place are public) would give a
    hidden one away."""
    by: dict[str, Counter[str]] = {k: Counter() for k in BREAKDOWNS}
    equality: dict[str, Counter[str]] = {}
    sector_of: dict[str, str] = {}
    place_of: dict[str, str] = {}
    consented = total = 0
    for a in applicants:
        total += 1
        sector_of[a.organisation_code], place_of[a.organisation_code] = a.sector, a.place
        for breakdown, value in zip(
            BREAKDOWNS, (a.organisation_code, a.sector, a.place, a.staff_group, a.state), strict=True
        ):
            by[breakdown][value] += 1
        if a.equality and a.equality.get("consent") is True:
            consented += 1
            for key, value in a.equality.items():
                if key != "consent" and isinstance(value, str | int | bool):
                    equality.setdefault(key, Counter())[str(value)] += 1
    counts = {"applications": total, "consented": consented}
    counts |= {f"{k}:{v}": n for k, c in by.items() for v, n in c.items()}
    counts |= {f"equality:{q}:{v}": n for q, c in equality.items() for v, n in c.items()}
    sums = [Sum("applications", tuple(f"{k}:{v}" for v in c)) for k, c in by.items()]
    for breakdown, of in (("sector", sector_of), ("place", place_of)):
        for group in by[breakdown]:
            members = tuple(f"organisation:{o}" for o, g in of.items() if g == group)
            sums.append(Sum(f"{breakdown}:{group}", members))
    sums.append(Sum("applications", ("consented",), exact=False))
    sums += [Sum("consented", tuple(f"equality:{q}:{v}" for v in c), exact=False) for q, c in equality.items()]
    shown = protect(counts, sums)
    return {
        "applications": shown["applications"],
        **{f"by_{k}": {v: shown[f"{k}:{v}"] for v in sorted(c)} for k, c in by.items()},
        "equality": {
            "consented": shown["consented"],
            "by_question": {q: {v: shown[f"equality:{q}:{v}"] for v in sorted(c)} for q, c in sorted(equality.items())},
        },
        "disclosure": DISCLOSURE_NOTE,
    }


BREAKDOWNS = ("organisation", "sector", "place", "staff_group", "state")
DISCLOSURE_NOTE = (
    "counts are rounded to the nearest 5; 1 to 4 are shown as '<5'; 'suppressed' marks a count hidden "
    "because it would give a small one away"
)

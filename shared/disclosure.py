"""Disclosure control for published counts: nobody is singled out, by a cell or by subtraction.

Every count is **rounded to the nearest 5** (0 stays 0), and a count from 1 to 4 is **suppressed**
(shown as ``"<5"``). Totals are rounded like any other cell, so a hidden cell is not simply the total
minus the cells shown. Rounding alone does not always hide it: the published tables are linked (the
total is the sum of each breakdown; a sector's count is the sum of its organisations', which are
public), and at the edges of the rounding intervals those sums can pin a hidden cell to one value.
So before publishing, ``protect`` works out what an outsider can derive from everything published
(interval propagation over the sums, which is exact for these linked sums) and, while a hidden cell
is pinned, **suppresses a further cell** (secondary suppression): the smallest visible one in a sum
that pins it, shown as ``"suppressed"``.

``tests/shared/test_disclosure.py`` checks ``protect`` against an exhaustive solver on random tables:
no hidden count is ever recovered.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

BASE = 5
HIDDEN = f"<{BASE}"  # a count from 1 to BASE - 1
SUPPRESSED = "suppressed"  # a count hidden because it would reveal another
Shown = int | str

# How far the true value may be from a rounded one: 8 to 12 are shown as 10.
_HALF = BASE // 2


def rounded(n: int) -> Shown:
    """What a count is shown as: 0, ``"<5"`` for 1 to 4, otherwise the nearest multiple of 5."""
    if n < 0:
        raise ValueError("a count cannot be negative")
    if n == 0:
        return 0
    if n < BASE:
        return HIDDEN
    return BASE * math.floor(n / BASE + 0.5)


def bounds(shown: Shown) -> tuple[int, float]:
    """The true values a shown count may stand for (the upper bound may be infinite)."""
    if shown == HIDDEN:
        return 1, BASE - 1
    if shown == SUPPRESSED:
        return 0, math.inf
    assert isinstance(shown, int)
    if shown == 0:
        return 0, 0
    return max(BASE, shown - _HALF), shown + _HALF


@dataclass(frozen=True)
class Sum:
    """What an outsider knows of the published cells: ``total`` is the sum of ``parts`` (or at least
    that sum, when ``exact`` is False: a consented answer to one question of several, say)."""

    total: str
    parts: tuple[str, ...]
    exact: bool = True


def derivable(shown: Mapping[str, Shown], sums: Iterable[Sum]) -> dict[str, tuple[float, float]]:
    """The range of true values each cell can be narrowed to from what is shown and the sums."""
    ranges: dict[str, tuple[float, float]] = {k: bounds(v) for k, v in shown.items()}
    sums = [s for s in sums if s.total in ranges and all(p in ranges for p in s.parts)]
    changed = True
    while changed:
        changed = False
        for s in sums:
            lo_parts = sum(ranges[p][0] for p in s.parts)
            hi_parts = sum(ranges[p][1] for p in s.parts)
            t_lo, t_hi = ranges[s.total]
            # the total: at least the parts' least; exactly their sum when exact
            new_total = (max(t_lo, lo_parts), min(t_hi, hi_parts) if s.exact else t_hi)
            changed |= _narrow(ranges, s.total, new_total)
            t_lo, t_hi = ranges[s.total]
            for p in s.parts:
                p_lo, p_hi = ranges[p]
                others_lo = lo_parts - p_lo
                others_hi = hi_parts - p_hi
                upper = t_hi - others_lo
                lower = t_lo - others_hi if s.exact else -math.inf
                changed |= _narrow(ranges, p, (max(p_lo, lower), min(p_hi, upper)))
                lo_parts = sum(ranges[q][0] for q in s.parts)
                hi_parts = sum(ranges[q][1] for q in s.parts)
    return ranges


def _narrow(ranges: dict[str, tuple[float, float]], key: str, new: tuple[float, float]) -> bool:
    if new == ranges[key]:
        return False
    if new[0] > new[1]:
        raise ValueError(f"the published counts contradict each other at {key}")
    ranges[key] = new
    return True


def pinned(shown: Mapping[str, Shown], sums: Iterable[Sum]) -> list[str]:
    """The hidden or suppressed cells whose true value can be derived exactly."""
    ranges = derivable(shown, sums)
    return [k for k, v in shown.items() if v in (HIDDEN, SUPPRESSED) and ranges[k][0] == ranges[k][1]]


def protect(
    counts: Mapping[str, int], sums: Iterable[Sum] = (), published: Mapping[str, Shown] | None = None
) -> dict[str, Shown]:
    """The counts as they may be published: rounded, small ones hidden, and further cells suppressed
    until no hidden count can be derived from the sums an outsider knows. ``published``: cells already
    published elsewhere as shown there (a cohort's own report beside a programme's): they start as
    that, so what was suppressed there stays suppressed here, and more may be."""
    sums = list(sums)
    shown: dict[str, Shown] = {k: rounded(n) for k, n in counts.items()} | dict(published or {})
    while revealed := pinned(shown, sums):
        target = revealed[0]
        around = [s for s in sums if target == s.total or target in s.parts]
        candidates = [k for s in around for k in (s.total, *s.parts) if isinstance(shown.get(k), int) and shown[k] != 0]
        if not candidates:  # every cell around it is hidden already ("<5" pins 1 to 4 cells that add up
            # to a small total): widen a total around it, else another cell, from "<5" to "suppressed"
            candidates = [s.total for s in around if shown.get(s.total) == HIDDEN] or [
                k for s in around for k in s.parts if k != target and shown.get(k) == HIDDEN
            ]
        if not candidates:  # nothing left to hide around it: hide the cell's every sum
            candidates = [k for k, v in shown.items() if isinstance(v, int) and v != 0]
        if not candidates:
            break
        smallest = min(candidates, key=lambda k: (counts[k], k))
        shown[smallest] = SUPPRESSED
    return shown


def rate(numerator: Shown, denominator: Shown, digits: int = 2) -> float | None:
    """A rate from published counts only (never from the true ones, which it would reveal); none
    when either is hidden or the base is under 5."""
    if not isinstance(numerator, int) or not isinstance(denominator, int) or denominator < BASE:
        return None
    return round(numerator / denominator, digits)

"""Disclosure control cannot be undone: an exhaustive solver tries every true table consistent with
what is published (each shown count's interval and every sum an outsider knows) and recovers no
hidden count."""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping

import pytest

from shared.disclosure import HIDDEN, SUPPRESSED, Shown, Sum, bounds, pinned, protect, rate, rounded
from tests.conftest import finding


def test_counts_are_rounded_to_five_and_small_ones_hidden() -> None:
    assert [rounded(n) for n in (0, 1, 4, 5, 7, 8, 12, 13, 102)] == [0, HIDDEN, HIDDEN, 5, 5, 10, 10, 15, 100]
    assert bounds(5) == (5, 7) and bounds(10) == (8, 12) and bounds(HIDDEN) == (1, 4)


def test_a_hidden_cell_that_a_rounded_total_would_pin_is_protected_by_a_further_suppression() -> None:
    # 7 + 7 + 4 = 18: shown 5, 5, <5 and 20. The others are at most 7 each and the total at least 18,
    # so the hidden cell must be 4: the smallest visible cell of that sum is suppressed as well.
    counts = {"total": 18, "a": 7, "b": 7, "c": 4}
    sums = [Sum("total", ("a", "b", "c"))]
    naive = {k: rounded(n) for k, n in counts.items()}
    assert pinned(naive, sums) == ["c"]
    shown = protect(counts, sums)
    assert pinned(shown, sums) == [] and list(shown.values()).count(SUPPRESSED) == 1
    assert recovered(counts, shown, sums) == {}


def test_rates_come_from_the_published_counts_only() -> None:
    assert rate(5, 5) == 1.0 and rate(HIDDEN, 10) is None and rate(5, HIDDEN) is None and rate(0, 0) is None


# --- the exhaustive solver ----------------------------------------------------------------------


def recovered(
    true: Mapping[str, int], shown: Mapping[str, Shown], sums: list[Sum], *, exact_numbers: bool = False
) -> dict[str, int]:
    """Every hidden or suppressed cell whose value is the same in every true table consistent with
    what is shown: what an outsider recovers. Leaves (cells that are no sum's total) are enumerated
    over their whole interval; totals follow from them and must fall inside theirs. With
    ``exact_numbers`` a shown number means exactly itself (no rounding)."""

    def interval(v: Shown) -> tuple[float, float]:
        return (v, v) if exact_numbers and isinstance(v, int) else bounds(v)

    totals = {s.total for s in sums}
    leaves = [k for k in shown if k not in totals]
    cap = 3 * max(true.values()) + 10  # a suppressed cell's interval, made finite for the search
    domains = [range(int(lo), int(min(hi, cap)) + 1) for lo, hi in (interval(shown[k]) for k in leaves)]
    feasible: dict[str, set[int]] = {k: set() for k, v in shown.items() if v in (HIDDEN, SUPPRESSED)}
    for values in itertools.product(*domains):
        cell = dict(zip(leaves, values, strict=True))
        if not _consistent(cell, sums, {k: interval(v) for k, v in shown.items()}):
            continue
        for k in feasible:
            feasible[k].add(cell[k])
    assert all(feasible.values()) or not feasible, "the true table itself must be consistent"
    return {k: next(iter(v)) for k, v in feasible.items() if len(v) == 1}


def _consistent(cell: dict[str, int], sums: list[Sum], intervals: Mapping[str, tuple[float, float]]) -> bool:
    """Complete ``cell`` with the totals its leaves imply (inner sums first) and check every sum and
    every cell's interval."""
    waiting = list(sums)
    while waiting:
        ready = [s for s in waiting if all(p in cell for p in s.parts)]
        if not ready:
            return False
        for s in ready:
            waiting.remove(s)
            parts = sum(cell[p] for p in s.parts)
            if s.total not in cell:
                if not s.exact:
                    return False  # an inexact total is a leaf, enumerated with the others
                cell[s.total] = parts
            elif (cell[s.total] != parts) if s.exact else (cell[s.total] < parts):
                return False
    return all(intervals[k][0] <= v <= intervals[k][1] for k, v in cell.items())


def random_tables(rng: random.Random) -> tuple[dict[str, int], list[Sum]]:
    """Applications of one cohort: a few organisations in two sectors (the organisations' sectors are
    public), and the same total split by staff group. Small numbers on purpose: one or two large
    organisations and several small ones, as in an ICS."""
    organisations = [f"org{i}" for i in range(rng.randint(2, 4))]
    counts = {o: rng.choice([rng.randint(0, 4), rng.randint(0, 4), rng.randint(5, 14)]) for o in organisations}
    sectors = {"sector:acute": organisations[:1], "sector:other": organisations[1:]}
    for sector, members in sectors.items():
        counts[sector] = sum(counts[o] for o in members)
    counts["total"] = sum(counts[o] for o in organisations)
    clinical = rng.randint(0, counts["total"])
    counts |= {"clinical": clinical, "non_clinical": counts["total"] - clinical}
    sums = [Sum(s, tuple(m)) for s, m in sectors.items()]
    sums += [Sum("total", tuple(sectors)), Sum("total", ("clinical", "non_clinical"))]
    return counts, sums


TALLY = {"tables": 0, "hidden": 0, "suppressed": 0, "recovered": 0, "recovered_without_secondary": 0}


@pytest.mark.parametrize("seed", range(150))
def test_no_hidden_count_is_recovered_from_the_published_tables_and_their_margins(seed: int) -> None:
    counts, sums = random_tables(random.Random(seed))
    shown = protect(counts, sums)
    found = recovered(counts, shown, sums)
    naive = {k: rounded(n) for k, n in counts.items()}
    naive_found = recovered(counts, naive, sums)
    TALLY["tables"] += 1
    TALLY["hidden"] += sum(v in (HIDDEN, SUPPRESSED) for v in shown.values())
    TALLY["suppressed"] += sum(v == SUPPRESSED for v in shown.values())
    TALLY["recovered"] += len(found)
    TALLY["recovered_without_secondary"] += len(naive_found)
    finding(
        "disclosure control: exhaustive derivation over published tables and margins",
        "tally",
        f"{TALLY['tables']} cohorts' tables read, {TALLY['hidden']} hidden cells, of which "
        f"{TALLY['suppressed']} by secondary suppression; hidden counts recovered: {TALLY['recovered']} "
        f"(with rounding alone, no secondary suppression: {TALLY['recovered_without_secondary']})",
    )
    assert found == {}, (counts, shown)
    # and suppression is not overdone: without it, the same search finds what it protects against
    if shown != naive:
        assert naive_found or pinned(naive, sums), (counts, naive)


def test_the_solver_finds_what_the_old_publication_gave_away() -> None:
    """The solver can fail: exact counts beside a hidden one (how cohorts were published before)
    give it away by subtraction."""
    counts = {"total": 9, "a": 6, "b": 3}
    leaky: dict[str, Shown] = {"total": 9, "a": 6, "b": HIDDEN}
    assert recovered(counts, leaky, [Sum("total", ("a", "b"))], exact_numbers=True) == {"b": 3}
    assert recovered(counts, protect(counts, [Sum("total", ("a", "b"))]), [Sum("total", ("a", "b"))]) == {}


def test_four_small_parts_under_a_small_total_are_not_each_pinned_to_one() -> None:
    """Four ratings of four different scores: the total 4 and every part 1 are all "<5", and four
    parts of at least 1 under a total of at most 4 are each exactly 1; the total is widened to
    "suppressed" (it could be anything), so no part is pinned."""
    counts = {"ratings": 4, "1": 1, "2": 1, "3": 1, "4": 1, "5": 0}
    sums = [Sum("ratings", ("1", "2", "3", "4", "5"))]
    assert pinned({k: rounded(n) for k, n in counts.items()}, sums) == ["ratings", "1", "2", "3", "4"]
    shown = protect(counts, sums)
    assert shown["ratings"] == SUPPRESSED and [shown[k] for k in "1234"] == [HIDDEN] * 4
    assert pinned(shown, sums) == []

"""Pricing's shortcuts against the plain computation: scans that read only the fellows whose prices fell,
scores kept or scored again, the tie-broken warm solves, the cap on a crowded row. Pure: no stack needed."""

from __future__ import annotations

import numpy as np
import pytest

from bench import synthetic
from services.pairing import matching, pricing, relaxation, scoring
from services.pairing.domain import Weights
from tests.pairing.test_optimality import rustworkx_total

WEIGHTS = Weights()


def mixed_cohort(n: int, mix: str, mode: str, seed: int = 1) -> scoring.Cohort:
    fellows, earlier, forbidden, _ = synthetic.mixed(n, synthetic.MIXES[mix], seed)
    return scoring.encode(fellows, mode, WEIGHTS, earlier, forbidden)


@pytest.mark.parametrize("mode", ["peer", "bipartite"])
def test_the_rows_of_chosen_fellows_are_those_rows_of_the_whole_matrix(mode: str) -> None:
    fellows, earlier = synthetic.cohort(150, 3, earlier_share=0.5)
    forbidden = [frozenset({a.id, b.id}) for a, b in zip(fellows[::7], fellows[3::7], strict=False)]
    cohort = scoring.encode(fellows, mode, WEIGHTS, earlier, forbidden)
    w = cohort.rows(0, cohort.n)
    assert cohort.history.size and cohort.forbidden.size
    at = np.array([0, 5, 6, 40, 77, 149], dtype=np.int64)
    assert (cohort.rows(0, 0, at=at) == w[at]).all()
    cols = np.arange(1, cohort.n, 4, dtype=np.int64)
    assert (cohort.rows(0, 0, cols, at=at) == w[at][:, cols]).all()
    assert (cohort.rows(0, 0, slice(30, 90), at=at) == w[at, 30:90]).all()


def violated(found: relaxation.Edges) -> set[int]:
    return set(found.code.tolist())


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("mode", ["peer", "bipartite"])
@pytest.mark.parametrize("mix", ["even", "45%"])
def test_a_scan_of_the_fellows_whose_prices_fell_finds_every_violated_pair(
    monkeypatch: pytest.MonkeyPatch, mix: str, mode: str, keep: bool
) -> None:
    """After a re-solve, every pair that beats the new prices (and is not in the candidate graph) has a
    fellow whose price fell: the partial scan finds exactly what the full scan finds (no cap), in blocks
    of a few rows, the scores kept or scored again."""
    monkeypatch.setattr(scoring, "BLOCK_ELEMENTS", 5000)
    monkeypatch.setattr(pricing, "KEEP_BYTES", 1 << 30 if keep else 0)
    cohort = mixed_cohort(500, mix, mode)
    edges = relaxation.candidates(cohort, 1)
    y2, _, warm = relaxation.duals(cohort.n, edges)
    scores = pricing.Scores(cohort)
    assert (scores.kept is not None) == keep and len(scores.blocks) > 5
    checked = 0
    touched = None
    for _ in range(6):
        found, pool, fixed, left_out = pricing.scan(scores, y2, matching.POOL_SLACK, 0, touched)
        assert not left_out.any()
        if touched is not None:
            full, _, full_fixed, _ = pricing.scan(pricing.Scores(cohort), y2, matching.POOL_SLACK)
            assert violated(found) == violated(full)
            assert (full_fixed == y2).all() == (fixed == y2).all()
            checked += 1
        if not found.code.size:
            break
        edges.add(*pool.ends, pool.weight)
        last = y2
        y2, _, warm = relaxation.duals(cohort.n, edges, warm)
        touched = y2 < last
        assert touched.sum() < cohort.n
    assert checked >= 1


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("mode", ["peer", "bipartite"])
def test_the_final_prices_cover_every_pair_of_the_cohort(
    monkeypatch: pytest.MonkeyPatch, mode: str, keep: bool
) -> None:
    """From a poor first guess (one candidate a fellow), several partial scans later: the prices cover
    every pair of the full matrix and the total is rustworkx's, proven."""
    monkeypatch.setattr(scoring, "BLOCK_ELEMENTS", 20000)
    monkeypatch.setattr(pricing, "KEEP_BYTES", 1 << 30 if keep else 0)
    for mix in ("even", "40%"):
        cohort = mixed_cohort(400, mix, mode, seed=2)
        solution = matching.solve(cohort, k=1)
        assert solution.pricing_rounds > 2
        w = cohort.rows(0, cohort.n).astype(np.int64)
        y2 = solution.prices
        assert (y2[:, None] + y2[None, :] >= 2 * w).all()
        assert solution.optimal and solution.weight == rustworkx_total(cohort) == int(solution.bound)


@pytest.mark.parametrize("mode", ["peer", "bipartite"])
def test_every_violated_pair_the_cap_leaves_out_has_a_fellow_read_again(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Crowded rows keep a few of their pairs; a violated pair left out (below the row's level or past its
    cap) must name one of its fellows for the next scan, or a later scan that reads only the fellows whose
    prices fell could miss it. The raised prices cover every pair either way."""
    monkeypatch.setattr(scoring, "BLOCK_ELEMENTS", 20000)
    cohort = mixed_cohort(300, "45%", mode)
    n = cohort.n
    w = cohort.rows(0, n).astype(np.int64)
    rng = np.random.default_rng(3)
    edges = relaxation.candidates(cohort, 1)
    solved, _, _ = relaxation.duals(n, edges)
    some = rng.random(n) < 0.3
    for y2, touched in (
        (np.zeros(n, dtype=np.int64), None),
        (rng.integers(0, 2 * int(w.max()), n), None),
        (solved, None),
        (solved, some),
    ):
        found, pool, fixed, left_out = pricing.scan(pricing.Scores(cohort), y2, matching.POOL_SLACK, 4, touched)
        beaten = np.triu((2 * w > y2[:, None] + y2[None, :]) & (w > 0), 1)
        if touched is not None:
            beaten &= touched[:, None] | touched[None, :]
        i, j = np.nonzero(beaten)
        pooled = np.isin(i * n + j, pool.code)
        assert pooled.any() and not pooled.all()  # the cap left some out
        assert (left_out[i[~pooled]] | left_out[j[~pooled]]).all()
        assert violated(found) == set((i[pooled] * n + j[pooled]).tolist())
        if touched is None:
            assert (fixed[:, None] + fixed[None, :] >= 2 * w).all()


def test_a_tie_broken_solve_whose_prices_do_not_settle_is_solved_again(monkeypatch: pytest.MonkeyPatch) -> None:
    cohort = mixed_cohort(300, "40%", "peer")
    edges = relaxation.candidates(cohort, 2)
    _, _, warm = relaxation.duals(cohort.n, edges)
    more = relaxation.candidates(cohort, 6)
    edges.add(*more.ends, more.weight)
    y2, sigma, _ = relaxation.duals(cohort.n, edges, warm)
    monkeypatch.setattr(relaxation, "SETTLE", 0)  # the tie-broken assignment is never taken as it is
    again, sigma_again, _ = relaxation.duals(cohort.n, edges, warm)
    cold, _, _ = relaxation.duals(cohort.n, edges)
    assert y2.sum() == again.sum() == cold.sum()
    weight = dict(zip(edges.code.tolist(), edges.weight.tolist(), strict=True))

    def cover_weight(s: relaxation.Ints) -> int:
        n = cohort.n
        return sum(weight.get(min(a, b) * n + max(a, b), 0) for a, b in enumerate(s.tolist()))

    assert cover_weight(sigma) == cover_weight(sigma_again)


def test_a_crowded_row_keeps_its_most_violated_pairs_and_says_when_a_violated_one_is_left_out() -> None:
    i = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2], dtype=np.int64)
    j = np.array([5, 6, 7, 8, 5, 9, 1, 3, 4], dtype=np.int64)
    d = np.array([-10, 30, 30, 5, 0, -1, 7, -3, -50], dtype=np.int16)
    ki, kj, dropped = pricing.most_violated(i, j, d, 100, 2)
    assert sorted(zip(ki.tolist(), kj.tolist(), strict=True)) == [(0, 6), (0, 7), (1, 5), (1, 9), (2, 1), (2, 3)]
    assert dropped.tolist() == [0]  # row 0 left (0, 8) out, which beats its prices; row 2 only near ones

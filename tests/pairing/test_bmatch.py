"""The capacity matcher's compiled kernels on their own (``services/pairing/bmatch.py`` and
``matrix_kernels.py``): the b-matching against OR-tools' min-cost flow from scratch and warm-started, its
duals as a certificate, and the scan against the same arithmetic in numpy. Pure."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from bench import capacity as bench
from services.pairing import bmatch, capacity, matrix_kernels
from services.pairing.assignment import NONE, kept_scores, masked_scores
from services.pairing.domain import Fellow, Weights
from tests.pairing.test_capacity import ortools_best

Ints = np.ndarray


def solve(
    w: np.ndarray, cap: np.ndarray, big: int, warm: tuple[Ints, Ints, Ints] | None = None
) -> tuple[Ints, Ints, Ints]:
    n_l, n_s = w.shape
    i, j = np.nonzero(w)
    ptr = np.searchsorted(i, np.arange(n_l + 1)).astype(np.int64)
    if warm is None:
        mate, u, v = np.full(n_l, -1, dtype=np.int64), np.zeros(n_l, dtype=np.int64), np.zeros(n_s, dtype=np.int64)
    else:
        mate, u, v = (x.copy() for x in warm)
    bmatch.solve(ptr, j.astype(np.int64), w[i, j] + big, cap, mate, u, v, warm is not None)
    return mate, u, v


def certified(w: np.ndarray, cap: np.ndarray, big: int, mate: Ints, u: Ints, v: Ints) -> tuple[int, int]:
    """The placement keeps the rules and the duals prove it optimal for the weights ``w + big``."""
    placed = np.flatnonzero(mate >= 0)
    assert (w[placed, mate[placed]] > 0).all()
    assert (np.bincount(mate[placed], minlength=cap.size) <= cap).all()
    assert (u >= 0).all() and (v >= 0).all()
    allowed = w > 0
    assert (u[:, None] + v[None, :] >= np.where(allowed, w + big, 0)).all()
    total = int(w[placed, mate[placed]].sum())
    assert int(u.sum() + (cap * v).sum()) == total + big * placed.size
    return placed.size, total


def instances(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Small cohorts with many ties (weights of a few levels), some pairs not allowed, capacities 1-3:
    places fewer than learners as often as more."""
    rng = np.random.default_rng(seed)
    made = []
    for _ in range(count):
        n_l, n_s = int(rng.integers(1, 30)), int(rng.integers(1, 9))
        w = (rng.integers(1, 6, (n_l, n_s)) * 100 + 100).astype(np.int64)
        w[rng.random((n_l, n_s)) < rng.random()] = 0
        made.append((w, rng.integers(1, 4, n_s).astype(np.int64)))
    return made


@pytest.mark.parametrize("seed", range(4))
def test_from_scratch_the_or_tools_optimum_with_duals_that_prove_it(seed: int) -> None:
    for w, cap in instances(150, seed):
        big = w.shape[0] * int(w.max(initial=0)) + 1
        assert certified(w, cap, big, *solve(w, cap, big)) == ortools_best(w, list(cap))


@pytest.mark.parametrize("seed", range(4))
def test_warm_started_after_pairs_are_added(seed: int) -> None:
    """Solved on half the pairs, then the rest added (as pricing does): the optimum of all of them."""
    rng = np.random.default_rng(100 + seed)
    for w, cap in instances(150, 50 + seed):
        big = w.shape[0] * int(w.max(initial=0)) + 1
        first = np.where(rng.random(w.shape) < 0.5, w, 0)
        earlier = solve(first, cap, big)
        certified(first, cap, big, *earlier)
        assert certified(w, cap, big, *solve(w, cap, big, warm=earlier)) == ortools_best(w, list(cap))


def test_the_scan_prices_every_row_as_numpy_does() -> None:
    rng = np.random.default_rng(7)
    n_l, n_s, big, slack, point, per_row = 300, 40, 10_000, 200, 100, 4
    w = (rng.integers(1, 30, (n_l, n_s)) * 100).astype(np.int64)
    w[rng.random((n_l, n_s)) < 0.3] = 0
    masked = np.where(w > 0, w, NONE).astype(np.int32)
    free = rng.random(n_l) < 0.9
    open_ = rng.random(n_s) < 0.8
    u = rng.integers(0, 3 * big, n_l).astype(np.int64)
    v = rng.integers(0, 2 * big, n_s).astype(np.int64)
    ends = np.empty((3, n_l * per_row), dtype=np.int64)
    cover, reachable = np.zeros(n_l, dtype=np.int64), np.zeros(n_l, dtype=bool)
    got = matrix_kernels.scan_rows(
        masked, 0, NONE, free, open_, u, v, big, slack, point, per_row, (ends[0], ends[1], ends[2]), cover, reachable
    )
    li, si, wi = ends[:, :got]
    d = np.where((w > 0) & open_[None, :], w - v[None, :], np.iinfo(np.int64).min // 4)
    row_best = d.max(axis=1)
    assert (reachable == (w > 0).any(axis=1)).all()
    some = (d > np.iinfo(np.int64).min // 4).any(axis=1)
    assert (cover == np.where(free, np.where(some, np.maximum(u, row_best + big), u), 0)).all()
    assert (wi == w[li, si]).all() and free[li].all() and open_[si].all()
    assert (np.bincount(li, minlength=n_l) <= per_row).all()
    beats = free & some & (row_best + big > u)
    assert beats.any() and not beats.all()
    assert set(li.tolist()) == set(np.flatnonzero(beats).tolist())  # a row whose pairs keep to their prices: none
    for lo in np.flatnonzero(beats).tolist():  # a row with a pair beating its prices brings its best one
        mine = si[li == lo]
        assert mine.size and (w[lo, mine] - v[mine]).max() == row_best[lo]
        assert (w[lo, mine] - v[mine] >= max(row_best[lo] - point, u[lo] - big - slack + 1)).all()


def test_each_sharers_best_learners() -> None:
    rng = np.random.default_rng(3)
    w = (rng.integers(1, 50, (200, 30)) * 100).astype(np.int64)
    w[rng.random(w.shape) < 0.4] = 0
    masked = np.where(w > 0, w, NONE).astype(np.int32)
    li, si, wi = matrix_kernels.column_tops(masked, NONE, 5)
    assert (wi == w[li, si]).all()
    for s in range(30):
        mine = np.sort(wi[si == s])[::-1]
        assert (mine == np.sort(w[:, s][w[:, s] > 0])[::-1][:5]).all()


@pytest.mark.parametrize("interests", [5, 20, 80])  # one word of interest bits, or two
def test_kept_scores_are_the_cohorts_own(interests: int) -> None:
    """The compiled learners x sharers weights equal ``Cohort.rows`` masked: profiles, shared interests,
    earlier pairings, conflicts and organisations."""
    learners, sharers, _, earlier, forbidden = bench.cohort(300, 60, 5, 0.4, seed=interests)
    names = [f"interest {k}" for k in range(interests)]
    rng = np.random.default_rng(interests)

    def wanting(f: Fellow) -> Fellow:
        return dataclasses.replace(f, interests=frozenset(rng.choice(names, size=3, replace=False).tolist()))

    learners, sharers = [wanting(f) for f in learners], [wanting(f) for f in sharers]
    cohort, _, _ = capacity.encode(learners, sharers, Weights(), earlier, forbidden)
    n_l = len(learners)
    expected = masked_scores(cohort.rows(0, n_l, slice(n_l, cohort.n)))
    assert (kept_scores(cohort, n_l) == expected).all()
    assert (expected == NONE).any() and cohort.history.size and cohort.forbidden.size
    assert len(cohort.interests) == (2 if interests > 64 else 1)


def test_imports_where_numba_cannot_keep_its_cache() -> None:
    """The image's file system is read-only: with nowhere to write its cache numba refuses ``cache=True``
    at import; bmatch then compiles in each process instead. (No locator but IPython's stands in for it.)"""
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "IPythonCacheLocator"}
    probe = "from services.pairing import bmatch; print(bmatch.CACHE)"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert bmatch.CACHE  # here, the worktree's __pycache__ can be written

"""Alternatives' losses against brute force: every matching of tiny cohorts enumerated, the
optimum taken as the matcher takes it (the most pairs, then the most weight). Pure: no stack needed."""

from __future__ import annotations

import dataclasses
import random
import uuid

import numpy as np
import pytest

from bench import synthetic
from services.pairing import alternatives, forcing, scoring
from services.pairing.domain import Weights

WEIGHTS = Weights()


def matchings(n: int, w: np.ndarray) -> list[tuple[tuple[int, int], ...]]:
    """Every matching of the allowed graph (pairs with a positive weight): the lowest free fellow stays
    alone or pairs with each allowed partner, recursively."""
    found: list[tuple[tuple[int, int], ...]] = []

    def grow(free: tuple[int, ...], pairs: tuple[tuple[int, int], ...]) -> None:
        if not free:
            found.append(pairs)
            return
        a, rest = free[0], free[1:]
        grow(rest, pairs)
        for k, b in enumerate(rest):
            if w[a, b] > 0:
                grow(rest[:k] + rest[k + 1 :], (*pairs, (a, b)))

    grow(tuple(range(n)), ())
    return found


def optima(n: int, w: np.ndarray) -> tuple[tuple[int, int], dict[tuple[int, int], tuple[int, int]]]:
    """(pairs, weight) of the best matching, lexicographically, and of the best one holding each pair."""
    top = (0, 0)
    forced: dict[tuple[int, int], tuple[int, int]] = {}
    for m in matchings(n, w):
        value = (len(m), sum(int(w[a, b]) for a, b in m))
        top = max(top, value)
        for pair in m:
            forced[pair] = max(forced.get(pair, value), value)
    return top, forced


def tiny(seed: int) -> tuple[scoring.Cohort, np.ndarray]:
    """A cohort of 4 to 11 fellows (odd ones too), a third bipartite, some with a dominant organisation
    (so that forcing a pair can leave someone alone), and its full weight matrix."""
    rng = random.Random(seed)
    n = rng.randint(4, 11)
    mode = "bipartite" if seed % 3 == 0 else "peer"
    fellows, earlier = synthetic.cohort(n, seed)
    if seed % 4 == 1:  # most of the cohort from one organisation
        fellows = [
            dataclasses.replace(f, organisation_id=fellows[0].organisation_id) if k % 3 else f
            for k, f in enumerate(fellows)
        ]
    ids = [f.id for f in fellows]
    forbidden = [frozenset(rng.sample(ids, 2)) for _ in range(seed % 3)]
    cohort = scoring.encode(fellows, mode, WEIGHTS, earlier, forbidden)
    return cohort, cohort.rows(0, n).astype(np.int64)


@pytest.mark.parametrize("seed", range(30))
def test_every_loss_equals_brute_force_on_tiny_cohorts(seed: int) -> None:
    """The losses from the prices' shortest paths (any reach: a small one makes them search wider or
    solve again) and from solving again, against every matching."""
    cohort, w = tiny(seed)
    n = cohort.n
    (top_pairs, top_weight), forced = optima(n, w)
    checked = 0
    for reach in (0, forcing.REACH, 100 * forcing.REACH):
        found = alternatives.Forcing(cohort)
        if found.residual is not None:
            found.residual = forcing.Residual(found.solved, found.full_mates, found.prices, reach)
        assert (found.base.pairs, found.base.weight) == (top_pairs, top_weight)
        for f in range(n):
            for v in range(n):
                if v == f or not w[f, v]:
                    continue
                pairs, weight = forced[min(f, v), max(f, v)]
                lost, points, exact = found.loss(f, v)
                assert exact and (lost, points) == (top_pairs - pairs, top_weight - weight), (reach, f, v)
                checked += 1
        # the best partners: the least loss (pairs first), ties the heavier pair, then the lower index
        for f in range(n):
            v, _ = found.allowed(f)
            ranked = sorted(v.tolist(), key=lambda x: (*found.loss(f, x)[:2], -int(w[f, x]), x))
            assert [x for x, _ in found.best(f)] == ranked[: alternatives.COUNT]
    assert checked or not w.any()


def test_the_shortest_paths_prove_most_losses_without_solving_again() -> None:
    fellows, earlier = synthetic.cohort(200, 3)
    cohort = scoring.encode(fellows, "peer", WEIGHTS, earlier)
    found = alternatives.Forcing(cohort)
    assert found.residual is not None
    for f in range(cohort.n):
        found.best(f)
    assert len(found.known) >= 5 * cohort.n // 2 and found.solved_again <= len(found.known) // 50
    # spot checks against solving again
    for (f, v), (lost, points, exact) in list(found.known.items())[::40]:
        [(loss, pairs_lost, _)] = alternatives.losses(cohort, f, [v], found.base, found.mates)
        assert exact and pairs_lost == lost and loss == pytest.approx(found.board_loss((lost, points, exact)))


def test_above_the_exact_size_the_loss_is_an_upper_bound() -> None:
    fellows, earlier = synthetic.cohort(8, 4)
    cohort = scoring.encode(fellows, "peer", WEIGHTS, earlier)
    base, mates = alternatives.optimum(cohort)
    for f in range(cohort.n):
        chosen = [v for v in range(cohort.n) if v not in (f, mates[f]) and cohort.weight(f, v)]
        exact = alternatives.losses(cohort, f, chosen, base, mates)
        bound = alternatives.losses(cohort, f, chosen, base, mates, exact_max=0)
        for (loss, _, _), (upper, _, labelled) in zip(exact, bound, strict=True):
            assert not labelled and upper >= loss - 1e-9


def test_the_fellows_answer_names_five_partners_with_scores_reasons_and_losses() -> None:
    fellows, earlier = synthetic.cohort(28, 7)
    me = fellows[0]
    got = alternatives.alternatives(fellows, "peer", WEIGHTS, me.id, earlier)
    assert len(got) == alternatives.COUNT
    assert all(a.fellow_id != me.id and a.reasons and a.exact and a.loss >= 0 for a in got)
    assert [(a.pairs_lost, a.loss, -a.score) for a in got] == sorted((a.pairs_lost, a.loss, -a.score) for a in got)
    # another fellow's lock keeps both of its fellows out of the answer
    locked = frozenset({got[0].fellow_id, next(f.id for f in fellows[1:] if f.id != got[0].fellow_id)})
    again = alternatives.alternatives(fellows, "peer", WEIGHTS, me.id, earlier, locked=[locked])
    assert not {a.fellow_id for a in again} & locked
    with pytest.raises(KeyError):
        alternatives.alternatives(fellows, "peer", WEIGHTS, uuid.uuid4(), earlier)


@pytest.mark.parametrize("n", [27, 201])
def test_an_odd_cohort_has_tight_prices_through_its_stand_in(n: int) -> None:
    """Without the stand-in the relaxation of an odd cohort is fractional and every loss was solved again;
    with it the prices are tight, the losses come from shortest chains and equal solving again."""
    fellows, earlier = synthetic.cohort(n, 5)
    cohort = scoring.encode(fellows, "peer", WEIGHTS, earlier)
    found = alternatives.Forcing(cohort)
    assert found.residual is not None and found.gap2 == 0
    base, _ = alternatives.optimum(cohort)
    assert (found.base.pairs, found.base.weight) == (base.pairs, base.weight) and base.pairs == n // 2
    assert (found.mates < 0).sum() == 1 and found.mates.size == n
    for f in range(n):
        found.best(f)
    assert len(found.known) >= 5 * n // 2 and found.solved_again <= max(1, len(found.known) // 50)
    for (f, v), (lost, points, exact) in list(found.known.items())[:: max(1, len(found.known) // 40)]:
        [(loss, pairs_lost, _)] = alternatives.losses(cohort, f, [v], found.base, found.mates)
        assert exact and pairs_lost == lost and loss == pytest.approx(found.board_loss((lost, points, exact)))


def test_the_stand_in_adds_its_weight_and_one_pair_to_every_optimum() -> None:
    for seed in range(10):
        cohort, w = tiny(seed)
        made = alternatives.with_stand_in(cohort)
        if cohort.mode == "bipartite" or cohort.n % 2 == 0:
            assert made is None
            continue
        assert made is not None
        solved, g = made
        (pairs, weight), _ = optima(cohort.n, w)
        (more, heavier), _ = optima(solved.n, solved.rows(0, solved.n).astype(np.int64))
        assert (more, heavier) == (pairs + 1, weight + g) and g > w.max()

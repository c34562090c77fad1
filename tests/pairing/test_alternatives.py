"""Alternatives' losses against brute force: every matching of tiny cohorts enumerated (itertools), the
optimum taken as the matcher takes it (the most pairs, then the most weight). Pure: no stack needed."""

from __future__ import annotations

import itertools
import random
import uuid

import numpy as np
import pytest

from bench import synthetic
from services.pairing import alternatives, scoring
from services.pairing.domain import Weights

WEIGHTS = Weights()


def matchings(n: int, w: np.ndarray) -> itertools.chain[tuple[tuple[int, int], ...]]:
    """Every matching of the allowed graph (pairs with a positive weight)."""
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if w[i, j] > 0]
    found = (
        combo
        for size in range(n // 2 + 1)
        for combo in itertools.combinations(edges, size)
        if len({x for e in combo for x in e}) == 2 * size
    )
    return itertools.chain(found)


def best(n: int, w: np.ndarray, forced: tuple[int, int] | None = None) -> tuple[int, int]:
    """(pairs, weight) of the best matching, lexicographically, containing ``forced`` if given."""
    return max(
        (len(m), sum(int(w[a, b]) for a, b in m))
        for m in matchings(n, w)
        if forced is None or tuple(sorted(forced)) in m
    )


@pytest.mark.parametrize("seed", range(12))
def test_every_loss_equals_brute_force_on_tiny_cohorts(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(4, 9)
    mode = "bipartite" if seed % 3 == 0 else "peer"
    fellows, earlier = synthetic.cohort(n, seed)
    ids = [f.id for f in fellows]
    forbidden = [frozenset(rng.sample(ids, 2)) for _ in range(seed % 3)]
    cohort = scoring.encode(fellows, mode, WEIGHTS, earlier, forbidden)
    w = cohort.rows(0, n).astype(np.int64)
    top_pairs, top_weight = best(n, w)
    base, mates = alternatives.optimum(cohort)
    assert (base.pairs, base.weight) == (top_pairs, top_weight)
    checked = 0
    for f in range(n):
        chosen = alternatives.partners(cohort, f, mates, count=n)
        assert mates[f] not in chosen and all(w[f, v] > 0 for v in chosen)
        for v, (loss, lost, exact) in zip(chosen, alternatives.losses(cohort, f, chosen, base, mates), strict=True):
            pairs, weight = best(n, w, (f, v))
            expected = (top_weight - weight - scoring.SCALE * (top_pairs - pairs)) / scoring.SCALE
            assert exact and lost == top_pairs - pairs
            assert loss == pytest.approx(expected), (f, v)
            checked += 1
    assert checked or not w.any()


def test_above_the_exact_size_the_loss_is_an_upper_bound() -> None:
    fellows, earlier = synthetic.cohort(8, 4)
    cohort = scoring.encode(fellows, "peer", WEIGHTS, earlier)
    base, mates = alternatives.optimum(cohort)
    for f in range(cohort.n):
        chosen = alternatives.partners(cohort, f, mates)
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
    assert [a.score for a in got] == sorted((a.score for a in got), reverse=True)
    # another fellow's lock keeps both of its fellows out of the answer
    locked = frozenset({got[0].fellow_id, next(f.id for f in fellows[1:] if f.id != got[0].fellow_id)})
    again = alternatives.alternatives(fellows, "peer", WEIGHTS, me.id, earlier, locked=[locked])
    assert not {a.fellow_id for a in again} & locked
    with pytest.raises(KeyError):
        alternatives.alternatives(fellows, "peer", WEIGHTS, uuid.uuid4(), earlier)

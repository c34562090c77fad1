"""Forbidden pairs (declared conflicts, the board's exclusions) and locked pairs, against networkx on the
full graph of what the rules allow. Pure: no stack needed."""

from __future__ import annotations

import random
import uuid

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import synthetic
from services.pairing import matching, scoring
from services.pairing.domain import Fellow, Weights, allowed

WEIGHTS = Weights()


def best_total(cohort: scoring.Cohort) -> tuple[int, int]:
    """(pairs, weight) of a maximum-cardinality maximum-weight matching of the full allowed graph."""
    w = cohort.rows(0, cohort.n).astype(int)
    graph = nx.Graph()
    graph.add_weighted_edges_from((i, j, int(w[i, j])) for i in range(cohort.n) for j in range(i) if w[i, j])
    mates = nx.max_weight_matching(graph, maxcardinality=True)
    return len(mates), sum(int(w[a, b]) for a, b in mates)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=4, max_value=36),
    seed=st.integers(min_value=0, max_value=10_000),
    mode=st.sampled_from(["peer", "bipartite"]),
    forbid_share=st.floats(min_value=0, max_value=0.3),
    locks=st.integers(min_value=0, max_value=4),
)
def test_forbidden_pairs_are_never_made_and_locks_are_kept_at_the_optimum(
    n: int, seed: int, mode: str, forbid_share: float, locks: int
) -> None:
    fellows, earlier = synthetic.cohort(n, seed)
    rng = random.Random(seed)
    candidates = [
        frozenset({a.id, b.id}) for k, a in enumerate(fellows) for b in fellows[:k] if allowed(a, b, mode) is None
    ]
    forbidden = set(rng.sample(candidates, int(len(candidates) * forbid_share)))
    locked: list[frozenset[uuid.UUID]] = []
    taken: set[uuid.UUID] = set()
    for pair in rng.sample(candidates, min(len(candidates), 20)):
        if len(locked) < locks and pair not in forbidden and not pair & taken:
            locked.append(pair)
            taken |= pair
    result = matching.pair(fellows, mode, WEIGHTS, earlier, forbidden, locked)
    made = {frozenset(g.fellow_ids) for g in result.groups if len(g.fellow_ids) == 2}
    in_trio = [frozenset(p) for g in result.groups if len(g.fellow_ids) == 3 for p in _pairs(g.fellow_ids)]
    assert not (made | set(in_trio)) & forbidden
    assert set(locked) <= made
    # the rest is optimal: networkx on what is left once the locked fellows are out
    rest = [f for f in fellows if f.id not in taken]
    cohort = scoring.encode(rest, mode, WEIGHTS, earlier, forbidden)
    seen = {frozenset(p) for p in earlier}
    locked_weight = sum(scoring.pair_weight(*_fellows(fellows, p), mode, WEIGHTS, seen) for p in locked)
    pairs, weight = best_total(cohort)
    assert result.weight == weight + locked_weight
    assert len(made) - len(locked) == pairs or any(len(g.fellow_ids) == 3 for g in result.groups)


def _pairs(ids: tuple[uuid.UUID, ...]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    return [(a, b) for k, a in enumerate(ids) for b in ids[k + 1 :]]


def _fellows(fellows: list[Fellow], pair: frozenset[uuid.UUID]) -> list[Fellow]:
    return sorted((f for f in fellows if f.id in pair), key=lambda f: f.id)


def test_a_forbidden_pair_scores_zero_in_every_block_shape() -> None:
    fellows, earlier = synthetic.cohort(50, 3)
    a, b = fellows[0], next(f for f in fellows if f.organisation_id != fellows[0].organisation_id)
    cohort = scoring.encode(fellows, "peer", WEIGHTS, earlier, [frozenset({a.id, b.id})])
    i, j = (next(k for k, f in enumerate(cohort.fellows) if f.id == x.id) for x in (a, b))
    assert cohort.weight(i, j) == 0 and cohort.weight(j, i) == 0
    assert cohort.rows(0, cohort.n)[i, j] == 0
    cols = np.array(sorted({j, (j + 1) % cohort.n}), dtype="int64")
    assert cohort.rows(i, i + 1, cols)[0, list(cols).index(j)] == 0
    plain = scoring.encode(fellows, "peer", WEIGHTS, earlier)
    assert plain.weight(i, j) > 0  # the same pair is allowed when nobody rules it out


@pytest.mark.parametrize(
    ("case", "reason"),
    [("same_organisation", "same organisation"), ("forbidden", "ruled this pair out"), ("twice", "two locked pairs")],
)
def test_a_lock_the_rules_refuse_is_refused_with_its_reason(case: str, reason: str) -> None:
    fellows, earlier = synthetic.cohort(20, 5)
    a = fellows[0]
    same = next(f for f in fellows[1:] if f.organisation_id == a.organisation_id)
    others = [f for f in fellows if f.organisation_id != a.organisation_id]
    locks = {
        "same_organisation": [frozenset({a.id, same.id})],
        "forbidden": [frozenset({a.id, others[0].id})],
        "twice": [frozenset({a.id, others[0].id}), frozenset({a.id, others[1].id})],
    }[case]
    forbidden = [frozenset({a.id, others[0].id})] if case == "forbidden" else []
    with pytest.raises(matching.LockRefused, match=reason):
        matching.pair(fellows, "peer", WEIGHTS, earlier, forbidden, locks)

"""Every organisation mix (even, one organisation at 25, 40, 45 and 55 %) with exclusions and locks,
against rustworkx and networkx on the full graph; the tight-graph repair against a maximum matching.
Pure: no stack needed."""

from __future__ import annotations

import uuid

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import synthetic
from services.pairing import matching, scoring, tight
from services.pairing.domain import Fellow, Round, Weights, allowed
from tests.pairing.test_optimality import networkx_total, rustworkx_total

WEIGHTS = Weights()


def check_round(
    fellows: list[Fellow],
    mode: str,
    result: Round,
    forbidden: list[frozenset[uuid.UUID]],
    locked: list[frozenset[uuid.UUID]],
) -> None:
    """No hard rule broken, every lock kept, nobody twice or lost, and nobody alone who could be paired
    with another fellow left alone."""
    by_id = {f.id: f for f in fellows}
    placed = [f for g in result.groups for f in g.fellow_ids]
    assert len(placed) == len(set(placed))
    assert set(placed) | set(result.unpaired) == set(by_id)
    groups = {frozenset(g.fellow_ids) for g in result.groups}
    assert set(locked) <= groups
    for group in result.groups:
        members = [by_id[f] for f in group.fellow_ids]
        assert len({m.organisation_id for m in members}) == len(members)
        if len(members) == 2:
            assert allowed(members[0], members[1], mode) is None
            assert frozenset(group.fellow_ids) not in set(forbidden)
    alone = sorted(result.unpaired)
    assert all(result.unpaired.values())
    for k, a in enumerate(alone):
        for b in alone[k + 1 :]:
            assert allowed(by_id[a], by_id[b], mode) is not None or frozenset({a, b}) in set(forbidden)


def expected_total(fellows: list[Fellow], mode: str, earlier, forbidden, locked, reference) -> int:  # type: ignore[no-untyped-def]
    in_lock = {f for lock in locked for f in lock}
    rest = scoring.encode([f for f in fellows if f.id not in in_lock], mode, WEIGHTS, earlier, forbidden)
    by_id = {f.id: f for f in fellows}
    pairs = [tuple(by_id[f] for f in sorted(lock)) for lock in locked]
    seen = {frozenset(p) for p in earlier}
    locked_weight = scoring.pairs_weight(pairs, mode, WEIGHTS, seen) if pairs else 0  # type: ignore[arg-type]
    return (reference(rest) if rest.n >= 2 else 0) + locked_weight


@pytest.mark.parametrize("mode", ["peer", "bipartite"])
@pytest.mark.parametrize("mix", list(synthetic.MIXES))
@pytest.mark.parametrize("n", [40, 160, 600])
def test_every_mix_reaches_the_rustworkx_optimum_and_proves_it(n: int, mix: str, mode: str) -> None:
    for seed in range(2):
        fellows, earlier, forbidden, locked = synthetic.mixed(n, synthetic.MIXES[mix], seed)
        assert len(locked) == int(0.05 * n / 2) and len(forbidden) == int(0.01 * n / 2)
        result = matching.pair(fellows, mode, WEIGHTS, earlier, forbidden, locked)
        check_round(fellows, mode, result, forbidden, locked)
        assert result.weight == expected_total(fellows, mode, earlier, forbidden, locked, rustworkx_total)
        assert result.optimal and result.weight == int(result.bound)


def test_above_half_the_most_pairs_are_made_and_the_rest_say_why() -> None:
    fellows, earlier, forbidden, locked = synthetic.mixed(400, synthetic.MIXES["55%"], 3)
    result = matching.pair(fellows, "peer", WEIGHTS, earlier, forbidden, locked)
    check_round(fellows, "peer", result, forbidden, locked)
    largest = max({f.organisation_id for f in fellows}, key=lambda o: sum(f.organisation_id == o for f in fellows))
    others = sum(f.organisation_id != largest for f in fellows)
    in_lock_largest = sum(f.organisation_id == largest for lock in locked for f in fellows if f.id in lock)
    assert sum(len(g.fellow_ids) == 2 for g in result.groups) == others + in_lock_largest - len(locked)
    assert result.unpaired and all("one organisation has most of the cohort" in r for r in result.unpaired.values())
    assert result.optimal


def test_a_cohort_above_the_blossom_limit_is_proven_at_forty_per_cent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching, "EXACT_MAX", 0)  # no blossom fallback: the relaxation and the repair only
    for mode in ("peer", "bipartite"):
        fellows, earlier, forbidden, _ = synthetic.mixed(1200, synthetic.MIXES["40%"], 1)
        cohort = scoring.encode(fellows, mode, WEIGHTS, earlier, forbidden)
        solution = matching.solve(cohort)
        assert solution.optimal
        assert solution.weight == rustworkx_total(cohort)


mixed_fellows = st.lists(
    st.tuples(
        st.one_of(st.just(0), st.integers(0, 6)),  # organisation 0 is the large one (about half, or more)
        st.sampled_from(["clinical", "non_clinical"]),
        st.frozensets(st.sampled_from(synthetic.WEEKDAYS), min_size=1),
        st.frozensets(st.sampled_from(synthetic.INTERESTS[:5]), max_size=3),
    ),
    max_size=22,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_fellows, st.sampled_from(["peer", "bipartite"]), st.data())
def test_generated_mixes_with_exclusions_and_locks_match_networkx(raw, mode: str, data) -> None:  # type: ignore[no-untyped-def]
    fellows = [
        Fellow(
            uuid.UUID(int=k + 1), uuid.UUID(int=900 + org), "acute" if org else "icb", "luton", group, days, ints, group
        )
        for k, (org, group, days, ints) in enumerate(raw)
    ]
    pairs = [(a, b) for k, a in enumerate(fellows) for b in fellows[k + 1 :] if allowed(a, b, mode) is None]
    chosen = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=4)) if pairs else []
    locked: list[frozenset[uuid.UUID]] = []
    forbidden: list[frozenset[uuid.UUID]] = []
    for a, b in chosen:
        if data.draw(st.booleans()) and not ({a.id, b.id} & {f for lock in locked for f in lock}):
            locked.append(frozenset({a.id, b.id}))
        else:
            forbidden.append(frozenset({a.id, b.id}))
    result = matching.pair(fellows, mode, WEIGHTS, (), forbidden, locked)
    check_round(fellows, mode, result, forbidden, locked)
    assert result.weight == expected_total(fellows, mode, [], forbidden, locked, networkx_total)
    assert result.weight <= result.bound + 1e-9


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 14), st.data())
def test_the_repair_reaches_a_maximum_matching_of_the_tight_graph(n: int, data) -> None:  # type: ignore[no-untyped-def]
    """Every pair tight (all weights equal, every price equal): from any matching, augmenting from each
    fellow alone gives a maximum matching (Berge), blossoms included; fellows priced 0 may be let go."""
    all_pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    chosen = sorted(data.draw(st.sets(st.sampled_from(all_pairs), max_size=3 * n)))
    i = np.array([p[0] for p in chosen], dtype=np.int64)
    j = np.array([p[1] for p in chosen], dtype=np.int64)
    weight = np.full(i.size, 10, dtype=np.int64)
    mates = np.full(n, -1, dtype=np.int64)
    for a, b in chosen:  # a greedy start in a drawn order
        if data.draw(st.booleans()) and mates[a] < 0 and mates[b] < 0:
            mates[a], mates[b] = b, a
    y2 = np.full(n, 10, dtype=np.int64)
    got = tight.repair(n, (i, j), weight, y2, mates)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(chosen)
    assert int((got >= 0).sum()) == 2 * len(nx.max_weight_matching(graph, maxcardinality=True))
    for a in range(n):
        assert got[a] < 0 or (got[got[a]] == a and (min(a, got[a]), max(a, got[a])) in set(chosen))

"""The matcher against the textbook: rustworkx and networkx on the full graph, brute force for trios,
hypothesis for the hard rule. Pure: no stack needed."""

from __future__ import annotations

import dataclasses
import itertools
import uuid

import networkx as nx
import numpy as np
import pytest
import rustworkx as rx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import synthetic
from services.pairing import matching, scoring
from services.pairing.domain import Fellow, Round, Weights, allowed, exchange_complete, match

WEIGHTS = Weights()
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def full_graph(cohort: scoring.Cohort) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    w = cohort.rows(0, cohort.n).astype(np.int64)
    i, j = np.nonzero(np.triu(w, 1))
    return w, list(zip(i.tolist(), j.tolist(), w[i, j].tolist(), strict=True))


def rustworkx_total(cohort: scoring.Cohort) -> int:
    w, edges = full_graph(cohort)
    graph: rx.PyGraph = rx.PyGraph()
    graph.add_nodes_from(range(cohort.n))
    graph.extend_from_weighted_edge_list(edges)
    return sum(int(w[a, b]) for a, b in rx.max_weight_matching(graph, max_cardinality=True, weight_fn=int))


def networkx_total(cohort: scoring.Cohort) -> int:
    w, edges = full_graph(cohort)
    graph = nx.Graph()
    graph.add_weighted_edges_from(edges)
    return sum(int(w[a, b]) for a, b in nx.max_weight_matching(graph, maxcardinality=True))


def pairs_total(cohort: scoring.Cohort, result: Round) -> int:
    index = {f.id: k for k, f in enumerate(cohort.fellows)}
    return sum(
        cohort.weight(index[g.fellow_ids[0]], index[g.fellow_ids[1]]) for g in result.groups if len(g.fellow_ids) == 2
    )


@pytest.mark.parametrize("mode", ["peer", "bipartite"])
@pytest.mark.parametrize("n", [12, 28, 60, 120, 300])
def test_the_same_total_as_rustworkx_on_the_full_graph(n: int, mode: str) -> None:
    for seed in range(3):
        fellows, earlier = synthetic.cohort(n, seed)
        cohort = scoring.encode(fellows, mode, WEIGHTS, earlier)
        solution = matching.solve(cohort)
        assert solution.weight == rustworkx_total(cohort)
        assert solution.weight <= solution.bound
        result = matching.pair(fellows, mode, WEIGHTS, earlier)
        assert result.weight == solution.weight == pairs_total(cohort, result)


@pytest.mark.parametrize("mode", ["peer", "bipartite"])
def test_the_same_total_as_networkx_on_small_random_cohorts(mode: str) -> None:
    for seed in range(10):
        fellows, earlier = synthetic.cohort(40, seed + 100, earlier_share=0.3)
        cohort = scoring.encode(fellows, mode, WEIGHTS, earlier)
        assert matching.solve(cohort).weight == networkx_total(cohort)


def test_a_sparse_candidate_graph_still_finds_the_optimum_when_its_first_guess_is_poor() -> None:
    """k = 1 leaves most of the optimum out of the first candidate graph: pricing must bring it back."""
    fellows, earlier = synthetic.cohort(400, 7)
    cohort = scoring.encode(fellows, "peer", WEIGHTS, earlier)
    solution = matching.solve(cohort, k=1)
    assert solution.pricing_rounds > 1
    assert solution.weight == rustworkx_total(cohort)
    assert solution.optimal


def test_the_vectorised_scores_are_the_domain_scores() -> None:
    fellows, earlier = synthetic.cohort(150, 3, earlier_share=0.5)
    seen = set(earlier)
    for mode in ("peer", "bipartite"):
        cohort = scoring.encode(fellows, mode, WEIGHTS, earlier)
        w = cohort.rows(0, cohort.n)
        some = cohort.rows(40, 90, np.arange(0, cohort.n, 3, dtype=np.int64))
        assert (some == w[40:90, ::3]).all()
        for i, a in enumerate(cohort.fellows):
            for j, b in enumerate(cohort.fellows):
                if i == j or allowed(a, b, mode):
                    assert w[i, j] == 0
                else:
                    score = match(a, b, WEIGHTS, frozenset({a.person, b.person}) in seen).score
                    assert w[i, j] == round(score * scoring.SCALE) + scoring.SCALE


def fellow(k: int, org: int, group: str = "clinical", days: tuple[str, ...] = DAYS, sector: str = "acute") -> Fellow:
    return Fellow(
        id=uuid.UUID(int=k + 1),
        organisation_id=uuid.UUID(int=1000 + org),
        sector=sector,
        place="luton",
        staff_group=group,
        availability=frozenset(days),
        side=group,
    )


fellows_strategy = st.lists(
    st.builds(
        lambda org, group, days, sector, interests: (org, group, days, sector, interests),
        st.integers(0, 4),
        st.sampled_from(["clinical", "non_clinical"]),
        st.frozensets(st.sampled_from(DAYS), min_size=1),
        st.sampled_from(synthetic.SECTORS[:4]),
        st.frozensets(st.sampled_from(synthetic.INTERESTS[:6]), max_size=3),
    ),
    min_size=0,
    max_size=24,
)


def build(raw: list[tuple[int, str, frozenset[str], str, frozenset[str]]]) -> list[Fellow]:
    return [
        Fellow(
            id=uuid.UUID(int=k + 1),
            organisation_id=uuid.UUID(int=1000 + org),
            sector=sector,
            place="luton",
            staff_group=group,
            availability=days,
            interests=interests,
            side=group,
        )
        for k, (org, group, days, sector, interests) in enumerate(raw)
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fellows_strategy, st.sampled_from(["peer", "bipartite"]))
def test_the_hard_rule_is_never_broken_and_no_one_is_dropped(
    raw: list[tuple[int, str, frozenset[str], str, frozenset[str]]], mode: str
) -> None:
    fellows = build(raw)
    by_id = {f.id: f for f in fellows}
    result = matching.pair(fellows, mode, WEIGHTS)
    placed = [f for g in result.groups for f in g.fellow_ids]
    assert len(placed) == len(set(placed))
    assert set(placed) | set(result.unpaired) == set(by_id)
    assert not set(placed) & set(result.unpaired)
    assert sum(len(g.fellow_ids) == 3 for g in result.groups) <= 1
    for group in result.groups:
        members = [by_id[f] for f in group.fellow_ids]
        assert len({m.organisation_id for m in members}) == len(members)
        if mode == "bipartite":
            assert len({m.side for m in members}) == 2
    assert all(result.unpaired.values())
    # nobody is left alone who could have been paired with another lone fellow
    for a, b in itertools.combinations(result.unpaired, 2):
        assert allowed(by_id[a], by_id[b], mode) is not None
    assert result.weight <= result.bound + 1e-9
    cohort = scoring.encode(fellows, mode, WEIGHTS)
    if cohort.n >= 2:
        assert matching.solve(cohort).weight == networkx_total(cohort)


def best_partition(cohort: scoring.Cohort, peer: scoring.Cohort) -> int:
    """Brute force: the best total over every partition into pairs and exactly one trio."""
    w = cohort.rows(0, cohort.n).astype(int)
    wp = peer.rows(0, peer.n).astype(int)

    def best(rest: tuple[int, ...], trio_left: bool) -> int | None:
        if not rest:
            return None if trio_left else 0
        a, others = rest[0], rest[1:]
        found: int | None = None
        for k, b in enumerate(others):
            if w[a, b]:
                tail = best(others[:k] + others[k + 1 :], trio_left)
                if tail is not None:
                    found = max(found or 0, int(w[a, b]) + tail)
            if trio_left and wp[a, b]:
                for m in range(k + 1, len(others)):
                    c = others[m]
                    ok = wp[a, c] and wp[b, c] and (w[a, b] or w[a, c] or w[b, c])
                    if ok:
                        tail = best(tuple(x for x in others if x not in (b, c)), False)
                        if tail is not None:
                            found = max(found or 0, int(wp[a, b] + wp[a, c] + wp[b, c]) + tail)
        return found

    total = best(tuple(range(cohort.n)), True)
    assert total is not None
    return total


@pytest.mark.parametrize("mode", ["peer", "bipartite"])
@pytest.mark.parametrize("n", [5, 7, 9])
def test_an_odd_cohort_gets_the_one_trio_that_loses_least(n: int, mode: str) -> None:
    for seed in range(4):
        fellows, earlier = synthetic.cohort(n, seed)
        cohort = scoring.encode(fellows, mode, WEIGHTS, earlier)
        peer = dataclasses.replace(cohort, mode="peer")
        result = matching.pair(fellows, mode, WEIGHTS, earlier)
        index = {f.id: k for k, f in enumerate(cohort.fellows)}
        trios = [g for g in result.groups if len(g.fellow_ids) == 3]
        if not trios:
            continue
        assert len(trios) == 1
        a, b, c = (index[f] for f in trios[0].fellow_ids)
        trio_value = peer.weight(a, b) + peer.weight(a, c) + peer.weight(b, c)
        assert pairs_total(cohort, result) + trio_value == best_partition(cohort, peer)
        assert "trio: the cohort has an odd number of fellows" in trios[0].reasons


def test_a_large_odd_cohort_also_gets_exactly_one_trio() -> None:
    fellows, earlier = synthetic.cohort(301, 4)
    result = matching.pair(fellows, "peer", WEIGHTS, earlier)
    assert sorted(len(g.fellow_ids) for g in result.groups)[-2:] == [2, 3]
    assert sum(len(g.fellow_ids) for g in result.groups) == 301


def test_the_same_cohort_in_any_order_gives_the_same_pairs() -> None:
    fellows, earlier = synthetic.cohort(201, 5)
    first = matching.pair(fellows, "peer", WEIGHTS, earlier)
    again = matching.pair(list(reversed(fellows)), "peer", WEIGHTS, list(reversed(earlier)))
    assert first == again


def test_fellows_who_cannot_be_paired_are_reported_with_the_reason() -> None:
    crowd = [fellow(k, org=1) for k in range(6)] + [fellow(6, org=2), fellow(7, org=3)]
    result = matching.pair(crowd, "peer", WEIGHTS)
    assert len(result.groups) == 2
    assert len(result.unpaired) == 4
    assert all("already paired" in why for why in result.unpaired.values())
    sides = [fellow(0, 1, "clinical"), fellow(1, 2, "clinical"), fellow(2, 3, "clinical"), fellow(3, 4, "non_clinical")]
    result = matching.pair(sides, "bipartite", WEIGHTS)
    assert [len(g.fellow_ids) for g in result.groups] == [2]
    assert len(result.unpaired) == 2
    assert all("other side" in why for why in result.unpaired.values())
    odd = matching.pair([*sides, fellow(4, 5, "non_clinical")], "bipartite", WEIGHTS)
    assert sorted(len(g.fellow_ids) for g in odd.groups) == [2, 3] and not odd.unpaired
    alone = matching.pair([fellow(0, 1), fellow(1, 1)], "peer", WEIGHTS)
    assert alone.groups == []
    assert all("no fellow from another organisation" in why for why in alone.unpaired.values())


def test_an_earlier_pairing_is_not_repeated_when_an_equal_partner_is_free() -> None:
    a, b, c, d = (fellow(k, org=k) for k in range(4))
    plain = matching.pair([a, b, c, d], "peer", WEIGHTS)
    first = next(g for g in plain.groups if a.id in g.fellow_ids)
    partner = next(f for f in first.fellow_ids if f != a.id)
    again = matching.pair([a, b, c, d], "peer", WEIGHTS, [frozenset({a.person, partner})])
    assert all(set(g.fellow_ids) != {a.id, partner} for g in again.groups)
    assert all("not paired before" in g.reasons for g in again.groups)


def test_every_scan_gives_a_valid_bound_even_before_pricing_has_converged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching, "MAX_PRICING_ROUNDS", 1)
    for seed in range(4):
        fellows, earlier = synthetic.cohort(60, seed + 200)
        cohort = scoring.encode(fellows, "peer", WEIGHTS, earlier)
        solution = matching.solve(cohort, k=1)
        assert not solution.optimal  # pricing stopped early: the bound comes from the raised prices
        assert solution.bound >= networkx_total(cohort) >= solution.weight


def test_a_trio_completes_its_exchange_only_when_all_three_have_hosted() -> None:
    a, b, c = (uuid.UUID(int=k + 1) for k in range(3))
    assert not exchange_complete([a, b, c], {a, b})
    assert exchange_complete([a, b, c], {a, b, c})
    assert exchange_complete([a, b], {b, a})

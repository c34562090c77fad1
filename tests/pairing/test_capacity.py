"""Matching with capacities against the textbook: OR-tools' min-cost flow and networkx's max_flow_min_cost
on the full graph (the most learners placed, then the most weight), hypothesis for the hard rules, locks
and capacities. Pure: no stack needed."""

from __future__ import annotations

import uuid

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.graph.python import min_cost_flow

from bench import capacity as bench
from bench import synthetic
from services.pairing import assignment, capacity
from services.pairing.domain import Fellow, Weights
from shared.events import SECTORS

WEIGHTS = Weights()
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def weights_of(
    learners: list[Fellow],
    sharers: list[Fellow],
    earlier: list[frozenset[uuid.UUID]] = [],  # noqa: B006 - read only
    forbidden: list[tuple[int, int]] = [],  # noqa: B006 - read only
) -> np.ndarray:
    """The full learners x sharers weight matrix in input order (0: not allowed)."""
    cohort, learner_at, sharer_at = capacity.encode(learners, sharers, WEIGHTS, earlier, forbidden)
    n_l = len(learners)
    return cohort.rows(0, n_l, slice(n_l, cohort.n))[learner_at][:, sharer_at].astype(np.int64)


def without_locks(w: np.ndarray, caps: list[int], locked: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, int]:
    """The textbook reduction of locks: locked learners leave, their sharers lose a place each."""
    w = w.copy()
    room = np.array(caps, dtype=np.int64)
    kept = 0
    for lo, sh in locked:
        kept += int(w[lo, sh])
        w[lo, :] = 0
        room[sh] -= 1
    return w, room, kept


def ortools_best(w: np.ndarray, caps: list[int], locked: list[tuple[int, int]] = []) -> tuple[int, int]:  # noqa: B006
    """(learners placed, total) of the lexicographic optimum, by OR-tools' SimpleMinCostFlow."""
    w, room, kept = without_locks(w, caps, locked)
    n_l, n_s = w.shape
    i, j = np.nonzero(w)
    flow = min_cost_flow.SimpleMinCostFlow()
    source, sink = n_l + n_s, n_l + n_s + 1
    for lo in range(n_l):
        flow.add_arc_with_capacity_and_unit_cost(source, lo, 1, 0)
    for lo, sh in zip(i.tolist(), j.tolist(), strict=True):
        flow.add_arc_with_capacity_and_unit_cost(lo, n_l + sh, 1, -int(w[lo, sh]))
    for sh in range(n_s):
        flow.add_arc_with_capacity_and_unit_cost(n_l + sh, sink, int(room[sh]), 0)
    flow.set_node_supply(source, n_l)
    flow.set_node_supply(sink, -n_l)
    assert flow.solve_max_flow_with_min_cost() == flow.OPTIMAL
    return flow.maximum_flow() + len(locked), -flow.optimal_cost() + kept


def networkx_best(w: np.ndarray, caps: list[int], locked: list[tuple[int, int]] = []) -> tuple[int, int]:  # noqa: B006
    """(learners placed, total) of the lexicographic optimum, by networkx's max_flow_min_cost."""
    w, room, kept = without_locks(w, caps, locked)
    n_l, n_s = w.shape
    graph = nx.DiGraph()
    graph.add_nodes_from(["s", "t"])
    for lo in range(n_l):
        graph.add_edge("s", ("l", lo), capacity=1, weight=0)
    for lo, sh in zip(*(x.tolist() for x in np.nonzero(w)), strict=True):
        graph.add_edge(("l", lo), ("x", sh), capacity=1, weight=-int(w[lo, sh]))
    for sh in range(n_s):
        graph.add_edge(("x", sh), "t", capacity=int(room[sh]), weight=0)
    flow = nx.max_flow_min_cost(graph, "s", "t")
    return sum(flow["s"].values()) + len(locked), -nx.cost_of_flow(graph, flow) + kept


def check(
    learners: list[Fellow],
    sharers: list[Fellow],
    caps: list[int],
    result: capacity.Placement,
    w: np.ndarray,
    locked: list[tuple[int, int]] = [],  # noqa: B006 - read only
) -> None:
    """No hard rule broken, every lock kept, no capacity exceeded, the total and reasons consistent."""
    placed = np.flatnonzero(result.sharer_of >= 0)
    for lo in placed.tolist():
        sh = int(result.sharer_of[lo])
        assert w[lo, sh] > 0, "a placed pair the rules (organisation, conflicts) forbid"
        assert learners[lo].organisation_id != sharers[sh].organisation_id
    for lo, sh in locked:
        assert result.sharer_of[lo] == sh
    load = np.bincount(result.sharer_of[placed], minlength=len(sharers))
    assert (load <= np.array(caps, dtype=np.int64)).all()
    assert result.total == int(w[placed, result.sharer_of[placed]].sum())
    assert result.placed == placed.size
    assert set(result.left_out) == set(range(len(learners))) - set(placed.tolist())
    assert all(result.left_out.values())
    assert result.total <= result.bound


def person(k: int, org: int, sector: str = "acute", days: frozenset[str] = frozenset(DAYS), **more: object) -> Fellow:
    return Fellow(
        id=uuid.UUID(int=k + 1),
        organisation_id=uuid.UUID(int=1000 + org),
        sector=sector,
        place="luton",
        staff_group=str(more.get("group", "clinical")),
        availability=days,
        interests=frozenset(more.get("interests", frozenset())),  # type: ignore[call-overload]
    )


raw_person = st.tuples(
    st.integers(0, 3),  # organisation
    st.sampled_from(SECTORS[:3]),
    st.frozensets(st.sampled_from(DAYS), min_size=1),
    st.sampled_from(["clinical", "non_clinical"]),
    st.frozensets(st.sampled_from(synthetic.INTERESTS[:5]), max_size=3),
)


Made = tuple[list[Fellow], list[Fellow], list[int], list[tuple[int, int]], list[tuple[int, int]]]


@st.composite
def cohorts(draw: st.DrawFn) -> Made:
    raw_l = draw(st.lists(raw_person, max_size=14))
    raw_s = draw(st.lists(raw_person, max_size=6))
    learners = [person(k, o, s, d, group=g, interests=i) for k, (o, s, d, g, i) in enumerate(raw_l)]
    sharers = [person(100 + k, o, s, d, group=g, interests=i) for k, (o, s, d, g, i) in enumerate(raw_s)]
    caps = draw(st.lists(st.integers(1, 3), min_size=len(sharers), max_size=len(sharers)))
    pairs = [(lo, sh) for lo in range(len(learners)) for sh in range(len(sharers))]
    forbidden = draw(st.lists(st.sampled_from(pairs), max_size=6, unique=True)) if pairs else []
    wanted = draw(st.lists(st.sampled_from(pairs), max_size=4, unique=True)) if pairs else []
    w = weights_of(learners, sharers, forbidden=forbidden)
    room = list(caps)
    locked: list[tuple[int, int]] = []
    for lo, sh in wanted:  # only locks the rules allow, one per learner, within capacity
        if w[lo, sh] and room[sh] and all(lo != x for x, _ in locked):
            locked.append((lo, sh))
            room[sh] -= 1
    return learners, sharers, caps, forbidden, locked


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_the_same_optimum_as_or_tools_and_networkx_on_the_full_graph(made: Made) -> None:
    learners, sharers, caps, forbidden, locked = made
    result = capacity.place(learners, sharers, caps, WEIGHTS, forbidden=forbidden, locked=locked)
    w = weights_of(learners, sharers, forbidden=forbidden)
    check(learners, sharers, caps, result, w, locked)
    best = ortools_best(w, caps, locked)
    assert (result.placed, result.total) == best == networkx_best(w, caps, locked)
    assert result.optimal and result.bound == result.total
    assert result.most_placed == result.placed


@pytest.mark.parametrize(
    ("n_l", "n_s", "most", "largest"),
    [(120, 30, 3, 0.25), (300, 60, 5, 0.40), (300, 40, 10, 0.45), (400, 80, 4, 0.60), (200, 150, 2, 0.30)],
)
def test_field_like_cohorts_reach_the_or_tools_optimum_and_prove_it(
    n_l: int, n_s: int, most: int, largest: float
) -> None:
    """Organisation mixes of the field (one trust with a quarter to more than half of everyone), with
    earlier pairings and declared conflicts; k = 2 keeps the first candidate graph poor, so pricing
    must bring the optimum back."""
    for seed in range(2):
        learners, sharers, caps, earlier, forbidden = bench.cohort(n_l, n_s, most, largest, seed)
        w = weights_of(learners, sharers, earlier, forbidden)
        for k in (capacity.K, 2):
            result = capacity.place(learners, sharers, caps, WEIGHTS, earlier, forbidden, k=k)
            check(learners, sharers, caps, result, w)
            assert (result.placed, result.total) == ortools_best(w, caps)
            assert result.optimal and result.bound == result.total
    assert result.pricing_rounds > 1


def test_one_learner_more_outweighs_any_score() -> None:
    """The constant per allowed pair is not enough by itself: ann suits the first sharer far better than
    the second, but bob can only join the first, so the heaviest placement leaves bob out. The most
    learners placed comes first."""
    first = person(100, org=1, sector="acute", days=frozenset({"monday"}), group="non_clinical")
    second = person(101, org=2, sector="community", days=frozenset({"tuesday"}))
    ann = person(0, org=3, sector="community", days=frozenset({"monday"}))
    bob = person(1, org=2, sector="acute", days=frozenset({"friday"}), group="non_clinical")
    earlier = [frozenset({bob.person, first.person}), frozenset({ann.person, second.person})]
    learners, sharers = [ann, bob], [first, second]
    w = weights_of(learners, sharers, earlier)
    assert w[1, 1] == 0 and w[0, 0] > w[0, 1] + w[1, 0]  # the heaviest placement is ann alone with the first
    result = capacity.place(learners, sharers, [1, 1], WEIGHTS, earlier)
    assert result.sharer_of.tolist() == [1, 0]
    assert result.optimal and (result.placed, result.total) == ortools_best(w, [1, 1])


def test_who_is_left_out_is_told_why() -> None:
    crowd = [person(k, org=1) for k in range(4)] + [person(4, org=2), person(5, org=3)]
    sharers = [person(100, org=2), person(101, org=1)]
    result = capacity.place(crowd, sharers, [2, 1], WEIGHTS, forbidden=[(5, 0), (5, 1)])
    assert result.placed == 3 and result.optimal
    assert result.sharer_of[4] == 1  # org 2's learner goes to org 1's sharer
    left = result.left_out
    assert left[5] == "every sharer from another organisation is ruled out (a conflict or the board's exclusion)"
    assert sum(why == "every sharer this learner may join is full" for why in left.values()) == 2
    alone = capacity.place([person(0, org=1)], [person(100, org=1)], [3], WEIGHTS)
    assert alone.left_out == {0: "no sharer from another organisation is in the cohort"}
    nobody = capacity.place([person(0, org=1)], [], [], WEIGHTS)
    assert nobody.left_out == {0: "no sharer from another organisation is in the cohort"} and nobody.optimal


def test_a_lock_uses_up_a_place_and_the_rest_is_placed_around_it() -> None:
    learners, sharers, caps, earlier, forbidden = bench.cohort(60, 12, 2, 0.3, seed=4)
    w = weights_of(learners, sharers, earlier, forbidden)
    free = capacity.place(learners, sharers, caps, WEIGHTS, earlier, forbidden)
    # lock pairs the free optimum did not choose, filling one sharer entirely
    sh = int(np.argmax(caps))
    outside = [lo for lo in range(60) if w[lo, sh] and free.sharer_of[lo] != sh][: caps[sh]]
    locked = [(lo, sh) for lo in outside]
    result = capacity.place(learners, sharers, caps, WEIGHTS, earlier, forbidden, locked)
    check(learners, sharers, caps, result, w, locked)
    assert (result.placed, result.total) == ortools_best(w, caps, locked)
    assert result.optimal and result.total <= free.total


@pytest.mark.parametrize(
    ("caps", "locked", "forbidden", "message"),
    [
        ([0, 1], [], [], "a capacity must be between 1 and 10"),
        ([1, 11], [], [], "a capacity must be between 1 and 10"),
        ([1], [], [], "2 sharers but 1 capacities"),
        ([1, 1], [(0, 0)], [], "breaks a hard rule: the two are of one organisation"),
        ([1, 1], [(1, 1)], [(1, 1)], "breaks a hard rule: the pair is ruled out"),
        ([1, 1], [(1, 0), (2, 0)], [], "sharer 0 has more locks than places (1)"),
        ([2, 1], [(1, 0), (1, 1)], [], "learner 1 is in two locks"),
        ([1, 1], [(7, 0)], [], "a lock names learner 7 and sharer 0, not both in the cohort"),
        ([1, 1], [], [(0, 5)], "a forbidden pair names learner 0 and sharer 5"),
    ],
)
def test_bad_input_is_refused_with_a_clear_reason(
    caps: list[int], locked: list[tuple[int, int]], forbidden: list[tuple[int, int]], message: str
) -> None:
    learners = [person(0, org=1), person(1, org=2), person(2, org=3)]
    sharers = [person(100, org=1), person(101, org=4)]
    with pytest.raises(capacity.CapacityRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        capacity.place(learners, sharers, caps, WEIGHTS, forbidden=forbidden, locked=locked)


def test_a_shared_id_is_refused() -> None:
    with pytest.raises(capacity.CapacityRefused, match="an id of its own"):
        capacity.place([person(0, org=1)], [person(0, org=2)], [1], WEIGHTS)


def test_a_cohort_too_large_to_keep_its_scores_is_scored_block_by_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``KEEP_SCORES`` pairs each scan scores its blocks afresh (and relaxation picks each sharer's
    candidates): the same optimum, proven."""
    learners, sharers, caps, earlier, forbidden = bench.cohort(300, 60, 5, 0.40, seed=3)
    w = weights_of(learners, sharers, earlier, forbidden)
    kept = capacity.place(learners, sharers, caps, WEIGHTS, earlier, forbidden)
    monkeypatch.setattr(capacity, "KEEP_SCORES", 0)
    monkeypatch.setattr(assignment, "SCAN_BLOCK", 60 * 7)  # 7 learners a block: 43 blocks a scan
    result = capacity.place(learners, sharers, caps, WEIGHTS, earlier, forbidden)
    check(learners, sharers, caps, result, w)
    assert (result.placed, result.total) == (kept.placed, kept.total) == ortools_best(w, caps)
    assert result.optimal and result.bound == result.total

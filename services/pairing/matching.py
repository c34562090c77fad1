"""A pairing round: maximum-weight matching over the cohort under the hard rule (pure, no I/O).

The pieces live in ``relaxation`` (steps 1-3), ``pricing`` (step 2's scans) and ``trios`` (step 4); ``solve``
and ``pair`` put them together.

How it stays exact and fast (see README, "How the matcher works"):

1. Candidates: every fellow keeps its ``K`` best allowed partners (numpy, ``scoring``); the candidate
   graph is the union, so it has at most ``K * n`` edges instead of ``n² / 2``.
2. Pricing: the fractional relaxation of matching is half the assignment problem on the bipartite
   double cover (fellow-as-row, fellow-as-column; staying alone is a zero-weight self-loop). scipy solves
   that assignment on the sparse candidate graph (LAPJVsp); Bellman-Ford on its residual graph gives
   optimal dual prices ``y``. Any pair of the *full* graph with ``w > y_i + y_j`` could improve the
   relaxation, so it is added and the assignment solved again; when none is left the relaxation of the
   candidate graph equals that of the full graph, and ``sum(y)`` is an upper bound on every matching of
   the whole cohort. Every scan also yields a valid bound on its own (``y_i`` raised to cover its row).
3. Exact matching on the candidate graph: rustworkx's compiled blossom algorithm, maximum cardinality.
   If its weight reaches the bound (rounded down) it is proven optimal for the whole cohort.
4. An odd cohort: the one fellow left over joins a trio. Up to ``TRIO_EXACT_MAX`` fellows the whole
   partition (pairs and exactly one trio) is solved exactly as an integer programme (HiGHS); beyond,
   the left-over fellow joins the pair that gains most.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from services.pairing import scoring, tight
from services.pairing.domain import RULED_OUT, Fellow, Group, Round, Weights, allowed, score_group
from services.pairing.pricing import PARTIAL_SHARE, Scores, scan
from services.pairing.relaxation import Edges, Ints, blossom, break_cycles, candidates, duals, most_pairs, weight_of
from services.pairing.trios import TRIO_NOTE, why_alone, with_trio

K = 12  # candidate partners kept per fellow
MAX_PRICING_ROUNDS = 40
POOL_SLACK = 2 * scoring.SCALE  # pairs within a point of their prices are re-checked cheaply
PER_ROW = 16  # at most this many pairs of a fellow join the pool of a scan (the most violated)
EXACT_MAX = 3000  # up to here a matching that misses the bound is re-solved with the blossom algorithm


@dataclass(frozen=True)
class Solution:
    mates: Ints  # mate of each fellow (index), -1 when unmatched
    weight: int
    bound: float
    edges: int  # candidate edges in the final graph
    pricing_rounds: int
    prices: Ints  # twice the relaxation's dual prices, feasible on the full graph (y_i + y_j >= w_ij)

    @property
    def optimal(self) -> bool:
        return self.weight >= int(self.bound)


def solve(cohort: scoring.Cohort, k: int = K) -> Solution:
    """A maximum-weight (maximum-cardinality) matching of the cohort, with an upper bound on its optimum."""
    n = cohort.n
    if n < 2:
        return Solution(np.full(n, -1, dtype=np.int64), 0, 0.0, 0, 0, np.zeros(n, dtype=np.int64))
    edges = candidates(cohort, k)
    y2, sigma, warm = duals(n, edges)
    scores = Scores(cohort)
    touched = None  # the first scan reads every pair, the next ones those of fellows whose prices fell
    rounds = 0
    while True:
        rounds += 1
        found, pool, fixed, left_out = scan(scores, y2, POOL_SLACK, PER_ROW, touched)
        bound2 = int(fixed.sum())
        if not found.code.size or rounds >= MAX_PRICING_ROUNDS:
            break
        # the whole pool (the violated pairs and those near their prices): one re-solve where adding
        # only the violated ones took many, each finding a few more in the pool (docs/decisions/0014)
        edges.add(*pool.ends, pool.weight)
        last = y2
        y2, sigma, warm = duals(n, edges, warm)
        touched = (y2 < last) | left_out
        if int(touched.sum()) * PARTIAL_SHARE > n:
            touched = None
    del scores  # the scores' memory back before the rounding
    mates = break_cycles(n, edges, sigma)
    weight = weight_of(edges, mates)
    if weight < bound2 // 2:  # odd cycles: augmenting paths on the tight pairs reach the bound, as a rule
        better = tight.repair(n, edges.ends, edges.weight, y2, mates)
        if weight_of(edges, better) > weight:
            mates, weight = better, weight_of(edges, better)
    wanted = most_pairs(cohort)
    short = int((mates >= 0).sum()) // 2 < wanted
    if (weight < bound2 // 2 or short) and n <= EXACT_MAX:
        i, j = edges.ends
        on = y2[i] + y2[j] == 2 * edges.weight
        tight_edges = Edges(n)
        tight_edges.add(i[on], j[on], edges.weight[on])
        for graph in (tight_edges, edges):
            better = blossom(n, graph)
            gain = weight_of(edges, better)
            more = int((better >= 0).sum()) > int((mates >= 0).sum())
            if more or (gain > weight and int((better >= 0).sum()) == int((mates >= 0).sum())):
                mates, weight = better, gain
            short = int((mates >= 0).sum()) // 2 < wanted
            if weight >= bound2 // 2 and not short:
                break
        for _ in range(3):
            lonely = np.flatnonzero(mates < 0)
            if not short or not lonely.size:
                break
            for f in lonely.tolist():  # every allowed partner of a fellow left alone
                w = cohort.rows(f, f + 1)[0]
                j = np.flatnonzero(w)
                edges.add(np.full(j.size, f, dtype=np.int64), j.astype(np.int64), w[j].astype(np.int64))
            mates = blossom(n, edges)
            weight = weight_of(edges, mates)
            short = int((mates >= 0).sum()) // 2 < wanted
    return Solution(mates, weight, bound2 / 2, int(edges.code.size), rounds, fixed)


class LockRefused(ValueError):
    """A locked pair the rules do not allow (the reason is the message)."""


def check_locks(
    fellows: Sequence[Fellow], mode: str, locked: Iterable[frozenset[uuid.UUID]], forbidden: set[frozenset[uuid.UUID]]
) -> list[tuple[Fellow, Fellow]]:
    """The locked pairs as fellows; ``LockRefused`` when one breaks a hard rule or a fellow is in two."""
    by_id = {f.id: f for f in fellows}
    pairs: list[tuple[Fellow, Fellow]] = []
    taken: set[uuid.UUID] = set()
    for lock in locked:
        if len(lock) != 2 or not all(f in by_id for f in lock):
            raise LockRefused("a lock names two fellows of the cohort")
        a, b = sorted((by_id[f] for f in lock), key=lambda f: (f.side, f.id) if mode == "bipartite" else ("", f.id))
        problem = allowed(a, b, mode) or (RULED_OUT if lock in forbidden else None)
        if problem:
            raise LockRefused(f"a locked pair breaks a hard rule: {problem}")
        if taken & lock:
            raise LockRefused("a fellow is in two locked pairs")
        taken |= lock
        pairs.append((a, b))
    return pairs


def usable_locks(
    fellows: Sequence[Fellow], mode: str, locked: Iterable[frozenset[uuid.UUID]], forbidden: set[frozenset[uuid.UUID]]
) -> list[frozenset[uuid.UUID]]:
    """The locks a round can keep, in order: those of fellows it pairs that the rules allow (the board's
    routes refuse the others; a withdrawn fellow's lock is let go)."""
    kept: list[frozenset[uuid.UUID]] = []
    for lock in locked:
        try:
            check_locks(fellows, mode, [*kept, lock], forbidden)
        except LockRefused:
            continue
        kept.append(lock)
    return kept


def pair(
    fellows: Sequence[Fellow],
    mode: str,
    weights: Weights,
    earlier: Iterable[frozenset[uuid.UUID]] = (),
    forbidden: Iterable[frozenset[uuid.UUID]] = (),
    locked: Iterable[frozenset[uuid.UUID]] = (),
) -> Round:
    """Pair a cohort so that the total score is maximal; an odd one out makes the one trio.

    ``forbidden`` pairs of fellow ids are never made (declared conflicts, the board's exclusions);
    ``locked`` pairs are kept as they are and the rest of the cohort is paired around them (exact: a
    matching that contains given pairs is those pairs plus a matching of everyone else).
    """
    history = [p for p in earlier if len(p) == 2]
    ruled_out = {frozenset(p) for p in forbidden if len(p) == 2}
    kept = check_locks(fellows, mode, locked, ruled_out)
    in_lock = {f.id for p in kept for f in p}
    cohort = scoring.encode([f for f in fellows if f.id not in in_lock], mode, weights, history, ruled_out)
    ordered = cohort.fellows
    solution = solve(cohort)
    mates = solution.mates
    n = cohort.n
    pairs = [(a, int(mates[a])) for a in range(n) if mates[a] > a]
    lonely = [a for a in range(n) if mates[a] < 0]
    pairs, trio, lonely = with_trio(cohort, pairs, lonely)
    seen = {frozenset(p) for p in history}
    locked_weight = scoring.pairs_weight(kept, mode, weights, seen) if kept else 0
    result = Round(
        weight=solution.weight + locked_weight,
        bound=solution.bound + locked_weight,
        optimal=solution.optimal,
    )
    groups = [tuple(ordered[m] for m in sorted(p)) for p in pairs] + (
        [tuple(ordered[m] for m in sorted(trio))] if trio else []
    )
    for chosen in sorted([*groups, *kept], key=lambda g: [(f.side if mode == "bipartite" else "", f.id) for f in g]):
        group = score_group(chosen, "peer", weights, seen)
        assert isinstance(group, Group)
        if len(chosen) == 3:
            group = Group(group.fellow_ids, group.score, (*group.reasons, TRIO_NOTE))
        result.groups.append(group)
    for f in lonely:
        result.unpaired[ordered[f].id] = why_alone(cohort, f)
    return result

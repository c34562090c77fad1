"""Matching with capacities (b-matching): learners take one sharer each, a sharer hosts up to its capacity
(pure, no I/O).

The schemes where one side hosts several of the other (a sharer of Stepping into my shoes hosts several
learners, a mentor takes up to two mentees) under the same hard rules as the other modes: never two of
one organisation, never a pair ruled out (declared conflicts, the board's exclusions, given as index
pairs), and locked pairs kept as they are (each uses up one place of its sharer).

Objective, lexicographic: the most learners placed, then the most total weight. The constant that
``scoring`` adds to every allowed pair does not give that by itself (one heavy pair can outweigh two
light ones that would place one learner more), so the solver adds ``big`` = (learners x the heaviest
pair + 1) to every allowed pair: one more learner placed then always outweighs any difference in score.

How it stays exact and fast (the same plan as ``matching``):

1. Candidates: each learner keeps its best sharers (the first scan, at zero prices: those within a point
   of its best, about ``PER_ROW``) and each sharer its ``K`` best learners
   (``matrix_kernels.column_tops``; past ``KEEP_SCORES``, ``relaxation.candidates``),
   ``O(K (learners + sharers))`` edges instead of ``learners x sharers``. The learners x sharers scores
   are computed once (``matrix_kernels.kept_scores``) and kept for every scan when they fit
   (``KEEP_SCORES``, int32 as a scan reads them), not scored again each round.
2. The candidate problem is solved exactly by a compiled primal-dual b-matching (``bmatch.solve``: the
   Hungarian method with each sharer one node with its capacity, no copies of its places), which keeps
   the LP's duals all along: the b-matching LP (max Σ w x, Σ_s x_ls ≤ 1, Σ_l x_ls ≤ c_s) is integral,
   its dual is min Σ u_l + Σ c_s v_s with u_l + v_s ≥ w_ls, u, v ≥ 0. Each later round starts from the
   last one's placement and duals: only the learners whose new pairs upset them are searched again.
3. Pricing: a compiled scan of the full learners x sharers matrix (``matrix_kernels.scan_rows``) finds
   the allowed pairs with w + big > u_l + v_s (for each learner that has one, its pairs within
   ``POOL_SLACK`` of it, up to ``PER_ROW``); they join the candidates and the b-matching is solved again,
   until no pair beats its prices (a few rounds). Then the duals are feasible on the full graph and
   Σ u + Σ c v equals the total: the placement is **proven optimal** for the whole cohort. Every scan
   also gives a valid bound on its own (each u_l raised to cover its row), reported with the ``optimal``
   flag.

The figures behind these choices (rounds, ``PER_ROW``, the kept scores, the compiled kernels, warming
them at start), and how to measure them again: docs/decisions/0014.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.pairing import matrix_kernels, scoring
from services.pairing.assignment import NONE, Graph, kept_scores, scan
from services.pairing.domain import Fellow, Group, Round, Weights, score_group
from services.pairing.relaxation import candidates

K = 12  # candidate partners kept per learner and per sharer
POOL_SLACK = 2 * scoring.SCALE  # pairs within two points of their prices are re-checked cheaply
MAX_PRICING_ROUNDS = 60
MAX_CAPACITY = 10
KEEP_SCORES = 1 << 27  # learners x sharers up to this are scored once and kept (int32: 512 MiB at most)
LEARNER = "learner"  # sorts before SHARER: learners come first in the encoded cohort
SHARER = "sharer"

Ints = npt.NDArray[np.int64]


class CapacityRefused(ValueError):
    """Input the capacity matcher refuses (a capacity out of range, a lock breaking a rule, ...)."""


@dataclass(frozen=True)
class Placement:
    """The result: for each learner (input order) its sharer's index, -1 when left out."""

    sharer_of: Ints
    total: int  # sum of the placed pairs' edge weights (scoring.SCALE points per unit, locks included)
    bound: float  # an upper bound on that total over every placement with as many learners placed
    optimal: bool  # the total provably is the optimum: most learners placed, then most weight
    placed: int
    most_placed: int  # the most learners any placement can place (the LP's certificate, locks included)
    left_out: dict[int, str]  # learner index -> why it is left out
    edges: int  # candidate pairs in the final graph
    pricing_rounds: int


def place(
    learners: Sequence[Fellow],
    sharers: Sequence[Fellow],
    capacity: Sequence[int],
    weights: Weights,
    earlier: Iterable[frozenset[uuid.UUID]] = (),
    forbidden: Iterable[tuple[int, int]] = (),
    locked: Iterable[tuple[int, int]] = (),
    k: int = K,
) -> Placement:
    """Place every learner it can with a sharer of another organisation, within each sharer's capacity.

    ``forbidden`` and ``locked`` are (learner index, sharer index) pairs; ``earlier`` the pairs of people
    (``Fellow.person``) paired before. ``CapacityRefused`` explains bad input.
    """
    caps = np.asarray(capacity, dtype=np.int64).reshape(-1)
    if caps.size != len(sharers):
        raise CapacityRefused(f"{len(sharers)} sharers but {caps.size} capacities")
    if caps.size and (caps.min() < 1 or caps.max() > MAX_CAPACITY):
        raise CapacityRefused(f"a capacity must be between 1 and {MAX_CAPACITY}")
    ids = [f.id for f in learners] + [f.id for f in sharers]
    if len(set(ids)) != len(ids):
        raise CapacityRefused("every learner and sharer needs an id of its own")
    n_l, n_s = len(learners), len(sharers)
    ruled = {_checked(pair, n_l, n_s, "a forbidden pair") for pair in forbidden}
    locks = [_checked(pair, n_l, n_s, "a lock") for pair in locked]
    cohort, learner_at, sharer_at = encode(learners, sharers, weights, earlier, ruled)

    left = np.ones(n_l, dtype=bool)
    room = caps.copy()
    locked_total = 0
    for lo, sh in locks:
        if not left[lo]:
            raise CapacityRefused(f"learner {lo} is in two locks")
        w = cohort.weight(int(learner_at[lo]), n_l + int(sharer_at[sh]))
        if not w:
            why = (
                "the two are of one organisation"
                if learners[lo].organisation_id == sharers[sh].organisation_id
                else "the pair is ruled out (a conflict or the board's exclusion)"
            )
            raise CapacityRefused(f"the lock of learner {lo} with sharer {sh} breaks a hard rule: {why}")
        if room[sh] == 0:
            raise CapacityRefused(f"sharer {sh} has more locks than places ({caps[sh]})")
        left[lo] = False
        room[sh] -= 1
        locked_total += w

    # the free problem, in the cohort's order: learner rows 0..n_l-1, sharer columns n_l..n_l+n_s-1
    free_row = np.zeros(n_l, dtype=bool)
    free_row[learner_at[left]] = True
    room_at = np.zeros(n_s, dtype=np.int64)
    room_at[sharer_at] = room
    solved = solve(cohort, room_at, free_row, k)

    sharer_of = np.full(n_l, -1, dtype=np.int64)
    for lo, sh in locks:
        sharer_of[lo] = sh
    order_of_sharer = np.empty(n_s, dtype=np.int64)
    order_of_sharer[sharer_at] = np.arange(n_s)
    got = solved.mates[learner_at]
    free_and_placed = left & (got >= 0)
    sharer_of[free_and_placed] = order_of_sharer[got[free_and_placed]]
    left_out = {
        lo: why_left_out(bool(solved.reachable[learner_at[lo]]), learners[lo], sharers)
        for lo in np.flatnonzero(sharer_of < 0).tolist()
    }
    return Placement(
        sharer_of=sharer_of,
        total=solved.total + locked_total,
        bound=solved.bound + locked_total,
        optimal=solved.optimal,
        placed=int((sharer_of >= 0).sum()),
        most_placed=solved.most_placed + len(locks),
        left_out=left_out,
        edges=solved.edges,
        pricing_rounds=solved.rounds,
    )


def _checked(pair: tuple[int, int], n_l: int, n_s: int, what: str) -> tuple[int, int]:
    lo, sh = (int(x) for x in pair)
    if not (0 <= lo < n_l and 0 <= sh < n_s):
        raise CapacityRefused(f"{what} names learner {lo} and sharer {sh}, not both in the cohort")
    return lo, sh


def encode(
    learners: Sequence[Fellow],
    sharers: Sequence[Fellow],
    weights: Weights,
    earlier: Iterable[frozenset[uuid.UUID]],
    ruled: Iterable[tuple[int, int]],
) -> tuple[scoring.Cohort, Ints, Ints]:
    """The cohort in bipartite mode (learners first) and where each learner and sharer landed in it."""
    people = [*learners, *sharers]
    sides = [LEARNER] * len(learners) + [SHARER] * len(sharers)
    forbidden = [frozenset({learners[lo].id, sharers[sh].id}) for lo, sh in ruled]
    cohort = scoring.encode(people, "bipartite", weights, earlier, forbidden, sides)
    at = {f.id.int: k for k, f in enumerate(cohort.fellows)}  # by the id's integer: hashed in C
    learner_at = np.array([at[f.id.int] for f in learners], dtype=np.int64)
    sharer_at = np.array([at[f.id.int] - len(learners) for f in sharers], dtype=np.int64)
    return cohort, learner_at, sharer_at


def why_left_out(reachable: bool, learner: Fellow, sharers: Sequence[Fellow]) -> str:
    """Why a learner of an optimal placement is left out; ``reachable``: some sharer is allowed."""
    if reachable:
        return "every sharer this learner may join is full"
    if any(s.organisation_id != learner.organisation_id for s in sharers):
        return "every sharer from another organisation is ruled out (a conflict or the board's exclusion)"
    return "no sharer from another organisation is in the cohort"


@dataclass(frozen=True)
class Solved:
    mates: Ints  # per learner row: the sharer (0-based among sharers), -1 when left out
    total: int
    bound: float
    optimal: bool
    most_placed: int
    edges: int
    rounds: int
    reachable: npt.NDArray[np.bool_]  # per learner row: some sharer is allowed (before capacity)


def solve(cohort: scoring.Cohort, room: Ints, free: npt.NDArray[np.bool_], k: int = K) -> Solved:
    """The lexicographic optimum (most placed, then most weight) over the ``free`` learner rows and the
    sharers' ``room``, with the duals' bound on the full graph."""
    n_s = room.size
    n_l = cohort.n - n_s
    if not n_s or not n_l or not free.any():
        nobody = np.full(n_l, -1, dtype=np.int64)
        return Solved(nobody, 0, 0.0, True, 0, 0, 0, np.zeros(n_l, dtype=bool))  # no one free, or no sharer
    heaviest = int(cohort.table.max(initial=0)) + int(cohort.interest_lut.max(initial=0))
    big = int(free.sum()) * heaviest + 1
    graph = Graph(n_l, n_s, room, free)
    kept = kept_scores(cohort, n_l) if n_l * n_s <= KEEP_SCORES else None
    zero = np.zeros(n_s, dtype=np.int64)
    # the first candidates: each learner's best sharers (a scan at zero prices: within a point of its best)
    _, seeded, _, _ = scan(cohort, free, room, np.zeros(n_l, dtype=np.int64), zero, big, POOL_SLACK, masked=kept)
    graph.add(*seeded.ends, seeded.weight)
    if k and kept is not None:  # and each sharer's best learners
        graph.add(*matrix_kernels.column_tops(kept, NONE, k))
    elif k:
        mine = candidates(cohort, k, among=slice(n_l, cohort.n))
        lo, hi = mine.ends
        graph.add(lo, hi - n_l, mine.weight)
    rounds = 0
    while True:
        rounds += 1
        mates, u, v = graph.solve(big)
        found, pool, cover, reachable = scan(cohort, free, room, u, v, big, POOL_SLACK, masked=kept)
        if not found.code.size or rounds >= MAX_PRICING_ROUNDS:
            break
        if not graph.add(*found.ends, found.weight):
            break
        graph.add(*pool.ends, pool.weight)  # the near ones too: fewer rounds of the assignment
    total = graph.total(mates)
    placed = int((mates >= 0).sum())
    bound_big = int(cover.sum()) + int((room * v).sum())
    mine_big = placed * big + total
    most = min(n_l, bound_big // big)
    return Solved(
        mates=mates,
        total=total,
        bound=float(bound_big - placed * big),
        optimal=mine_big >= bound_big,
        most_placed=int(most),
        edges=graph.edges.code.size,
        rounds=rounds,
        reachable=reachable,
    )


def round_of(
    fellows: Sequence[Fellow],
    host_role: str,
    weights: Weights,
    earlier: Iterable[frozenset[uuid.UUID]] = (),
    forbidden: Iterable[frozenset[uuid.UUID]] = (),
    locked: Iterable[frozenset[uuid.UUID]] = (),
) -> Round:
    """A round of a kind where one role hosts (shadowing: sharers, mentoring: mentors): each other fellow
    placed with one host within the host's ``capacity``. ``forbidden`` and ``locked`` are pairs of fellow
    ids; a lock the rules or the places cannot keep is let go (the board's routes refuse those), and the
    pairs published earlier come in as locks, so they stay."""
    hosts = [f for f in fellows if f.role == host_role]
    guests = [f for f in fellows if f.role != host_role]
    host_at = {f.id: k for k, f in enumerate(hosts)}
    guest_at = {f.id: k for k, f in enumerate(guests)}

    def as_index(pair: frozenset[uuid.UUID]) -> tuple[int, int] | None:
        a, b = sorted(pair)
        if a in guest_at and b in host_at:
            return guest_at[a], host_at[b]
        if b in guest_at and a in host_at:
            return guest_at[b], host_at[a]
        return None

    ruled = {i for p in forbidden if len(p) == 2 and (i := as_index(p)) is not None}
    room = [f.capacity for f in hosts]
    taken: set[int] = set()
    locks: list[tuple[int, int]] = []
    for p in locked:
        i = as_index(p) if len(p) == 2 else None
        if i is None or i in ruled or i[0] in taken or room[i[1]] == 0:
            continue
        if guests[i[0]].organisation_id == hosts[i[1]].organisation_id:
            continue
        taken.add(i[0])
        room[i[1]] -= 1
        locks.append(i)
    placement = place(guests, hosts, [f.capacity for f in hosts], weights, earlier, ruled, locks)
    seen = {frozenset(p) for p in earlier}
    result = Round(weight=placement.total, bound=placement.bound, optimal=placement.optimal)
    for g, h in enumerate(placement.sharer_of.tolist()):
        if h >= 0:
            group = score_group([guests[g], hosts[h]], "peer", weights, seen)
            assert isinstance(group, Group)
            result.groups.append(group)
    for g, why in placement.left_out.items():
        result.unpaired[guests[g].id] = why
    return result


def warm() -> float:
    """Compile the capacity matcher's kernels (``bmatch``, ``matrix_kernels``) on a cohort of three, with
    the types a real round passes them, so that the service's first round does not wait for numba
    (seconds of compiling, far less from numba's cache: docs/decisions/0014); the seconds it took."""
    started = time.perf_counter()
    org = [uuid.UUID(int=k + 1) for k in range(3)]
    days = frozenset({"Monday", "Tuesday"})
    people = [Fellow(uuid.UUID(int=100 + k), org[k], "nhs_trust", "north", "clinical", days) for k in range(3)]
    place(people[:2], people[2:], [1], Weights())
    return time.perf_counter() - started

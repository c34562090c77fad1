"""A pairing round: maximum-weight matching over the cohort under the hard rule (pure, no I/O).

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

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import rustworkx as rx
from scipy import sparse
from scipy.optimize import LinearConstraint, milp
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from services.pairing import scoring
from services.pairing.domain import Fellow, Group, Round, Weights, allowed, match

K = 12  # candidate partners kept per fellow
SAMPLE = 2048  # of how many fellows each keeps its best
MAX_PRICING_ROUNDS = 40
POOL_SLACK = 2 * scoring.SCALE  # pairs within a point of their prices are re-checked cheaply
EXACT_MAX = 3000  # up to here a matching that misses the bound is re-solved with the blossom algorithm
TRIO_EXACT_MAX = 45
TRIO_NOTE = "trio: the cohort has an odd number of fellows"

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Solution:
    mates: Ints  # mate of each fellow (index), -1 when unmatched
    weight: int
    bound: float
    edges: int  # candidate edges in the final graph
    pricing_rounds: int

    @property
    def optimal(self) -> bool:
        return self.weight >= int(self.bound)


class _Edges:
    """An undirected edge set i < j with weights, kept unique and sorted."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.code: Ints = np.zeros(0, dtype=np.int64)
        self.weight: Ints = np.zeros(0, dtype=np.int64)

    def add(self, i: Ints, j: Ints, w: Ints) -> int:
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        code = np.concatenate([self.code, lo * self.n + hi])
        weight = np.concatenate([self.weight, w])
        before = self.code.size
        self.code, first = np.unique(code, return_index=True)
        self.weight = weight[first]
        return int(self.code.size - before)

    @property
    def ends(self) -> tuple[Ints, Ints]:
        return self.code // self.n, self.code % self.n


def _candidates(cohort: scoring.Cohort, k: int) -> _Edges:
    """Each fellow's ``k`` best allowed partners among a sample of ``SAMPLE`` fellows (all of a small cohort).

    The sample is drawn afresh (from a fixed seed) for each block of rows, so ties at the top spread over
    the cohort; pricing then adds whatever the sample missed. In bipartite mode only the other side counts.
    """
    edges = _Edges(cohort.n)
    parts: list[tuple[Ints, Ints, Ints]] = []
    rng = np.random.default_rng(20261123)
    for start, stop, span in cohort.partner_blocks():
        width = span.stop - span.start
        if width <= 0:
            continue
        cols: slice | Ints = span
        if width > SAMPLE:
            cols = np.sort(span.start + rng.choice(width, SAMPLE, replace=False))
        w = cohort.rows(start, stop, cols)
        width = w.shape[1]
        if width <= k:
            i, j = np.nonzero(w)
        else:
            top = np.argpartition(w, width - k, axis=1)[:, width - k :].reshape(-1)
            rows = np.repeat(np.arange(stop - start), k)
            keep = w[rows, top] > 0
            i, j = rows[keep], top[keep]
        weights = w[i, j].astype(np.int64)
        partner = j.astype(np.int64) + span.start if isinstance(cols, slice) else cols[j]
        parts.append((i.astype(np.int64) + start, partner, weights))
    if parts:
        edges.add(*(np.concatenate([p[k] for p in parts]) for k in range(3)))
    return edges


def _duals(n: int, edges: _Edges) -> tuple[Ints, Ints]:
    """Twice the optimal fractional-matching duals of the candidate graph: y2[i] + y2[j] >= 2 w(i, j), y2 >= 0.

    Also returns the assignment ``sigma`` (row -> column), a cycle cover of the candidate graph.
    Solves the double-cover assignment (costs ``top + 1 - w``, a self-loop of weight 0 for staying alone)
    and recovers the column prices as shortest distances in its residual graph (Bellman-Ford, vectorised).
    """
    i, j = edges.ends
    top = int(edges.weight.max(initial=0)) + 1
    diag = np.arange(n, dtype=np.int64)
    rows = np.concatenate([i, j, diag])
    cols = np.concatenate([j, i, diag])
    cost = np.concatenate([top - edges.weight, top - edges.weight, np.full(n, top, dtype=np.int64)])
    matrix = sparse.csr_matrix((cost.astype(np.float64), (rows, cols)), shape=(n, n))
    row_ind, col_ind = min_weight_full_bipartite_matching(matrix)
    sigma = np.empty(n, dtype=np.int64)
    sigma[row_ind] = col_ind
    assigned = cols == sigma[rows]
    c_assigned = np.empty(n, dtype=np.int64)
    c_assigned[rows[assigned]] = cost[assigned]
    # column prices v: v[j] <= v[sigma(r)] + cost(r, j) - cost(r, sigma(r)) for every edge (r, j)
    src = sigma[rows[~assigned]]
    dst = cols[~assigned]
    length = cost[~assigned] - c_assigned[rows[~assigned]]
    order = np.argsort(dst, kind="stable")
    src, dst, length = src[order], dst[order], length[order]
    targets, starts = np.unique(dst, return_index=True)
    v = np.zeros(n, dtype=np.int64)
    for _ in range(n + 1):
        if not targets.size:
            break
        best = np.minimum.reduceat(v[src] + length, starts)
        current = v[targets]
        better = best < current
        if not better.any():
            break
        v[targets[better]] = best[better]
    else:  # pragma: no cover - an optimal assignment has no negative cycle
        raise RuntimeError("the assignment's residual graph has a negative cycle")
    u = c_assigned - v[sigma]
    y2: Ints = top - u - v
    return y2, sigma


def _scan(cohort: scoring.Cohort, y2: Ints, slack: int = 0) -> tuple[_Edges, _Edges, Ints]:
    """Pairs of the full graph whose weight beats their prices (and those within ``slack`` of it, the
    pool for the next rounds), and the prices raised just enough to cover every pair (a valid bound)."""
    fixed = y2.copy()
    wide = int(y2.max(initial=0)) + slack >= np.iinfo(cohort.dtype).max // 2
    prices = y2.astype(np.int32 if wide else cohort.dtype)
    parts: list[tuple[Ints, Ints, Ints]] = []
    for start, stop, cols in cohort.partner_blocks():
        if cols.stop <= cols.start:
            continue
        w = cohort.rows(start, stop, cols)
        d = w.astype(prices.dtype, copy=True)
        d *= 2
        d -= prices[None, cols]
        fixed[start:stop] = np.maximum(fixed[start:stop], d.max(axis=1))
        d -= prices[start:stop, None]
        i, j = np.nonzero(d > -slack)
        keep = i + start < j + cols.start  # each pair once (the matrix is symmetric)
        i, j = i[keep], j[keep]
        parts.append((i.astype(np.int64) + start, j.astype(np.int64) + cols.start, w[i, j].astype(np.int64)))
    i = np.concatenate([p[0] for p in parts])
    j = np.concatenate([p[1] for p in parts])
    weight = np.concatenate([p[2] for p in parts])
    pool = _Edges(cohort.n)
    pool.add(i, j, weight)
    return _violations(pool, y2), pool, fixed


def _violations(pool: _Edges, y2: Ints) -> _Edges:
    i, j = pool.ends
    hit = 2 * pool.weight > y2[i] + y2[j]
    found = _Edges(pool.n)
    found.add(i[hit], j[hit], pool.weight[hit])
    return found


def _break_cycles(n: int, edges: _Edges, sigma: Ints) -> Ints:
    """A matching from the assignment's cycle cover: 2-cycles are pairs, an even cycle gives the better of
    its two alternating matchings (equal when the assignment is optimal), an odd cycle drops the fellow
    whose absence leaves the heaviest alternating path; the dropped ones are paired among themselves."""
    mates = np.full(n, -1, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    nxt = sigma.tolist()
    dropped: list[int] = []

    def weight(a: int, b: int) -> int:
        lo, hi = min(a, b), max(a, b)
        at = int(np.searchsorted(edges.code, lo * n + hi))
        return int(edges.weight[at]) if at < edges.code.size and edges.code[at] == lo * n + hi else 0

    for start in range(n):
        if seen[start]:
            continue
        cycle = [start]
        seen[start] = True
        x = nxt[start]
        while x != start:
            cycle.append(x)
            seen[x] = True
            x = nxt[x]
        size = len(cycle)
        if size == 1:
            continue
        if size == 2:
            mates[cycle[0]], mates[cycle[1]] = cycle[1], cycle[0]
            continue
        arc = [weight(cycle[k], cycle[(k + 1) % size]) for k in range(size)]
        if size % 2 == 0:
            shift = 0 if sum(arc[0::2]) >= sum(arc[1::2]) else 1
        else:  # drop cycle[t]: keep arcs t+1, t+3, ... (an alternating path over the others)
            shift = max(range(size), key=lambda t: (sum(arc[(t + 1 + 2 * m) % size] for m in range(size // 2)), -t))
            dropped.append(cycle[shift])
            shift += 1
        for m in range(size // 2):
            a, b = cycle[(shift + 2 * m) % size], cycle[(shift + 2 * m + 1) % size]
            mates[a], mates[b] = b, a
    if len(dropped) > 1:
        sub = _Edges(n)
        for k, a in enumerate(dropped):
            for b in dropped[k + 1 :]:
                w = weight(a, b)
                if w:
                    sub.add(np.array([a]), np.array([b]), np.array([w]))
        extra = _blossom(n, sub)
        paired = np.flatnonzero(extra >= 0)
        mates[paired] = extra[paired]
    return mates


def _most_pairs(cohort: scoring.Cohort) -> int:
    """How many pairs the full allowed graph can hold (closed form for both modes)."""
    n = cohort.n
    orgs = np.bincount(cohort.organisation) if n else np.zeros(0, dtype=np.int64)
    if cohort.mode != "bipartite":
        return min(n // 2, n - int(orgs.max(initial=0)))
    sides = np.unique(cohort.side)
    if sides.size != 2:
        return 0
    left = cohort.side == sides[0]
    per_org_left = np.bincount(cohort.organisation[left], minlength=orgs.size)
    per_org_right = np.bincount(cohort.organisation[~left], minlength=orgs.size)
    size_l, size_r = int(left.sum()), int((~left).sum())
    deficiency = max(0, size_l - size_r, int((per_org_left + per_org_right).max(initial=0)) - size_r)
    return size_l - deficiency


def _blossom(n: int, edges: _Edges) -> Ints:
    graph: rx.PyGraph = rx.PyGraph()
    graph.add_nodes_from(range(n))
    i, j = edges.ends
    graph.extend_from_weighted_edge_list(list(zip(i.tolist(), j.tolist(), edges.weight.tolist(), strict=True)))
    mates = np.full(n, -1, dtype=np.int64)
    for a, b in rx.max_weight_matching(graph, max_cardinality=True, weight_fn=int):
        mates[a], mates[b] = b, a
    return mates


def _weight_of(edges: _Edges, mates: Ints) -> int:
    n = edges.n
    mine = np.flatnonzero(mates > np.arange(n))
    return int(edges.weight[np.searchsorted(edges.code, mine * n + mates[mine])].sum())


def solve(cohort: scoring.Cohort, k: int = K) -> Solution:
    """A maximum-weight (maximum-cardinality) matching of the cohort, with an upper bound on its optimum."""
    n = cohort.n
    if n < 2:
        return Solution(np.full(n, -1, dtype=np.int64), 0, 0.0, 0, 0)
    edges = _candidates(cohort, k)
    y2, sigma = _duals(n, edges)
    rounds = 0
    while True:
        rounds += 1
        found, pool, fixed = _scan(cohort, y2, POOL_SLACK)
        bound2 = int(fixed.sum())
        if not found.code.size or rounds >= MAX_PRICING_ROUNDS:
            break
        edges.add(*found.ends, found.weight)
        y2, sigma = _duals(n, edges)
        while rounds < MAX_PRICING_ROUNDS:  # cheap rounds over the pool before the next full scan
            found = _violations(pool, y2)
            if not found.code.size:
                break
            rounds += 1
            edges.add(*found.ends, found.weight)
            y2, sigma = _duals(n, edges)
    mates = _break_cycles(n, edges, sigma)
    weight = _weight_of(edges, mates)
    wanted = _most_pairs(cohort)
    short = int((mates >= 0).sum()) // 2 < wanted
    if (weight < bound2 // 2 or short) and n <= EXACT_MAX:
        i, j = edges.ends
        on = y2[i] + y2[j] == 2 * edges.weight
        tight = _Edges(n)
        tight.add(i[on], j[on], edges.weight[on])
        for graph in (tight, edges):
            better = _blossom(n, graph)
            gain = _weight_of(edges, better)
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
            mates = _blossom(n, edges)
            weight = _weight_of(edges, mates)
            short = int((mates >= 0).sum()) // 2 < wanted
    return Solution(mates, weight, bound2 / 2, int(edges.code.size), rounds)


def pair(
    fellows: Sequence[Fellow],
    mode: str,
    weights: Weights,
    earlier: Iterable[frozenset[uuid.UUID]] = (),
) -> Round:
    """Pair a cohort so that the total score is maximal; an odd one out makes the one trio."""
    history = [p for p in earlier if len(p) == 2]
    cohort = scoring.encode(fellows, mode, weights, history)
    ordered = cohort.fellows
    solution = solve(cohort)
    mates = solution.mates
    n = cohort.n
    pairs = [(a, int(mates[a])) for a in range(n) if mates[a] > a]
    lonely = [a for a in range(n) if mates[a] < 0]
    trio: tuple[int, int, int] | None = None
    if len(lonely) % 2 == 1:
        peer = dataclasses.replace(cohort, mode="peer")  # same order, only the organisation rule
        exact = _exact_trio(cohort, peer) if len(lonely) == 1 and n <= TRIO_EXACT_MAX else None
        if exact is not None:
            pairs, trio = exact
            lonely = []
        else:
            trio = _best_insertion(cohort, peer, pairs, lonely)
            if trio is not None:
                pairs.remove((trio[0], trio[1]))
                lonely.remove(trio[2])
    seen = {frozenset(p) for p in history}
    result = Round(weight=solution.weight, bound=solution.bound, optimal=solution.optimal)
    groups = [tuple(sorted(p)) for p in pairs] + ([tuple(sorted(trio))] if trio else [])
    for members in sorted(groups):
        chosen = [ordered[m] for m in members]
        group = score_group(chosen, "peer", weights, seen)
        assert isinstance(group, Group)
        if len(members) == 3:
            group = Group(group.fellow_ids, group.score, (*group.reasons, TRIO_NOTE))
        result.groups.append(group)
    for f in lonely:
        result.unpaired[ordered[f].id] = _why_alone(cohort, f)
    return result


def _why_alone(cohort: scoring.Cohort, f: int) -> str:
    w = cohort.rows(f, f + 1)[0]
    if cohort.mode == "bipartite":
        if not w.any():
            return "no fellow on the other side from another organisation is in the cohort"
        return "every fellow on the other side from another organisation is already paired"
    if not w.any():
        return "no fellow from another organisation is in the cohort"
    return "every fellow from another organisation is already paired (one organisation has most of the cohort)"


def _trio_value(peer: scoring.Cohort, a: int, b: int, c: int) -> int:
    w = peer.rows(c, c + 1)[0]
    return int(w[a]) + int(w[b]) + peer.weight(a, b)


def _best_insertion(
    cohort: scoring.Cohort, peer: scoring.Cohort, pairs: list[tuple[int, int]], lonely: list[int]
) -> tuple[int, int, int] | None:
    """The left-over fellow and pair whose trio gains most (ties: the lowest indices)."""
    if not pairs:
        return None
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    best: tuple[int, int, int, int] | None = None
    for f in lonely:
        w = peer.rows(f, f + 1)[0].astype(np.int64)
        ok = (w[a] > 0) & (w[b] > 0)
        if cohort.mode == "bipartite":
            ok &= peer.side[a] != peer.side[b]
        if not ok.any():
            continue
        gain = np.where(ok, w[a] + w[b], -1)
        k = int(np.argmax(gain))
        if best is None or gain[k] > best[0]:
            best = (int(gain[k]), int(a[k]), int(b[k]), f)
    return None if best is None else (best[1], best[2], best[3])


def _exact_trio(
    cohort: scoring.Cohort, peer: scoring.Cohort
) -> tuple[list[tuple[int, int]], tuple[int, int, int]] | None:
    """Pairs plus exactly one trio covering every fellow, of maximal total weight (an integer programme)."""
    n = cohort.n
    w = cohort.rows(0, n).astype(np.int64)
    wp = peer.rows(0, n).astype(np.int64)
    pi, pj = np.nonzero(np.triu(w, 1))
    trios = [
        (a, b, c)
        for a in range(n)
        for b in range(a + 1, n)
        if wp[a, b]
        for c in range(b + 1, n)
        if wp[a, c] and wp[b, c] and (w[a, b] or w[a, c] or w[b, c])
    ]
    if not trios:
        return None
    t = np.array(trios, dtype=np.int64)
    values = np.concatenate([w[pi, pj], wp[t[:, 0], t[:, 1]] + wp[t[:, 0], t[:, 2]] + wp[t[:, 1], t[:, 2]]])
    columns = pi.size + len(trios)
    member_rows = np.concatenate([pi, pj, t[:, 0], t[:, 1], t[:, 2]])
    member_cols = np.concatenate([np.arange(pi.size)] * 2 + [pi.size + np.arange(len(trios))] * 3)
    cover = sparse.csr_matrix((np.ones(member_rows.size), (member_rows, member_cols)), shape=(n, columns))
    one_trio = sparse.csr_matrix(np.concatenate([np.zeros(pi.size), np.ones(len(trios))])[None, :])
    result = milp(
        c=-values.astype(np.float64),
        constraints=[LinearConstraint(cover, 1, 1), LinearConstraint(one_trio, 1, 1)],
        integrality=np.ones(columns),
        bounds=(0, 1),
    )
    if not result.success or result.x is None:
        return None
    chosen = np.flatnonzero(result.x > 0.5)
    pairs = [(int(pi[c]), int(pj[c])) for c in chosen if c < pi.size]
    trio = next(tuple(int(x) for x in t[c - pi.size]) for c in chosen if c >= pi.size)
    return pairs, (trio[0], trio[1], trio[2])


def score_group(
    members: Sequence[Fellow],
    mode: str,
    weights: Weights,
    earlier: Iterable[frozenset[uuid.UUID]] = (),
) -> Group | str:
    """Score a group (a pair, or a trio); the reason when it breaks the hard rule."""
    seen = earlier if isinstance(earlier, set | frozenset) else set(earlier)
    total = 0.0
    reasons: list[str] = []
    for i, a in enumerate(members):
        for b in members[i + 1 :]:
            problem = allowed(a, b, mode if len(members) == 2 else "peer")
            if problem:
                return problem
            m = match(a, b, weights, frozenset({a.person, b.person}) in seen)
            total += m.score
            reasons.extend(r for r in m.reasons if r not in reasons)
    if mode == "bipartite" and len(members) == 3 and len({m.side for m in members}) < 2:
        return f"all three are {members[0].side}"
    return Group(fellow_ids=tuple(f.id for f in members), score=total, reasons=tuple(reasons))

"""The candidate graph of a cohort and what the solver does with it (pure, no I/O; see ``matching``).

Candidates (each fellow's best partners among a sample), the fractional relaxation's dual prices on
them (the scans of the full graph against those prices are in ``pricing``), rounding the relaxation's
cycle cover to a matching, the closed-form most pairs of a cohort, and the exact blossom algorithm.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import rustworkx as rx
from scipy import sparse
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from services.pairing import scoring

SAMPLE = 2048  # of how many fellows each keeps its best

Ints = npt.NDArray[np.int64]


class Edges:
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


def candidates(cohort: scoring.Cohort, k: int, among: slice | None = None) -> Edges:
    """Each fellow's ``k`` best allowed partners among a sample of ``SAMPLE`` fellows (all of a small cohort).

    The sample is drawn afresh (from a fixed seed) for each block of rows, so ties at the top spread over
    the cohort; pricing then adds whatever the sample missed. In bipartite mode only the other side counts.
    ``among``: only the fellows of this range (one side in bipartite mode) look for theirs.
    """
    edges = Edges(cohort.n)
    parts: list[tuple[Ints, Ints, Ints]] = []
    rng = np.random.default_rng(20261123)
    for start, stop, span in cohort.partner_blocks():
        width = span.stop - span.start
        if width <= 0 or (among is not None and not among.start <= start < among.stop):
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


Potentials = tuple[Ints, Ints, Ints]  # an optimal assignment's row and column potentials and the assignment


def duals(n: int, edges: Edges, warm: Potentials | None = None) -> tuple[Ints, Ints, Potentials]:
    """Twice the optimal fractional-matching duals of the candidate graph: y2[i] + y2[j] >= 2 w(i, j), y2 >= 0.

    Also returns the assignment ``sigma`` (row -> column), a cycle cover of the candidate graph, and its
    potentials. Solves the double-cover assignment (costs ``top + 1 - w``, a self-loop of weight 0 for
    staying alone) and recovers the column prices as shortest distances in its residual graph
    (Bellman-Ford, vectorised).

    ``warm``: the potentials and assignment of the last round's solve (fewer edges). Every perfect
    assignment's cost changes by the same constant when each row and column loses its potential, so the
    solver is given those reduced costs (shifted to be at least 1: scipy drops explicit zeros), doubled,
    with 1 more on every entry the last assignment did not use. The last optimum is then nearly optimal
    and, above all, each column's cheapest entry as a rule: LAPJVsp's start (column reduction, augmenting
    row reduction) keeps most of it where, with the many ties of reduced costs, it left many rows to
    augment one by one (docs/decisions/0014). The tie-break may cost exactness (an assignment with fewer
    new entries could win by less than half a point), so the result counts only when its column prices
    settle within ``SETTLE`` rounds of Bellman-Ford: prices that satisfy every edge's constraint prove the
    assignment optimal for the true costs (complementary slackness); otherwise it is solved again without
    the tie-break.
    """
    i, j = edges.ends
    top = int(edges.weight.max(initial=0)) + 1
    diag = np.arange(n, dtype=np.int64)
    rows = np.concatenate([i, j, diag])
    cols = np.concatenate([j, i, diag])
    cost = np.concatenate([top - edges.weight, top - edges.weight, np.full(n, top, dtype=np.int64)])
    if warm is not None:
        reduced = cost - warm[0][rows] - warm[1][cols]
        given = 2 * (reduced + (1 - int(reduced.min(initial=1)))) + (cols != warm[2][rows])
        sigma = _assign(n, rows, cols, given)
        priced = _column_prices(n, rows, cols, cost, sigma, SETTLE)
        if priced is not None:
            return _prices(top, *priced, sigma)
    sigma = _assign(n, rows, cols, cost)
    priced = _column_prices(n, rows, cols, cost, sigma, n + 1)
    if priced is None:  # pragma: no cover - an optimal assignment has no negative cycle
        raise RuntimeError("the assignment's residual graph has a negative cycle")
    return _prices(top, *priced, sigma)


SETTLE = 500  # Bellman-Ford rounds a tie-broken assignment's prices may take before it is redone (ample)


def _assign(n: int, rows: Ints, cols: Ints, cost: Ints) -> Ints:
    """The min-cost perfect assignment of the sparse (positive) costs: row -> column."""
    matrix = sparse.csr_matrix((cost.astype(np.float64), (rows, cols)), shape=(n, n))
    row_ind, col_ind = min_weight_full_bipartite_matching(matrix)
    sigma = np.empty(n, dtype=np.int64)
    sigma[row_ind] = col_ind
    return sigma


def _column_prices(n: int, rows: Ints, cols: Ints, cost: Ints, sigma: Ints, limit: int) -> tuple[Ints, Ints] | None:
    """Column prices v with v[j] <= v[sigma(r)] + cost(r, j) - cost(r, sigma(r)) on every edge (r, j), by
    Bellman-Ford from 0, and each row's assigned cost; ``None`` when they have not settled in ``limit``
    rounds (a negative cycle: ``sigma`` is not optimal)."""
    assigned = cols == sigma[rows]
    c_assigned = np.empty(n, dtype=np.int64)
    c_assigned[rows[assigned]] = cost[assigned]
    src = sigma[rows[~assigned]]
    dst = cols[~assigned]
    length = cost[~assigned] - c_assigned[rows[~assigned]]
    order = np.argsort(dst.astype(np.uint16) if n <= 1 << 16 else dst, kind="stable")  # 16 bits: a radix sort
    src, dst, length = src[order], dst[order], length[order]
    targets, starts = np.unique(dst, return_index=True)
    v = np.zeros(n, dtype=np.int64)
    for _ in range(limit):
        if not targets.size:
            return v, c_assigned
        best = np.minimum.reduceat(v[src] + length, starts)
        better = best < v[targets]
        if not better.any():
            return v, c_assigned
        v[targets[better]] = best[better]
    return None


def _prices(top: int, v: Ints, c_assigned: Ints, sigma: Ints) -> tuple[Ints, Ints, Potentials]:
    u = c_assigned - v[sigma]
    y2: Ints = top - u - v
    return y2, sigma, (u, v, sigma)  # u per row, v per column: cost - u[row] - v[col] >= 0, 0 on the assignment


def break_cycles(n: int, edges: Edges, sigma: Ints) -> Ints:
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
        sub = Edges(n)
        for k, a in enumerate(dropped):
            for b in dropped[k + 1 :]:
                w = weight(a, b)
                if w:
                    sub.add(np.array([a]), np.array([b]), np.array([w]))
        extra = blossom(n, sub)
        paired = np.flatnonzero(extra >= 0)
        mates[paired] = extra[paired]
    return mates


def most_pairs(cohort: scoring.Cohort) -> int:
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


def blossom(n: int, edges: Edges) -> Ints:
    graph: rx.PyGraph = rx.PyGraph()
    graph.add_nodes_from(range(n))
    i, j = edges.ends
    graph.extend_from_weighted_edge_list(list(zip(i.tolist(), j.tolist(), edges.weight.tolist(), strict=True)))
    mates = np.full(n, -1, dtype=np.int64)
    for a, b in rx.max_weight_matching(graph, max_cardinality=True, weight_fn=int):
        mates[a], mates[b] = b, a
    return mates


def weight_of(edges: Edges, mates: Ints) -> int:
    n = edges.n
    mine = np.flatnonzero(mates > np.arange(n))
    return int(edges.weight[np.searchsorted(edges.code, mine * n + mates[mine])].sum())

"""The candidate graph of a cohort and what the solver does with it (pure, no I/O; see ``matching``).

Candidates (each fellow's best partners among a sample), the fractional relaxation's dual prices on
them, pricing scans of the full graph against those prices, rounding the relaxation's cycle cover to
a matching, the closed-form most pairs of a cohort, and the exact blossom algorithm.
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


Potentials = tuple[Ints, Ints]  # an optimal assignment's row and column potentials (cost - u - v >= 0)


def duals(n: int, edges: Edges, warm: Potentials | None = None) -> tuple[Ints, Ints, Potentials]:
    """Twice the optimal fractional-matching duals of the candidate graph: y2[i] + y2[j] >= 2 w(i, j), y2 >= 0.

    Also returns the assignment ``sigma`` (row -> column), a cycle cover of the candidate graph, and its
    potentials. Solves the double-cover assignment (costs ``top + 1 - w``, a self-loop of weight 0 for
    staying alone) and recovers the column prices as shortest distances in its residual graph
    (Bellman-Ford, vectorised).

    ``warm``: the potentials of the last round's assignment (fewer edges). Every perfect assignment's cost
    changes by the same constant when each row and column loses its potential, so the solver is given
    those reduced costs (shifted to be at least 1: scipy drops explicit zeros): the last optimum is
    nearly optimal there, and LAPJVsp's start (column reduction, augmenting row reduction) leaves few
    rows to augment. At 20,000 fellows a solve from scratch took 1.5-2 s of CPU, a dozen of them most
    of the round.
    """
    i, j = edges.ends
    top = int(edges.weight.max(initial=0)) + 1
    diag = np.arange(n, dtype=np.int64)
    rows = np.concatenate([i, j, diag])
    cols = np.concatenate([j, i, diag])
    cost = np.concatenate([top - edges.weight, top - edges.weight, np.full(n, top, dtype=np.int64)])
    given = cost
    if warm is not None:
        reduced = cost - warm[0][rows] - warm[1][cols]
        given = reduced + (1 - int(reduced.min(initial=1)))
    matrix = sparse.csr_matrix((given.astype(np.float64), (rows, cols)), shape=(n, n))
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
    return y2, sigma, (u, v)  # u per row, v per column: cost - u[row] - v[col] >= 0, 0 on the assignment


KEEP_BYTES = 512 << 20  # a peer cohort's scores up to this are kept between scans (400 MB at 20,000)


def scan(
    cohort: scoring.Cohort,
    y2: Ints,
    slack: int = 0,
    per_row: int = 0,
    kept: list[npt.NDArray[np.signedinteger]] | None = None,
) -> tuple[Edges, Edges, Ints]:
    """Pairs of the full graph whose weight beats their prices (and those within ``slack`` of it, the
    pool for the next rounds), and the prices raised just enough to cover every pair (a valid bound).

    With ``per_row``, in a block of rows that brings more than ``per_row / 2`` pairs a fellow, a fellow
    brings at most ``per_row``, the most violated: when one organisation sends 40 % of a cohort the first
    prices are beaten by a million pairs at 5,000 fellows, and solving with all of them cost ten times
    more than the rounds that find the few that matter. An even cohort brings one or two a fellow and
    keeps them all (capping there only added rounds).

    ``kept``: a list the first scan fills with each block's scores and later scans read (scoring is a
    third of a scan), ``None`` to score every block again."""
    fixed = y2.copy()
    wide = int(y2.max(initial=0)) + slack >= np.iinfo(cohort.dtype).max // 2
    kind = np.int32 if wide else cohort.dtype
    prices = y2.astype(kind)
    parts: list[tuple[Ints, Ints, Ints]] = []
    square = cohort.mode != "bipartite"
    reuse = kept is not None and len(kept) > 0
    for block, (start, stop, cols) in enumerate(cohort.partner_blocks()):
        if square:  # each pair once: the rows' partners from the block's first row on
            cols = slice(start, cols.stop)
        if reuse and kept is not None:
            w = kept[block]
        else:
            w = cohort.rows(start, stop, cols)
            if kept is not None:
                kept.append(w)
        if cols.stop <= cols.start:
            continue
        d = w.astype(prices.dtype, copy=True)
        d *= 2
        d -= prices[None, cols]
        d -= prices[start:stop, None]  # 2 w - y_i - y_j
        # cover: y_i raised to max_j 2 w - y_j over the row, and (the pairs seen once) over the column
        fixed[start:stop] = np.maximum(fixed[start:stop], d.max(axis=1) + y2[start:stop])
        if square:
            fixed[cols] = np.maximum(fixed[cols], d.max(axis=0) + y2[cols])
        np.copyto(d, kind(-slack), where=w == 0)  # not allowed: never in the pool
        i, j = np.nonzero(d > -slack)
        if per_row and i.size > per_row * (stop - start) // 2:  # crowded block only
            many = np.bincount(i, minlength=stop - start)[i] > per_row
            if many.any():  # keep the row's ``per_row`` most violated (ties: the lower column)
                ci, cj = i[many], j[many]
                order = np.lexsort((-d[ci, cj].astype(np.int64), ci))  # by row, the most violated first
                ci, cj = ci[order], cj[order]
                keep = np.arange(ci.size) - np.searchsorted(ci, ci) < per_row  # rank within the row
                i, j = np.concatenate([i[~many], ci[keep]]), np.concatenate([j[~many], cj[keep]])
        else:
            keep = i + start < j + cols.start  # each pair once (the matrix is symmetric)
            i, j = i[keep], j[keep]
        parts.append((i.astype(np.int64) + start, j.astype(np.int64) + cols.start, w[i, j].astype(np.int64)))
    i = np.concatenate([p[0] for p in parts])
    j = np.concatenate([p[1] for p in parts])
    weight = np.concatenate([p[2] for p in parts])
    pool = Edges(cohort.n)
    pool.add(i, j, weight)
    return violations(pool, y2), pool, fixed


def violations(pool: Edges, y2: Ints) -> Edges:
    i, j = pool.ends
    hit = 2 * pool.weight > y2[i] + y2[j]
    found = Edges(pool.n)
    found.add(i[hit], j[hit], pool.weight[hit])
    return found


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

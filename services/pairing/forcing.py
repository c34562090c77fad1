"""The exact cost of forcing a pair, from the optimum and its prices (pure, no I/O; see ``alternatives``).

Let ``M`` be the matcher's optimum and ``y`` prices of the relaxation with ``y_i + y_j >= w_ij`` on the
*full* graph and ``sum(y) = w(M)`` (then every pair of ``M`` is tight and every fellow left alone has
``y = 0``). Forcing ``(u, v)`` frees ``u``'s and ``v``'s partners ``u'`` and ``v'``; any matching ``N``
that holds ``(u, v)`` differs from ``M`` by chains that start at ``u'`` and ``v'``: a freed fellow ``a``
takes ``c``, whose partner ``mate(c)`` is freed in turn, until a chain takes the other freed fellow (the
two chains join), takes someone ``M`` left alone, or stops with a fellow left alone. With the reduced
cost ``rc(i, j) = y_i + y_j - w_ij >= 0``,

    w(M) - w(N) = rc(u, v) + sum of rc over the chains' new pairs + sum of y over the fellows left alone,

so the loss of the best ``N`` is ``rc(u, v)`` plus a shortest path in the graph whose nodes are the freed
fellows (``a -> mate(c)`` costs ``rc(a, c)``). Shortest paths (scipy's Dijkstra, compiled) are a lower
bound: a path that comes back to a pair it already broke (an odd cycle) is no matching. When the best
path is a real change (its pairs all distinct) the loss is exact; otherwise ``alternatives`` solves again.

Only pairs with ``rc <= REACH`` (and every pair with a fellow left alone) are in the graph, so a path
that costs at most ``REACH`` is exact for the full graph: any path the graph lacks costs more.
The matcher's objective is the most pairs, then the most weight: leaving a fellow alone costs ``BIG``
more, so one pair lost outweighs any score (``Forced.pairs_lost``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from services.pairing import scoring
from services.pairing.relaxation import Ints

REACH = 2 * scoring.SCALE  # reduced costs (doubled, as the prices are) up to a point of score
BATCH = 256  # sources per Dijkstra call

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Forced:
    pairs_lost: int
    weight_lost: int  # the matcher's points (scoring.SCALE per unit of score, per pair)


class Residual:
    """The graph of chains of one optimum (``mates``) under tight prices ``y2`` (twice the duals)."""

    def __init__(self, cohort: scoring.Cohort, mates: Ints, y2: Ints, reach: int = REACH) -> None:
        n = cohort.n
        self.cohort, self.mates, self.y2, self.n, self.reach = cohort, mates, y2, n, reach
        self.big = 4 * (int(y2.sum()) + 1)  # outweighs any loss of score: a pair lost comes first
        self.end_z, self.end_a = n, n + 1  # a chain ends by taking a fellow left alone / by leaving one alone
        matched = mates >= 0
        self.least_alone = int(y2[matched].min(initial=1 << 40))
        self.anyone_alone = bool((~matched).any())
        tails: list[Ints] = []
        heads: list[Ints] = []
        costs: list[Ints] = []
        z_tail: list[Ints] = []
        z_head: list[Ints] = []
        z_cost: list[Ints] = []
        alone = np.flatnonzero(~matched)
        for start, stop, cols in cohort.partner_blocks():
            if cols.stop <= cols.start:
                continue
            w = cohort.rows(start, stop, cols).astype(np.int64)
            rc = y2[start:stop, None] + y2[None, cols] - 2 * w
            i, j = np.nonzero((w > 0) & (rc <= reach))
            a, c = i + start, j + cols.start
            keep = matched[a] & matched[c] & (mates[a] != c)
            tails.append(a[keep])
            heads.append(mates[c[keep]])
            costs.append(rc[i[keep], j[keep]])
            if alone.size:  # every pair with a fellow left alone
                on = np.isin(np.arange(cols.start, cols.stop), alone)
                i2, j2 = np.nonzero((w > 0) & on[None, :])
                keep2 = matched[i2 + start]
                z_tail.append(i2[keep2] + start)
                z_head.append(j2[keep2] + cols.start)
                z_cost.append(rc[i2[keep2], j2[keep2]])
        tail, head, cost = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (tails, heads, costs))
        zt, zh, zc = (np.concatenate(x) if x else np.zeros(0, np.int64) for x in (z_tail, z_head, z_cost))
        # the cheapest fellow left alone each freed fellow can take (the rest are the same end)
        self.take = np.full(n, -1, dtype=np.int64)
        end_cost = np.full(n, -1, dtype=np.int64)
        if zt.size:
            order = np.lexsort((zh, zc, zt))
            first = np.unique(zt[order], return_index=True)[1]
            self.take[zt[order][first]] = zh[order][first]
            end_cost[zt[order][first]] = zc[order][first]
        has_z = self.take >= 0
        ends_a = np.flatnonzero(matched)
        tail = np.concatenate([tail, np.flatnonzero(has_z), ends_a])
        head = np.concatenate([head, np.full(int(has_z.sum()), self.end_z), np.full(ends_a.size, self.end_a)])
        cost = np.concatenate([cost, end_cost[has_z], y2[ends_a] + self.big])
        order = np.lexsort((cost, head, tail))  # one arc per (tail, head): the cheapest
        tail, head, cost = tail[order], head[order], cost[order]
        first = np.ones(tail.size, dtype=bool)
        first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        size = n + 2
        self.forward = sparse.csr_matrix(
            (cost[first].astype(np.float64), (tail[first], head[first])), shape=(size, size)
        )
        self.arcs = int(first.sum())
        back, self.back_pred = dijkstra(
            self.forward.T.tocsr(), directed=True, indices=[self.end_z, self.end_a], return_predecessors=True
        )
        self.to_z, self.to_a = back[0], back[1]
        self._from: dict[int, tuple[Floats, npt.NDArray[np.int32]]] = {}

    def prepare(self, sources: list[int]) -> None:
        """Shortest paths from the freed partners ``sources`` (batched Dijkstra calls)."""
        todo = sorted({s for s in sources if s >= 0 and s not in self._from})
        for k in range(0, len(todo), BATCH):
            chunk = todo[k : k + BATCH]
            dist, pred = dijkstra(self.forward, directed=True, indices=chunk, return_predecessors=True)
            for row, s in enumerate(chunk):
                self._from[s] = (dist[row], pred[row])

    def forget(self) -> None:
        self._from.clear()

    def _path(self, pred: npt.NDArray[np.int32], source: int, target: int) -> list[int]:
        """The nodes from ``source`` to ``target`` (``pred``: the Dijkstra tree towards ``target``)."""
        path = [target]
        while path[-1] != source:
            path.append(int(pred[path[-1]]))
        return path[::-1]

    def _chain(self, start: int, end: int) -> list[int]:
        """The freed fellows of the shortest chain from ``start`` to the end ``end`` (walking the reverse
        tree)."""
        pred = self.back_pred[0 if end == self.end_z else 1]
        nodes = [start]
        while nodes[-1] != end:
            nodes.append(int(pred[nodes[-1]]))
        return nodes[:-1]

    def loss(self, u: int, v: int) -> Forced | None:
        """The exact loss of forcing ``(u, v)``, or None when the shortest chains are no matching or
        reach beyond what the graph holds (the caller solves again)."""
        mates, y2 = self.mates, self.y2
        self.beyond = False  # whether the last loss was not proven because the graph does not reach it
        w = self.cohort.weight(u, v)
        if not w:
            return None
        if mates[u] == v:
            return Forced(0, 0)
        rc = int(y2[u] + y2[v]) - 2 * w
        ends = [int(mates[x]) for x in (u, v) if mates[x] >= 0]
        thr_z, thr_a = self.reach, self.reach + self.big + self.least_alone
        options: list[tuple[float, float, list[list[int]], list[int]]] = []  # value, its bound, chains, ends
        to = {self.end_z: self.to_z, self.end_a: self.to_a}
        thr = {self.end_z: thr_z, self.end_a: thr_a}

        def part(x: int, end: int) -> tuple[float, float]:
            d = float(to[end][x])
            if end == self.end_z and not self.anyone_alone:
                return d, np.inf
            return d, (d if d <= thr[end] else thr[end] + 1)

        # M has the most pairs, so no real change gains one: chains that both take a fellow left alone
        # (or the one chain, when u or v was alone) are no matching and are left out
        if len(ends) == 2:
            a, b = ends
            self.prepare([a])
            dist, pred = self._from[a]
            d = float(dist[v])
            if np.isfinite(d):
                options.append((d, d if d <= self.reach else self.reach + 1, [self._path(pred, a, v)], []))
            else:
                options.append((d, self.reach + 1, [], []))
            for ea, eb in ((self.end_z, self.end_a), (self.end_a, self.end_z), (self.end_a, self.end_a)):
                (da, la), (db, lb) = part(a, ea), part(b, eb)
                options.append((da + db - self.big, la + lb - self.big, [[a, ea], [b, eb]], [ea, eb]))
        else:
            (x,) = ends
            dx, lx = part(x, self.end_a)
            options.append((dx - self.big, lx - self.big, [[x, self.end_a]], [self.end_a]))
        bound = min(o[1] for o in options)
        best = min(options, key=lambda o: o[0])
        if not np.isfinite(best[0]) or best[0] > bound:
            self.beyond = True
            return None
        if not self._valid(u, v, best[2], best[3]):
            return None
        total = rc + round(best[0])
        pairs_lost = total // self.big
        weight2 = total - pairs_lost * self.big
        if weight2 % 2:
            return None
        return Forced(int(pairs_lost), weight2 // 2)

    def _valid(self, u: int, v: int, chains: list[list[int]], ends: list[int]) -> bool:
        """The chains are a real change of the matching: every pair they break is broken once, and each
        fellow left alone that they take is taken once (and is not ``u`` or ``v``)."""
        mates = self.mates
        broken: set[int] = set()
        taken: set[int] = set()
        for k, chain in enumerate(chains):
            end = ends[k] if ends else -1
            nodes = self._chain(chain[0], chain[1]) if ends else chain
            for a in nodes:
                key = min(a, int(mates[a]))
                if key in broken:
                    return False
                broken.add(key)
            if end == self.end_z:
                z = int(self.take[nodes[-1]])
                if z in taken or z in (u, v):
                    return False
                taken.add(z)
        return True

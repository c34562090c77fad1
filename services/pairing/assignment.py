"""The capacity matcher's machinery (``capacity`` uses it): the candidate pairs solved exactly as an
assignment on the sharers' places (scipy's LAPJVsp), the duals that price every pair, and the scan of
the full learners x sharers matrix for pairs that beat their prices. Pure, no I/O."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from services.pairing import scoring
from services.pairing.relaxation import Edges
from services.pairing.scoring import SCALE

NONE = -(1 << 29)  # a pair not allowed, in a scan's int32 arithmetic
NONE_WIDE = -(1 << 40)  # the same when the prices need int64
SCAN_BLOCK = 1 << 18  # pair scores a block of a scan: it stays in the cache between its passes (4 % less)
PER_ROW = 8  # at most this many of a learner's pairs join the pool of a scan (the most violated; 16 made the
# assignment a third larger and slower, 2-3 rounds either way)

Ints = npt.NDArray[np.int64]


class Graph:
    """The candidate pairs (learner row, sharer) of the free learners and sharers with room."""

    def __init__(self, n_l: int, n_s: int, room: Ints, free: npt.NDArray[np.bool_]) -> None:
        self.n_l, self.n_s, self.room, self.free = n_l, n_s, room, free
        self.edges = Edges(n_s)  # code = learner * n_s + sharer

    def add(self, learner: Ints, sharer: Ints, weight: Ints) -> int:
        """Add the pairs (the allowed ones of free learners and open sharers); how many were new."""
        keep = self.free[learner] & (self.room[sharer] > 0) & (weight > 0)
        return add_pairs(self.edges, learner[keep], sharer[keep], weight[keep])

    @property
    def pairs(self) -> tuple[Ints, Ints, Ints]:
        return self.edges.code // self.n_s, self.edges.code % self.n_s, self.edges.weight

    def assign(self, big: int) -> Ints:
        """The optimal placement on the candidate pairs, as an assignment of the sharers' places (each
        sharer copied once per place of room) to learners; a place may stay empty, or a learner be left
        out, at a cost of ``big`` more. The smaller side are the rows: LAPJVsp runs several times faster
        that way round (20,000 learners for 12,000 places: 0.4 s against 1.8 s).)"""
        mates = np.full(self.n_l, -1, dtype=np.int64)
        li, si, w = self.pairs
        if not li.size:
            return mates
        used = np.unique(li)
        column = np.full(self.n_l, -1, dtype=np.int64)
        column[used] = np.arange(used.size)
        first = np.concatenate([[0], np.cumsum(self.room)])
        places = int(first[-1])
        per = self.room[si]
        rep = np.repeat(np.arange(li.size), per)
        place = first[si[rep]] + (np.arange(rep.size) - np.repeat(np.cumsum(per) - per, per))
        top = int(w.max()) + 1
        owner = np.repeat(np.arange(self.n_s), self.room)
        real = (top - w[rep]).astype(np.float64)
        if places <= used.size:  # places as rows, each may stay empty (a column of its own)
            rows, cols, shape = place, column[li[rep]], (places, used.size)
        else:  # learners as rows, each may be left out (a column of its own)
            rows, cols, shape = column[li[rep]], place, (used.size, places)
        try:  # every row taken on the candidate pairs (as a rule): without the columns of their own, which
            # LAPJVsp would reset for every row (its rectangular case skips Jonker-Volgenant's start)
            row_ind, col_ind = min_weight_full_bipartite_matching(sparse.csr_matrix((real, (rows, cols)), shape=shape))
        except ValueError:  # no full matching: a row may take its own column, at ``big`` more
            k = shape[0]
            matrix = sparse.csr_matrix(
                (
                    np.concatenate([real, np.full(k, float(top + big))]),
                    (np.concatenate([rows, np.arange(k)]), np.concatenate([cols, shape[1] + np.arange(k)])),
                ),
                shape=(k, shape[1] + k),
            )
            row_ind, col_ind = min_weight_full_bipartite_matching(matrix)
        taken = col_ind < shape[1]
        if places <= used.size:
            mates[used[col_ind[taken]]] = owner[row_ind[taken]]
        else:
            mates[used[row_ind[taken]]] = owner[col_ind[taken]]
        return mates

    def weight(self, learner: Ints, sharer: Ints) -> Ints:
        code = learner * self.n_s + sharer
        at = np.minimum(np.searchsorted(self.edges.code, code), max(self.edges.code.size - 1, 0))
        return np.where(self.edges.code[at] == code, self.edges.weight[at], 0) if self.edges.code.size else code * 0

    def total(self, mates: Ints) -> int:
        placed = np.flatnonzero(mates >= 0)
        return int(self.weight(placed, mates[placed]).sum())

    def duals(self, mates: Ints, big: int) -> tuple[Ints, Ints]:
        """Optimal LP duals of the candidate problem (weights ``w + big``) from its optimal placement:
        the sharers' prices are the shortest distances from a root in the graph of the constraints
        v[s0] <= v[s] + w(l, s0) - w(l, s) (placed l at s0, any candidate s), v[s0] <= w(l, s0) + big
        (u_l >= 0) and v[s] <= 0 for a sharer with room left; then u_l = w(l, s0) + big - v[s0]."""
        li, si, w = self.pairs
        u = np.zeros(self.n_l, dtype=np.int64)
        v = np.zeros(self.n_s, dtype=np.int64)
        at = mates[li]
        placed = at >= 0
        if not placed.any():
            return u, v
        here = placed & (si == at)
        own = np.zeros(self.n_l, dtype=np.int64)
        own[li[here]] = w[here]
        load = np.bincount(mates[mates >= 0], minlength=self.n_s)
        full = (load >= self.room) & (self.room > 0)
        inf = np.iinfo(np.int64).max // 4
        start = np.full(self.n_s, inf, dtype=np.int64)
        np.minimum.at(start, at[here], w[here] + big)
        v = np.where(full, start, 0)
        move = placed & ~here
        src, dst = si[move], at[move]
        length = own[li[move]] - w[move]
        order = np.argsort(dst, kind="stable")
        src, dst, length = src[order], dst[order], length[order]
        targets, starts = np.unique(dst, return_index=True)
        for _ in range(self.n_s + 1):
            if not targets.size:
                break
            best = np.minimum.reduceat(v[src] + length, starts)
            better = best < v[targets]
            if not better.any():
                break
            v[targets[better]] = best[better]
        v = np.maximum(v, 0)  # optimal duals are >= 0 already; kept valid whatever happens
        ok = mates >= 0
        u[ok] = np.maximum(own[ok] + big - v[mates[ok]], 0)
        return u, v


def scan(
    cohort: scoring.Cohort,
    free: npt.NDArray[np.bool_],
    room: Ints,
    u: Ints,
    v: Ints,
    big: int,
    slack: int,
    full: npt.NDArray[np.signedinteger] | None = None,
    masked: npt.NDArray[np.int32] | None = None,
) -> tuple[Edges, Edges, Ints, npt.NDArray[np.bool_]]:
    """One pass over the full learners x sharers matrix against the duals: the allowed pairs with
    w + big > u_l + v_s, the pool of those within ``slack`` of it (at most ``PER_ROW`` a learner, the
    most violated first), each learner's price raised to cover its row (Σ cover + Σ room·v is a valid
    bound whatever the duals) and which learners have any allowed sharer at all. ``full``: the learners x
    sharers weights scored once (``capacity.solve`` keeps them when they fit), else each block is scored;
    ``masked``: the same as int32 with ``NONE`` where a pair is not allowed (``masked_scores``), which saves
    three of a scan's passes over the matrix."""
    n_s = room.size
    n_l = cohort.n - n_s
    cover = np.where(free, u, 0)
    pool = Edges(n_s)
    reachable = np.zeros(n_l, dtype=bool)
    wide = big + int(v.max(initial=0)) >= 1 << 28
    kind = np.int64 if wide else np.int32
    none = NONE_WIDE if wide else NONE  # far below any w - v_s: marks a pair that is not allowed
    price: npt.NDArray[np.signedinteger] = np.where(room > 0, v, -none).astype(kind)  # no room: takes no one
    step = max(1, (1 << 23) // n_s)
    width = min(PER_ROW, n_s - 1)
    never = np.iinfo(kind).max
    parts: list[tuple[Ints, Ints, Ints]] = []
    for start in range(0, n_l, step):
        stop = min(n_l, start + step)
        if masked is not None and not wide:  # w with ``none`` where not allowed, prepared once
            d: npt.NDArray[np.signedinteger] = masked[start:stop] - price[None, :]  # w - v_s
        else:
            w = full[start:stop] if full is not None else cohort.rows(start, stop, slice(n_l, cohort.n))
            d = w.astype(kind)
            np.copyto(d, kind(none), where=w == 0)
            np.subtract(d, price[None, :], out=d)
        best = d.max(axis=1)
        at = np.arange(start, stop)
        reachable[start:stop] = best > none
        mine = free[start:stop]
        best64 = best.astype(np.int64)
        cover[start:stop] = np.where(mine, np.maximum(cover[start:stop], best64 + big), 0)
        threshold = u[start:stop] - big  # w - v_s > u_l - big: the pair beats its prices
        near = mine & (best64 > threshold - slack)
        if not near.any():
            continue
        # within a point of the row's best (and within ``slack`` of its price), the near rows only
        level = np.maximum(best64 - SCALE, threshold - slack + 1)
        cut: npt.NDArray[np.signedinteger] = np.where(near, level, never).astype(kind)
        r, c = np.nonzero(d >= cut[:, None])
        count = np.bincount(r, minlength=stop - start)
        if (count > width).any():  # then about ``width`` of them, in a window of sharers that starts per row
            turn = (at[r] * 40503) % n_s
            keep = ((c - turn) % n_s) * count[r] < width * n_s
            keep |= d[r, c] == best[r]
            r, c = r[keep], c[keep]
        c = c.astype(np.int64)
        weight = d[r, c].astype(np.int64) + price[c]  # w = (w - v_s) + v_s
        parts.append((at[r], c, weight))
    if parts:
        add_pairs(pool, *(np.concatenate([p[k] for p in parts]) for k in range(3)))
    return violations(pool, u, v, big), pool, np.maximum(cover, 0), reachable


def masked_scores(full: npt.NDArray[np.signedinteger]) -> npt.NDArray[np.int32]:
    """The kept learners x sharers weights as a scan reads them: int32, ``NONE`` where not allowed."""
    masked = full.astype(np.int32)
    masked[full == 0] = NONE
    return masked


def violations(pool: Edges, u: Ints, v: Ints, big: int) -> Edges:
    """The pairs of ``pool`` that beat their prices: w + big > u_l + v_s."""
    li, si = pool.ends
    hit = pool.weight + big > u[li] + v[si]
    found = Edges(pool.n)
    add_pairs(found, li[hit], si[hit], pool.weight[hit])
    return found


def add_pairs(edges: Edges, learner: Ints, sharer: Ints, weight: Ints) -> int:
    """Directed (learner, sharer) pairs in an ``Edges`` of ``n`` = sharers: code = learner * n + sharer."""
    code = learner * edges.n + sharer
    return edges.add(np.zeros(code.size, dtype=np.int64), code, weight)

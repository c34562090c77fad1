"""The matcher's pricing scans (pure, no I/O; see ``matching``, step 2): every pair of the full graph
read against the relaxation's prices (``relaxation.duals``) for the pairs that beat them, with the pool
of pairs near their prices and a bound that holds whatever the prices.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from services.pairing import scoring
from services.pairing.relaxation import Edges, Ints

KEEP_BYTES = 512 << 20  # a cohort's scores up to this are kept between scans (a peer cohort of 20,000 fits)
PARTIAL_SHARE = 3  # a scan reads only the pairs of fellows whose prices fell when they are under 1/3 of them

Bools = npt.NDArray[np.bool_]
Index = slice | Ints


class Scores:
    """Each pair's weight as a scan reads it: doubled, and ``none`` where the pair is not allowed, so that a
    scan only subtracts the two prices (no mask, no doubling: fewer passes). Each pair once: blocks of rows
    against the partners from the block's first row on (peer mode) or one side's rows against the other
    side (bipartite). Kept, scored once, while they fit in ``KEEP_BYTES`` (scoring them again was much of
    each scan: docs/decisions/0014), else scored again block by block."""

    def __init__(self, cohort: scoring.Cohort) -> None:
        self.cohort = cohort
        n = cohort.n
        self.dtype: type[np.signedinteger] = cohort.dtype
        self.none = -(int(np.iinfo(self.dtype).max) // 2 + 1)  # 2 w < -none (scoring's choice of dtype)
        split = int(np.searchsorted(cohort.side, cohort.side[-1])) if cohort.mode == "bipartite" and n else 0
        last = split or n
        step = max(1, scoring.BLOCK_ELEMENTS // max(1, n - split))
        self.blocks = [(start, min(last, start + step), slice(split or start, n)) for start in range(0, last, step)]
        size = sum((stop - start) * (cols.stop - cols.start) for start, stop, cols in self.blocks)
        self.kept: list[npt.NDArray[np.signedinteger]] | None = (
            [] if size * np.dtype(self.dtype).itemsize <= KEEP_BYTES else None
        )

    def _doubled(self, start: int, stop: int, cols: Index, at: Ints | None = None) -> npt.NDArray[np.signedinteger]:
        w = self.cohort.rows(start, stop, cols, at)
        not_allowed = w == 0
        w *= 2
        w += not_allowed * self.dtype(self.none)  # arithmetic: a masked copy of scattered pairs is slower
        return w

    def pieces(self, touched: Bools | None = None) -> Iterator[tuple[Index, Index, npt.NDArray[np.signedinteger]]]:
        """(rows, columns, doubled weights): every pair once, or (``touched``) every pair of a touched fellow
        (each at least once): a block's touched rows against all its partners, its rows against its touched
        partners."""
        for k, (start, stop, cols) in enumerate(self.blocks):
            block = self.kept[k] if self.kept is not None and len(self.kept) > k else None
            if touched is None:
                if block is None:
                    block = self._doubled(start, stop, cols)
                    if self.kept is not None and len(self.kept) == k:
                        self.kept.append(block)
                yield slice(start, stop), cols, block
                continue
            rows = start + np.flatnonzero(touched[start:stop])
            if rows.size:
                yield rows, cols, block[rows - start] if block is not None else self._doubled(start, stop, cols, rows)
            partners = cols.start + np.flatnonzero(touched[cols])
            if partners.size:
                given = block[:, partners - cols.start] if block is not None else self._doubled(start, stop, partners)
                yield slice(start, stop), partners, given

    def kind(self, y2: Ints, slack: int) -> type[np.signedinteger]:
        """The narrowest integer type in which 2 w - y_i - y_j cannot overflow, ``none`` included."""
        need = -self.none + 2 * (int(y2.max(initial=0)) + slack)
        for kind in (np.int16, np.int32):
            if np.iinfo(kind).max >= np.iinfo(self.dtype).max and need <= np.iinfo(kind).max:
                return kind
        return np.int64


def scan(
    scores: Scores, y2: Ints, slack: int = 0, per_row: int = 0, touched: Bools | None = None
) -> tuple[Edges, Edges, Ints, Bools]:
    """Pairs of the full graph whose weight beats their prices (and those within ``slack`` of it, the
    pool for the next rounds), the prices raised just enough to cover every pair (a valid bound), and the
    fellows of which a violated pair was left out of the pool (see ``per_row``).

    With ``per_row``, in a piece that brings more than ``per_row / 2`` pairs a row, a row brings at most
    ``per_row``, the most violated: when one organisation sends a large share of a cohort the first prices
    are beaten by a great many pairs, and solving with all of them cost far more than the rounds that find
    the few that matter (docs/decisions/0014). An even cohort brings one or two a fellow and keeps them
    all.

    ``touched``: read only the pairs of these fellows. Exact when the rest cannot beat the prices: a pair
    that was neither in the pool nor beating the last scan's prices, of two fellows whose prices have not
    fallen since, beats none now (the pairs of the pool are in the candidate graph, which the prices
    cover). So the caller touches the fellows whose prices fell and those of which a violated pair was
    left out."""
    n = y2.size
    fixed = y2.copy()
    left_out = np.zeros(n, dtype=bool)
    kind = scores.kind(y2, slack)
    prices = y2.astype(kind)
    parts: list[tuple[Ints, Ints, Ints]] = []
    for rows, cols, doubled in scores.pieces(touched):
        d = np.subtract(doubled, prices[rows, None], dtype=kind)
        d -= prices[None, cols]  # 2 w - y_i - y_j
        # cover: y_i raised to max_j 2 w - y_j over its row (y_j >= its own price covers the pair)
        best = d.max(axis=1)
        fixed[rows] = np.maximum(fixed[rows], best + y2[rows])
        near = d > -slack
        flat = np.flatnonzero(near)
        if not flat.size:
            continue
        if per_row and flat.size > per_row * d.shape[0] // 2:  # a crowded piece
            # a crowded row's pairs within a point of its best only (sorting all the near pairs of a
            # crowded first scan was slow), then its ``per_row`` most violated of those
            many = np.count_nonzero(near, axis=1) > per_row
            level = np.where(many, np.maximum(best.astype(np.int64) - 2 * scoring.SCALE, 1 - slack), 1 - slack)
            flat = np.flatnonzero(d >= level[:, None].astype(kind))
            i, j = np.divmod(flat, d.shape[1])
            i, j, dropped = most_violated(i, j, d[i, j], slack, per_row)
            left_out[_at(rows, dropped)] = True
            left_out[_at(rows, np.flatnonzero(level > 1))] = True  # violated pairs below the level, perhaps
        else:
            i, j = np.divmod(flat, d.shape[1])
        parts.append((_at(rows, i), _at(cols, j), doubled[i, j].astype(np.int64) // 2))
    pool = Edges(n)
    if parts:
        pool.add(*(np.concatenate([p[k] for p in parts]) for k in range(3)))
    return violations(pool, y2), pool, fixed, left_out


def _at(index: Index, local: Ints) -> Ints:
    return local.astype(np.int64) + index.start if isinstance(index, slice) else index[local]


def most_violated(
    i: Ints, j: Ints, d: npt.NDArray[np.signedinteger], slack: int, per_row: int
) -> tuple[Ints, Ints, Ints]:
    """Of near pairs (row ``i`` ascending, column ``j``, ``d`` = 2 w - y_i - y_j > -slack), the ``per_row``
    most violated of each row (ties: the lower column), and the rows whose pairs left out include a
    violated one. One sort of packed keys (row, how far from the most violated, column): a lexsort of a
    crowded first scan's near pairs was much slower (docs/decisions/0014)."""
    many = np.bincount(i)[i] > per_row
    if not many.any():
        return i, j, np.zeros(0, dtype=np.int64)
    ci, cj, cd = i[many].astype(np.int64), j[many].astype(np.int64), d[many].astype(np.int64)
    behind = np.minimum((1 << 20) - 1 - (cd + slack), (1 << 20) - 1).clip(0)  # 0: the most violated
    key = np.sort(ci << 42 | behind << 22 | cj)
    ci, cj = key >> 42, key & ((1 << 22) - 1)
    start = np.r_[True, ci[1:] != ci[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(ci.size), 0))
    keep = np.arange(ci.size) - first < per_row
    violated = ((1 << 20) - 1 - ((key >> 22) & ((1 << 20) - 1))) > slack
    dropped = np.unique(ci[~keep & violated])
    return np.concatenate([i[~many], ci[keep]]), np.concatenate([j[~many], cj[keep]]), dropped


def violations(pool: Edges, y2: Ints) -> Edges:
    i, j = pool.ends
    hit = 2 * pool.weight > y2[i] + y2[j]
    found = Edges(pool.n)
    found.add(i[hit], j[hit], pool.weight[hit])
    return found

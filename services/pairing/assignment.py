"""The capacity matcher's machinery (``capacity`` uses it): the candidate pairs solved exactly with the
duals that price every pair (``bmatch.solve``), the kept scores and the scan of the full learners x
sharers matrix for pairs that beat their prices (``matrix_kernels``' compiled passes). Pure, no I/O."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from services.pairing import bmatch, matrix_kernels, scoring
from services.pairing.relaxation import Edges
from services.pairing.scoring import SCALE

NONE = -(1 << 29)  # a pair not allowed, in the kept int32 scores
SCAN_BLOCK = 1 << 22  # pair scores a block of a scan scores at a time when they are not kept
PER_ROW = 8  # at most this many of a learner's pairs join the pool of a scan (the most violated; fewer
# pairs make more rounds, more make dearer ones, and neither won clearly: docs/decisions/0014)

Ints = npt.NDArray[np.int64]


class Graph:
    """The candidate pairs (learner row, sharer) of the free learners and sharers with room."""

    def __init__(self, n_l: int, n_s: int, room: Ints, free: npt.NDArray[np.bool_]) -> None:
        self.n_l, self.n_s, self.room, self.free = n_l, n_s, room, free
        self.edges = Edges(n_s)  # code = learner * n_s + sharer
        self.mates: Ints | None = None  # the last solve's placement and duals
        self.u: Ints = np.zeros(0, dtype=np.int64)
        self.v: Ints = np.zeros(0, dtype=np.int64)

    def add(self, learner: Ints, sharer: Ints, weight: Ints) -> int:
        """Add the pairs (the allowed ones of free learners and open sharers); how many were new."""
        keep = self.free[learner] & (self.room[sharer] > 0) & (weight > 0)
        return add_pairs(self.edges, learner[keep], sharer[keep], weight[keep])

    @property
    def pairs(self) -> tuple[Ints, Ints, Ints]:
        return self.edges.code // self.n_s, self.edges.code % self.n_s, self.edges.weight

    def solve(self, big: int) -> tuple[Ints, Ints, Ints]:
        """The optimal placement on the candidate pairs (weights ``w + big``) and its LP duals ``u``
        (learners) and ``v`` (sharers), by ``bmatch.solve``; from the last solve's when there was one
        (only what the new pairs upset is searched again)."""
        li, si, w = self.pairs
        ptr = np.searchsorted(li, np.arange(self.n_l + 1)).astype(np.int64)
        warm = self.mates is not None
        if self.mates is None:
            self.mates = np.full(self.n_l, -1, dtype=np.int64)
            self.u = np.zeros(self.n_l, dtype=np.int64)
            self.v = np.zeros(self.n_s, dtype=np.int64)
        if li.size:
            bmatch.solve(ptr, si, w + big, self.room, self.mates, self.u, self.v, warm)
        return self.mates, self.u, self.v

    def weight(self, learner: Ints, sharer: Ints) -> Ints:
        code = learner * self.n_s + sharer
        at = np.minimum(np.searchsorted(self.edges.code, code), max(self.edges.code.size - 1, 0))
        return np.where(self.edges.code[at] == code, self.edges.weight[at], 0) if self.edges.code.size else code * 0

    def total(self, mates: Ints) -> int:
        placed = np.flatnonzero(mates >= 0)
        return int(self.weight(placed, mates[placed]).sum())


def scan(
    cohort: scoring.Cohort,
    free: npt.NDArray[np.bool_],
    room: Ints,
    u: Ints,
    v: Ints,
    big: int,
    slack: int,
    masked: npt.NDArray[np.int32] | None = None,
) -> tuple[Edges, Edges, Ints, npt.NDArray[np.bool_]]:
    """One pass over the full learners x sharers matrix against the duals (``matrix_kernels.scan_rows``):
    the allowed pairs with w + big > u_l + v_s, the pool of each learner that has one (its pairs within
    ``slack`` of it, at most ``PER_ROW``, the most violated first), each learner's price raised to cover
    its row (Σ cover + Σ room·v is a valid bound whatever the duals) and which learners have any allowed
    sharer at all. ``masked``: the learners x sharers weights scored once, int32 with ``NONE`` where a pair
    is not allowed (``kept_scores``; ``capacity.solve`` keeps them when they fit), else each block is
    scored."""
    n_s = room.size
    n_l = cohort.n - n_s
    cover = np.zeros(n_l, dtype=np.int64)
    reachable = np.zeros(n_l, dtype=bool)
    step = max(1, SCAN_BLOCK // max(n_s, 1)) if masked is None else n_l
    width = min(PER_ROW, n_s)
    u, v = u.astype(np.int64), v.astype(np.int64)
    parts: list[tuple[Ints, Ints, Ints]] = []
    for start in range(0, n_l, step):
        stop = min(n_l, start + step)
        block = masked if masked is not None else masked_scores(cohort.rows(start, stop, slice(n_l, cohort.n)))
        ends = np.empty((3, (stop - start) * width), dtype=np.int64)
        out = (ends[0], ends[1], ends[2])
        got = matrix_kernels.scan_rows(
            block, start, NONE, free, room > 0, u, v, big, slack, SCALE, width, out, cover, reachable
        )
        parts.append((out[0][:got], out[1][:got], out[2][:got]))
    pool = Edges(n_s)
    add_pairs(pool, *(np.concatenate([p[k] for p in parts]) for k in range(3)))
    return violations(pool, u, v, big), pool, cover, reachable


def kept_scores(cohort: scoring.Cohort, n_l: int) -> npt.NDArray[np.int32]:
    """The learners x sharers weights of a bipartite cohort (learners first) as a scan reads them (the same
    as ``masked_scores(cohort.rows(0, n_l, sharers))``), scored in one compiled pass
    (``matrix_kernels.kept_scores``) instead of the gathers of a profile table's rows and columns that
    ``rows`` does (twice as long: docs/decisions/0014)."""
    n = cohort.n
    words = np.stack([np.asarray(word, dtype=np.uint64) for word in cohort.interests])
    organisation = cohort.organisation.astype(np.int32)
    masked = matrix_kernels.kept_scores(
        cohort.table,
        cohort.profile[:n_l],
        cohort.profile[n_l:],
        np.ascontiguousarray(words[:, :n_l]),
        np.ascontiguousarray(words[:, n_l:]),
        cohort.interest_lut.astype(np.int64),
        organisation[:n_l],
        organisation[n_l:],
        NONE,
    )
    for codes, points in ((cohort.history, cohort.history_points), (cohort.forbidden, None)):
        row, col = np.divmod(codes, n)
        here = (row < n_l) & (col >= n_l)
        row, col = row[here], col[here] - n_l
        allowed = masked[row, col] != NONE
        if points is None:
            masked[row, col] = NONE
        else:
            masked[row[allowed], col[allowed]] -= points
    return masked


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

"""An odd cohort's one trio, and why a fellow is left alone (pure, no I/O; see ``matching``).

Up to ``TRIO_EXACT_MAX`` fellows the whole partition (pairs and exactly one trio) is solved exactly as
an integer programme (HiGHS); beyond, the left-over fellow joins the pair that gains most.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import sparse
from scipy.optimize import LinearConstraint, milp

from services.pairing import scoring

TRIO_EXACT_MAX = 45
TRIO_NOTE = "trio: the cohort has an odd number of fellows"


def with_trio(
    cohort: scoring.Cohort, pairs: list[tuple[int, int]], lonely: list[int]
) -> tuple[list[tuple[int, int]], tuple[int, int, int] | None, list[int]]:
    """The pairs, the trio (if any) and who is still alone, once an odd one out has joined a trio."""
    trio: tuple[int, int, int] | None = None
    if len(lonely) % 2 == 1:
        peer = dataclasses.replace(cohort, mode="peer")  # same order, only the organisation rule
        exact = exact_trio(cohort, peer) if len(lonely) == 1 and cohort.n <= TRIO_EXACT_MAX else None
        if exact is not None:
            pairs, trio = exact
            lonely = []
        else:
            trio = best_insertion(cohort, peer, pairs, lonely)
            if trio is not None:
                pairs.remove((trio[0], trio[1]))
                lonely.remove(trio[2])
    return pairs, trio, lonely


def why_alone(cohort: scoring.Cohort, f: int) -> str:
    w = cohort.rows(f, f + 1)[0]
    if cohort.mode == "bipartite":
        if not w.any():
            return "no fellow on the other side from another organisation is in the cohort"
        return "every fellow on the other side from another organisation is already paired"
    if not w.any():
        return "no fellow from another organisation is in the cohort"
    return "every fellow from another organisation is already paired (one organisation has most of the cohort)"


def best_insertion(
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


def exact_trio(
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

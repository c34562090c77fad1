"""The capacity matcher's compiled passes over the full learners x sharers matrix (numba): its scores,
each sharer's best learners, and the pricing scan against the b-matching's duals (``bmatch``). Pure, no I/O.

``scan_rows``: one pass per row of the kept weights, branch-free so that it vectorises (the row's best
w - v, its cover), then a second only for the rows with a pair near its price (the pool, ``per_row`` at
most). ``column_tops``: each sharer's best learners in one pass (candidates). ``kept_scores``: the
learners x sharers weights in one pass, int32 as a scan reads them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from services.pairing.bmatch import CACHE, INF, Ints

FAR = -(INF >> 2)  # a pair not allowed, in a scan: far below any allowed w - v (no room: -INF more)


@njit(cache=CACHE)
def scan_rows(
    masked: npt.NDArray[np.int32],
    first: int,
    none: int,
    free: npt.NDArray[np.bool_],
    open_: npt.NDArray[np.bool_],
    u: Ints,
    v: Ints,
    big: int,
    slack: int,
    point: int,
    per_row: int,
    out: tuple[Ints, Ints, Ints],
    cover: Ints,
    reachable: npt.NDArray[np.bool_],
) -> int:
    """One pass over rows ``first:first + len(masked)`` of the learners x sharers weights (``none``: not
    allowed) against the prices: each learner's ``cover`` (its price raised to cover its row: with
    Σ room·v a bound whatever the prices), whether it has any allowed sharer, and, when a pair of the row
    beats its prices (w + big > u + v), its pool: the pairs within a ``point`` of its best w - v and within
    ``slack`` of beating their prices, at most ``per_row``, the best first (a row whose pairs all keep to
    their prices brings none: its near pairs made rounds fewer but each scan dearer, slower in all). Ties
    go to the sharers met first from a starting place that turns with the learner, so that learners
    alike do not all ask the same sharers. Writes the pool to ``out`` (learner, sharer, w); its size."""
    rows, n_s = masked.shape
    out_l, out_s, out_w = out
    keep_d = np.empty(per_row, np.int64)
    keep_s = np.empty(per_row, np.int64)
    price = np.empty(n_s, np.int64)  # a sharer without room takes no one: priced out of reach
    for s in range(n_s):
        price[s] = v[s] if open_[s] else INF
    n = 0
    for i in range(rows):
        lo = first + i
        row = masked[i]
        top = np.int64(none)
        best = -INF
        for s in range(n_s):  # branch-free: the compiler vectorises it
            x = np.int64(row[s])
            top = max(top, x)
            best = max(best, (x if x > none else FAR) - price[s])
        allowed = top > none
        if best < FAR:  # nothing allowed with room
            best = -INF
        reachable[lo] = allowed
        if not free[lo]:
            cover[lo] = 0
            continue
        cover[lo] = max(u[lo], best + big) if best > -INF else u[lo]
        threshold = u[lo] - big  # w - v > threshold: the pair beats its prices
        if best == -INF or best <= threshold:  # nothing beats its prices: the row brings no pairs
            continue
        level = max(best - point, threshold - slack + 1)
        k = 0
        turn = (lo * 40503) % n_s
        for part in range(2):  # sharers turn..n_s - 1, then 0..turn - 1
            first_s, last_s = (turn, n_s) if part == 0 else (0, turn)
            for s in range(first_s, last_s):
                x = np.int64(row[s])
                d = (x if x > none else FAR) - price[s]
                if d < level or (k == per_row and d <= keep_d[k - 1]):
                    continue
                at = k if k < per_row else per_row - 1
                while at > 0 and keep_d[at - 1] < d:
                    if at < per_row:
                        keep_d[at] = keep_d[at - 1]
                        keep_s[at] = keep_s[at - 1]
                    at -= 1
                keep_d[at] = d
                keep_s[at] = s
                if k < per_row:
                    k += 1
        for t in range(k):
            out_l[n] = lo
            out_s[n] = keep_s[t]
            out_w[n] = keep_d[t] + v[keep_s[t]]
            n += 1
    return n


@njit(cache=CACHE)
def column_tops(masked: npt.NDArray[np.int32], none: int, k: int) -> tuple[Ints, Ints, Ints]:
    """Each sharer's (column's) ``k`` best learners of the kept weights, ties broken by a hash of the
    pair (not by the learners' order): (learner, sharer, w) of each, in one pass over the rows."""
    n_l, n_s = masked.shape
    key = np.full((n_s, k), -INF, np.int64)  # w << 20 | hash
    who = np.full((n_s, k), -1, np.int64)
    low = np.full(n_s, -INF, np.int64)
    low_at = np.zeros(n_s, np.int64)
    for i in range(n_l):
        for s in range(n_s):
            x = masked[i, s]
            if x == none:
                continue
            c = (np.int64(x) << 20) | ((i * 40503 + s * 9973) & 0xFFFFF)
            if c <= low[s]:
                continue
            key[s, low_at[s]] = c
            who[s, low_at[s]] = i
            at = 0
            for t in range(1, k):
                if key[s, t] < key[s, at]:
                    at = t
            low[s] = key[s, at]
            low_at[s] = at
    count = 0
    for s in range(n_s):
        for t in range(k):
            if who[s, t] >= 0:
                count += 1
    out_l = np.empty(count, np.int64)
    out_s = np.empty(count, np.int64)
    out_w = np.empty(count, np.int64)
    n = 0
    for s in range(n_s):
        for t in range(k):
            if who[s, t] >= 0:
                out_l[n] = who[s, t]
                out_s[n] = s
                out_w[n] = key[s, t] >> 20
                n += 1
    return out_l, out_s, out_w


@njit(cache=CACHE)
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=CACHE)
def kept_scores(
    table: npt.NDArray[np.signedinteger],
    profile_l: npt.NDArray[np.int32],
    profile_s: npt.NDArray[np.int32],
    words_l: npt.NDArray[np.uint64],
    words_s: npt.NDArray[np.uint64],
    lut: Ints,
    organisation_l: npt.NDArray[np.int32],
    organisation_s: npt.NDArray[np.int32],
    none: int,
) -> npt.NDArray[np.int32]:
    """The learners x sharers weights as ``scoring.Cohort.rows`` scores them (the profile table, the
    shared interests' points; ``none`` for two of one organisation), int32 as a scan reads them, in one
    pass; earlier pairings and ruled-out pairs are few and are set afterwards. ``words_*``: the interest
    bit masks, a row per word."""
    n_l, n_s = profile_l.size, profile_s.size
    out = np.empty((n_l, n_s), np.int32)
    n_words = words_l.shape[0] if lut.size else 0
    for i in range(n_l):
        row = table[profile_l[i]]
        for j in range(n_s):
            x = np.int64(row[profile_s[j]])
            if n_words:
                shared = 0
                for k in range(n_words):
                    shared += _popcount(words_l[k, i] & words_s[k, j])
                x += lut[shared]
            out[i, j] = x if organisation_l[i] != organisation_s[j] else none
    return out

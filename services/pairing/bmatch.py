"""The capacity matcher's compiled b-matching (numba): an exact primal-dual b-matching on the candidate
pairs that keeps its LP duals, so that they price every other pair (``matrix_kernels.scan_rows``). Pure, no I/O.

The b-matching: learners take one sharer each, sharer ``s`` up to ``cap[s]``, every pair (l, s) of the
candidate graph worth ``w[l, s] > 0`` (the capacity matcher passes weights with ``big`` added, so that the
most learners placed comes first). It keeps the LP's duals all along (the Hungarian method with
potentials, each sharer one node with its capacity, no copies of its places):

- feasible: ``u[l] >= 0``, ``v[s] >= 0`` and ``u[l] + v[s] >= w[l, s]`` on every candidate pair;
- tight: ``u[l] + v[s] == w[l, s]`` on every pair placed; a sharer with room has ``v[s] == 0``.

What is left are *roots*: a learner left out with ``u > 0``, or a sharer with room and ``v > 0``. A
Dijkstra from a root over the reduced costs ``u + v - w >= 0`` (alternating: a full node passes on to the
partners it holds, and a node that joins the tree brings the partners it holds at its own distance) ends
at the nearest node with room (the path is flipped: one more placed), or where a node's dual would reach
0 (it lets one partner go, or the root gives up its claim); the duals of the nodes settled before move by
the distance, which keeps both properties. One search serves both sides (learners or sharers as roots).
When no root is left, Σu + Σ cap·v equals the total: the placement is optimal on the candidate graph,
and ``u``, ``v`` price every other pair for the scan.

Start from scratch: the fewer side (the sharers' places or the learners) claims first, each node its
best pairs at zero prices on the other side (most are placed there); the rest are roots. Warm start
(after pricing added pairs): the previous placement and duals are kept; a learner whose price no longer
covers its new pairs is let go (its price raised to cover them: a root), and the sharer it leaves is a
root when its price is positive. Only those are searched again: the sharers first (a sharer's search
makes no learner a root), then the learners (a learner's makes no sharer one).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

Ints = npt.NDArray[np.int64]

try:  # numba keeps what it compiles beside this file (or in NUMBA_CACHE_DIR); where neither can be written
    # (the image's read-only file system) ``cache=True`` would refuse to import: compile in each process then
    # (``matrix_kernels``, beside this file, compiles by the same flag)
    njit(cache=True)(lambda: None)
    CACHE = True
except RuntimeError:
    CACHE = False

INF = np.int64(1) << np.int64(62)


@njit(cache=CACHE)
def _push(hkey: Ints, hnode: Ints, size: int, key: int, node: int) -> int:
    """A binary heap of (key, node) in two arrays; returns the new size."""
    i = size
    while i > 0 and hkey[(i - 1) >> 1] > key:
        hkey[i], hnode[i] = hkey[(i - 1) >> 1], hnode[(i - 1) >> 1]
        i = (i - 1) >> 1
    hkey[i], hnode[i] = key, node
    return size + 1


@njit(cache=CACHE)
def _pop(hkey: Ints, hnode: Ints, size: int) -> int:
    """Removes the smallest entry (read it from hkey[0], hnode[0] first); the new size."""
    size -= 1
    key, node, i = hkey[size], hnode[size], 0
    child = 1
    while child < size:
        if child + 1 < size and hkey[child + 1] < hkey[child]:
            child += 1
        if hkey[child] >= key:
            break
        hkey[i], hnode[i] = hkey[child], hnode[child]
        i, child = child, 2 * child + 1
    hkey[i], hnode[i] = key, node
    return size


@njit(cache=CACHE)
def _link(x: int, y: int, load_x: Ints, start_x: Ints, slot_x: Ints, load_y: Ints, start_y: Ints, slot_y: Ints) -> None:
    slot_x[start_x[x] + load_x[x]] = y
    load_x[x] += 1
    slot_y[start_y[y] + load_y[y]] = x
    load_y[y] += 1


@njit(cache=CACHE)
def _drop(a: int, b: int, load: Ints, start: Ints, slot: Ints) -> None:
    first = start[a]
    last = first + load[a] - 1
    for k in range(first, last + 1):
        if slot[k] == b:
            slot[k] = slot[last]
            load[a] -= 1
            return


@njit(cache=CACHE)
def _work(
    n_x: int, n_y: int, heap: int
) -> tuple[tuple[Ints, Ints, Ints, Ints, Ints], tuple[Ints, Ints, Ints, Ints], tuple[Ints, Ints]]:
    """The scratch arrays of the searches (X: the roots' side, Y: the other)."""
    y = np.zeros((4, n_y), np.int64)
    wy = (np.full(n_y, INF, np.int64), y[0], y[1], y[2], y[3])  # dist, pred, done, touched, settled
    x = np.zeros((4, n_x), np.int64)
    wx = (x[0], x[1], x[2], x[3])  # d_x, enter, in_x, tree_x
    return wy, wx, (np.zeros(heap, np.int64), np.zeros(heap, np.int64))


@njit(cache=CACHE)
def _relax(
    x: int,
    dx: int,
    ptr: Ints,
    adj: Ints,
    w: Ints,
    y_x: Ints,
    y_y: Ints,
    load_x: Ints,
    start_x: Ints,
    slot_x: Ints,
    load_y: Ints,
    cap_y: Ints,
    wy: tuple[Ints, Ints, Ints, Ints, Ints],
    counts: Ints,
    heap: tuple[Ints, Ints],
) -> None:
    """X node ``x`` joins the tree at distance ``dx``: the nodes it holds are settled there too (their
    duals move with its own, so its pairs stay tight), and its other pairs are relaxed.
    ``counts``: nodes touched, nodes settled, heap size, whether a node with room is at ``dx``. Keys in the
    heap are 2 x distance, + 1 unless a node with room."""
    dist, pred, done, touched, settled = wy
    hkey, hnode = heap
    for k in range(start_x[x], start_x[x] + load_x[x]):
        y = slot_x[k]
        if done[y]:
            continue
        if dist[y] == INF:
            touched[counts[0]] = y
            counts[0] += 1
        dist[y] = dx
        done[y] = 1
        settled[counts[1]] = y
        counts[1] += 1
    base = dx + y_x[x]
    size = counts[2]
    for e in range(ptr[x], ptr[x + 1]):
        y = adj[e]
        if done[y]:
            continue
        d = base + y_y[y] - w[e]
        if d < dist[y]:
            if dist[y] == INF:
                touched[counts[0]] = y
                counts[0] += 1
            dist[y] = d
            pred[y] = x
            full = load_y[y] >= cap_y[y]
            size = _push(hkey, hnode, size, 2 * d + full, y)  # among equals a node with room first
            if d == dx and not full:
                counts[3] = 1
    counts[2] = size


@njit(cache=CACHE)
def _search(
    root: int,
    ptr: Ints,
    adj: Ints,
    w: Ints,
    y_x: Ints,
    y_y: Ints,
    cap_y: Ints,
    load_x: Ints,
    start_x: Ints,
    slot_x: Ints,
    load_y: Ints,
    start_y: Ints,
    slot_y: Ints,
    wy: tuple[Ints, Ints, Ints, Ints, Ints],
    wx: tuple[Ints, Ints, Ints, Ints],
    heap: tuple[Ints, Ints],
) -> int:
    """One root's search (the root on side X: learners or sharers, the same code either way round), its
    dual update and its path flipped. Returns how many Y nodes it settled."""
    dist, pred, done, touched, settled = wy
    d_x, enter, in_x, tree_x = wx
    hkey, hnode = heap
    n_y = dist.size
    tree_x[0] = root
    in_x[root] = 1
    d_x[root] = 0
    n_tree = 1
    counts = np.zeros(4, np.int64)  # touched, settled, heap size, a node with room found at the least distance
    counts[2] = _push(hkey, hnode, 0, 2 * y_x[root] + 1, n_y + root)  # the root's own dual down to 0
    _relax(root, 0, ptr, adj, w, y_x, y_y, load_x, start_x, slot_x, load_y, cap_y, wy, counts, heap)
    terminal, top = -1, INF
    while counts[2] > 0:
        key, node = hkey[0] >> 1, hnode[0]
        counts[2] = _pop(hkey, hnode, counts[2])
        if node >= n_y:  # a node of X lets go of one pair (or the root of its claim): its dual reaches 0
            terminal, top = node, key
            break
        if done[node] or key != dist[node]:
            continue
        done[node] = 1
        settled[counts[1]] = node
        counts[1] += 1
        if load_y[node] < cap_y[node]:  # room: one more pair
            terminal, top = node, key
            break
        for k in range(start_y[node], start_y[node] + load_y[node]):
            holder = slot_y[k]
            if in_x[holder]:
                continue
            in_x[holder] = 1
            d_x[holder] = key
            enter[holder] = node
            tree_x[n_tree] = holder
            n_tree += 1
            counts[2] = _push(hkey, hnode, counts[2], 2 * (key + y_x[holder]) + 1, n_y + holder)
            _relax(holder, key, ptr, adj, w, y_x, y_y, load_x, start_x, slot_x, load_y, cap_y, wy, counts, heap)
            if counts[3]:  # nothing can beat it: the next pop
                break
    # the duals: settled Y up by top - d, the tree's X down by top - d (those closer than ``top``)
    for t in range(counts[1]):
        node = settled[t]
        if dist[node] < top:
            y_y[node] += top - dist[node]
    for t in range(n_tree):
        node = tree_x[t]
        if d_x[node] < top:
            y_x[node] -= top - d_x[node]
    # flip the path back to the root
    t_y = terminal
    if terminal >= n_y:
        gone = terminal - n_y
        t_y = -1
        if gone != root:
            t_y = enter[gone]
            _drop(gone, t_y, load_x, start_x, slot_x)
            _drop(t_y, gone, load_y, start_y, slot_y)
    while t_y >= 0:
        x = pred[t_y]
        nxt = -1
        if x != root:
            nxt = enter[x]
            _drop(x, nxt, load_x, start_x, slot_x)
            _drop(nxt, x, load_y, start_y, slot_y)
        _link(x, t_y, load_x, start_x, slot_x, load_y, start_y, slot_y)
        t_y = nxt
    for t in range(counts[0]):
        node = touched[t]
        dist[node] = INF
        done[node] = 0
    for t in range(n_tree):
        in_x[tree_x[t]] = 0
    return int(counts[1])


@njit(cache=CACHE)
def solve(ptr: Ints, sharer: Ints, w: Ints, cap: Ints, mate: Ints, u: Ints, v: Ints, warm: bool) -> tuple[int, int]:
    """The maximum-weight b-matching of the candidate pairs (learner l's pairs are ``ptr[l]:ptr[l + 1]``
    of ``sharer`` and ``w``, w > 0) within the capacities ``cap``, with its optimal duals, in place:
    ``mate`` (the sharer of each learner, -1 when left out), ``u`` and ``v``. ``warm``: start from the
    ``mate``, ``u`` and ``v`` given (the previous round's, before pairs were added), else from scratch.
    Returns (searches, nodes settled)."""
    n_l = ptr.size - 1
    n_s = cap.size
    m = sharer.size
    # the pairs by sharer too
    ptr_s = np.zeros(n_s + 1, np.int64)
    for e in range(m):
        ptr_s[sharer[e] + 1] += 1
    for s in range(n_s):
        ptr_s[s + 1] += ptr_s[s]
    fill = ptr_s[:-1].copy()
    learner_s = np.empty(m, np.int64)
    w_s = np.empty(m, np.int64)
    for lo in range(n_l):
        for e in range(ptr[lo], ptr[lo + 1]):
            s = sharer[e]
            learner_s[fill[s]] = lo
            w_s[fill[s]] = w[e]
            fill[s] += 1
    # who holds whom: a learner one sharer, a sharer up to its capacity
    cap_l = np.ones(n_l, np.int64)
    start_l = np.arange(n_l + 1).astype(np.int64)
    slot_l = np.zeros(n_l, np.int64)
    load_l = np.zeros(n_l, np.int64)
    start_s = np.zeros(n_s + 1, np.int64)
    for s in range(n_s):
        start_s[s + 1] = start_s[s] + cap[s]
    slot_s = np.zeros(start_s[n_s], np.int64)
    load_s = np.zeros(n_s, np.int64)
    if warm:  # keep each pair still tight whose learner's price covers its new pairs
        for lo in range(n_l):
            need = 0
            held = 0
            for e in range(ptr[lo], ptr[lo + 1]):
                need = max(need, w[e] - v[sharer[e]])
                if sharer[e] == mate[lo]:
                    held = w[e]
            s = mate[lo]
            if s >= 0 and held > 0 and u[lo] + v[s] == held and need <= u[lo] and load_s[s] < cap[s]:
                _link(lo, s, load_l, start_l, slot_l, load_s, start_s, slot_s)
            else:
                u[lo] = need
        for s in range(n_s):
            if load_s[s] < cap[s] and v[s] > 0:
                best = 0
                for e in range(ptr_s[s], ptr_s[s + 1]):
                    best = max(best, w_s[e] - u[learner_s[e]])
                v[s] = best
    else:
        u[:] = 0
        v[:] = 0
        places = 0
        for s in range(n_s):
            places += cap[s]
        if places <= n_l:  # the sharers' places are the fewer: they claim (each its best learners)
            for s in range(n_s):
                for e in range(ptr_s[s], ptr_s[s + 1]):
                    v[s] = max(v[s], w_s[e])
                for e in range(ptr_s[s], ptr_s[s + 1]):
                    lo = learner_s[e]
                    if load_s[s] < cap[s] and w_s[e] == v[s] and load_l[lo] == 0:
                        _link(s, lo, load_s, start_s, slot_s, load_l, start_l, slot_l)
        else:  # the learners are: each its best sharer
            for lo in range(n_l):
                for e in range(ptr[lo], ptr[lo + 1]):
                    u[lo] = max(u[lo], w[e])
                for e in range(ptr[lo], ptr[lo + 1]):
                    s = sharer[e]
                    if w[e] == u[lo] and load_s[s] < cap[s]:
                        _link(lo, s, load_l, start_l, slot_l, load_s, start_s, slot_s)
                        break
    searches = 0
    settled = 0
    # sharers with room and a positive price claim learners (or their price drops to 0)
    wy, wx, heap = _work(n_s, n_l, m + n_s + 2)
    for s in range(n_s):
        while load_s[s] < cap[s] and v[s] > 0:
            searches += 1
            settled += _search(
                s, ptr_s, learner_s, w_s, v, u, cap_l, load_s, start_s, slot_s, load_l, start_l, slot_l, wy, wx, heap
            )
    # learners left out with a positive price claim a sharer (or their price drops to 0)
    wy, wx, heap = _work(n_l, n_s, m + n_l + 2)
    for lo in range(n_l):
        if load_l[lo]:
            continue
        need = 0
        for e in range(ptr[lo], ptr[lo + 1]):
            need = max(need, w[e] - v[sharer[e]])
        u[lo] = need
        if need > 0:
            searches += 1
            settled += _search(
                lo, ptr, sharer, w, u, v, cap, load_l, start_l, slot_l, load_s, start_s, slot_s, wy, wx, heap
            )
    for lo in range(n_l):
        mate[lo] = slot_l[lo] if load_l[lo] else -1
    return searches, settled

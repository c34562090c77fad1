"""Rounding the relaxation without losing its optimum: augmenting paths on the tight pairs (pure, no I/O).

With optimal prices ``y`` of the relaxation (``y_i + y_j >= w_ij`` on every pair of the cohort), a
matching that uses only *tight* pairs (``y_i + y_j = w_ij``) and leaves alone only fellows priced 0
weighs ``sum(y)``, the bound: it is optimal, and proven so. Breaking the assignment's odd cycles
(``relaxation.break_cycles``) leaves one fellow of each cycle alone, usually priced above 0. When one
organisation sends 40 % of a cohort the relaxation has such cycles at any size, but the tight graph
(many pairs weigh the same) nearly always holds a matching that covers every fellow priced above 0.

Each such fellow is the root of Edmonds' search for an augmenting path in the tight graph (odd cycles,
blossoms, shrunk as they are met) that ends at a fellow alone, or at a fellow priced 0 who is then let
go: a *twin* of each fellow priced 0, free and tied to it alone, stands for "alone at no cost". A root
that no path leaves stays alone (the relaxation's bound is then out of reach: the caller says so).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]


def repair(n: int, ends: tuple[Ints, Ints], weight: Ints, y2: Ints, mates: Ints) -> Ints:
    """``mates`` improved to a matching of tight pairs that leaves alone no fellow priced above 0, as far
    as augmenting paths reach. ``y2`` are twice the prices; ``ends``/``weight`` the candidate pairs."""
    i, j = ends
    on = y2[i] + y2[j] == 2 * weight
    zero = np.flatnonzero(y2 == 0)
    size = n + zero.size
    twins = n + np.arange(zero.size, dtype=np.int64)
    src = np.concatenate([i[on], j[on], zero, twins])
    dst = np.concatenate([j[on], i[on], twins, zero])
    order = np.argsort(src, kind="stable")
    starts = np.searchsorted(src[order], np.arange(size + 1))
    neighbours = dst[order].tolist()
    adjacency = [neighbours[starts[v] : starts[v + 1]] for v in range(size)]
    match = [*mates.tolist(), *([-1] * zero.size)]
    tight = {(a, b) for a, b in zip(i[on].tolist(), j[on].tolist(), strict=True)}
    for a in range(n):  # a pair that is not tight cannot stay (break_cycles pairs dropped fellows freely)
        b = match[a]
        if b > a and (a, b) not in tight:
            match[a] = match[b] = -1
    for root in np.flatnonzero(y2 > 0).tolist():
        if match[root] == -1:
            _augment_from(root, adjacency, match)
    out = np.array(match[:n], dtype=np.int64)
    out[out >= n] = -1  # matched to its twin: alone, at no cost
    return out


def _augment_from(root: int, adjacency: list[list[int]], match: list[int]) -> bool:
    """Edmonds' search from one free root (blossoms shrunk by their base); augments ``match`` in place."""
    parent: dict[int, int] = {}
    base: dict[int, int] = {root: root}
    even = {root}
    queue = deque([root])
    reached = [root]

    def base_of(v: int) -> int:
        return base.get(v, v)

    def common(a: int, b: int) -> int:
        seen: set[int] = set()
        while True:
            a = base_of(a)
            seen.add(a)
            if match[a] == -1:
                break
            a = parent[match[a]]
        while True:
            b = base_of(b)
            if b in seen:
                return b
            b = parent[match[b]]

    def mark(v: int, top: int, child: int, inside: set[int]) -> None:
        while base_of(v) != top:
            inside.add(base_of(v))
            inside.add(base_of(match[v]))
            parent[v] = child
            child = match[v]
            v = parent[match[v]]

    while queue:
        v = queue.popleft()
        for to in adjacency[v]:
            if base_of(v) == base_of(to) or match[v] == to:
                continue
            if to == root or (match[to] != -1 and match[to] in parent):
                top = common(v, to)
                inside: set[int] = set()
                mark(v, top, to, inside)
                mark(to, top, v, inside)
                for x in reached:
                    if base_of(x) in inside:
                        base[x] = top
                        if x not in even:
                            even.add(x)
                            queue.append(x)
            elif to not in parent:
                parent[to] = v
                reached.append(to)
                if match[to] == -1:
                    while to != -1:
                        back = parent[to]
                        after = match[back]
                        match[to], match[back] = back, to
                        to = after
                    return True
                mate = match[to]
                even.add(mate)
                reached.append(mate)
                queue.append(mate)
    return False

"""Vectorised scoring of every candidate pair of a cohort (numpy), the same rules as ``domain.match``.

The matcher works on integer edge weights: ``SCALE`` points per unit of a configured weight (weights are
honoured to the hundredth), plus ``SCALE`` for every allowed pair so that each allowed pair is worth more
than leaving both fellows alone. A weight of 0 means "not allowed" (the hard rule).

Scoring a block of rows costs a handful of whole-array operations: the sector, place, staff-group and
availability terms come from one small table indexed by each fellow's *profile* (the distinct
combinations of those four facts in the cohort), the interests from a popcount of bit masks, the hard
rule from comparing organisation (and side) codes, and earlier pairings from a short sorted list.
What each of these passes was measured against, and how to measure it again: docs/decisions/0014.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from services.pairing.domain import Fellow, Weights

SCALE = 100
MAX_DAYS = 5
MAX_INTERESTS = 3
BLOCK_ELEMENTS = 1 << 23  # about 8 M pair scores per block

IntArray = npt.NDArray[np.int64]
T = TypeVar("T", bound=Hashable)


def _points(value: float) -> int:
    return round(value * SCALE)


@dataclass(frozen=True)
class Cohort:
    """A cohort sorted by fellow id and encoded as arrays."""

    fellows: tuple[Fellow, ...]
    mode: str
    organisation: npt.NDArray[np.signedinteger]
    side: npt.NDArray[np.signedinteger]
    profile: npt.NDArray[np.int32]
    table: npt.NDArray[np.int32]  # profile x profile: base + sector + place + staff group + availability
    interests: tuple[npt.NDArray[np.unsignedinteger], ...]  # words of bit masks of interests, per fellow
    interest_lut: npt.NDArray[np.signedinteger]  # shared interests -> points (capped at MAX_INTERESTS)
    history: IntArray  # sorted i * n + j (both orders) of pairs of people paired before
    history_points: int
    forbidden: IntArray  # sorted i * n + j (both orders) of pairs a conflict or the board rules out
    dtype: type[np.signedinteger]

    @property
    def n(self) -> int:
        return len(self.fellows)

    def rows(
        self, start: int, stop: int, cols: npt.NDArray[np.int64] | slice | None = None, at: IntArray | None = None
    ) -> npt.NDArray[np.signedinteger]:
        """Edge weights of fellows ``start:stop`` (or the sorted fellows ``at``) against every fellow (or the
        sorted ``cols``); 0 where the hard rule forbids."""
        n = self.n
        r: slice | IntArray = slice(start, stop) if at is None else at
        c: slice | npt.NDArray[np.int64] = slice(0, n) if cols is None else cols
        w = np.take(self.table[self.profile[r]], self.profile[c], axis=1)
        if self.interest_lut.size:
            shared = np.bitwise_count(self.interests[0][r, None] & self.interests[0][None, c])
            for column in self.interests[1:]:
                shared += np.bitwise_count(column[r, None] & column[None, c])
            # the lut is min(shared, MAX_INTERESTS) x points (``encode``): computed so, where a gather from
            # it was much of the scoring
            np.minimum(shared, MAX_INTERESTS, out=shared)
            w += np.multiply(shared, self.interest_lut[1], dtype=w.dtype)
        if self.history.size:
            row, col = self._hits(self.history, r, c)
            w[row, col] -= w.dtype.type(self.history_points)
        if self.forbidden.size:
            row, col = self._hits(self.forbidden, r, c)
            w[row, col] = 0
        allowed = self.organisation[r, None] != self.organisation[None, c]
        if self.mode == "bipartite":
            allowed &= self.side[r, None] != self.side[None, c]
        w *= allowed  # a multiply: copying 0 where the scattered pairs are ruled out was slower
        return w

    def _hits(
        self, codes: IntArray, r: slice | IntArray, c: npt.NDArray[np.int64] | slice
    ) -> tuple[IntArray, IntArray]:
        """The (row, column) places of a block where sorted pair ``codes`` (``i * n + j``) fall."""
        n = self.n
        if isinstance(r, slice):
            lo, hi = np.searchsorted(codes, [r.start * n, r.stop * n])
            row, col = np.divmod(codes[lo:hi] - r.start * n, n)
        else:  # each row's codes: a range of the sorted codes
            first, last = np.searchsorted(codes, r * n), np.searchsorted(codes, (r + 1) * n)
            count = last - first
            row = np.repeat(np.arange(r.size), count)
            at = np.repeat(first - np.cumsum(count) + count, count) + np.arange(row.size)
            col = codes[at] - r[row] * n
        if isinstance(c, slice):
            hit = (col >= c.start) & (col < c.stop)
            return row[hit], col[hit] - c.start
        at = np.minimum(np.searchsorted(c, col), max(c.size - 1, 0))
        hit = c[at] == col if c.size else np.zeros(col.size, dtype=bool)
        return row[hit], at[hit]

    def blocks(self) -> Iterator[tuple[int, int]]:
        step = max(1, BLOCK_ELEMENTS // max(1, self.n))
        for start in range(0, self.n, step):
            yield start, min(self.n, start + step)

    def partner_blocks(self) -> Iterator[tuple[int, int, slice]]:
        """Blocks of rows with the column range their allowed partners can be in (the other side in
        bipartite mode, everyone otherwise)."""
        n = self.n
        split = int(np.searchsorted(self.side, self.side[-1])) if self.mode == "bipartite" and n else 0
        ranges = [(0, split, slice(split, n)), (split, n, slice(0, split))] if split else [(0, n, slice(0, n))]
        for first, last, cols in ranges:
            width = max(1, cols.stop - cols.start)
            step = max(1, BLOCK_ELEMENTS // width)
            for start in range(first, last, step):
                yield start, min(last, start + step), cols

    def weight(self, i: int, j: int) -> int:
        return int(self.rows(i, i + 1)[0, j])


def _codes(values: Sequence[object]) -> npt.NDArray[np.int32]:
    return _coded(values)[0]


def _coded(values: Sequence[T]) -> tuple[npt.NDArray[np.int32], list[T]]:
    """A code per value (in order of first appearance) and the distinct values in code order."""
    index: dict[T, int] = {}
    codes = np.array([index.setdefault(v, len(index)) for v in values], dtype=np.int32)
    return codes, list(index)


def _profile_table(facts: Sequence[tuple[str, str, str, frozenset[str]]], weights: Weights) -> npt.NDArray[np.int32]:
    """Base + sector + place + staff group + availability points of every two profiles.

    A cohort can have nearly as many profiles as fellows (the weekdays vary), so the profile x profile
    table is built from two small ones, the (sector, place, staff group) kinds and the day sets, each
    pair of kinds scored once: one gather from each instead of six passes over the whole table.
    """
    kind, kinds = _coded([p[:3] for p in facts])
    sector = _codes([p[0] for p in kinds])
    place = _codes([p[1] for p in kinds])
    group = _codes([p[2] for p in kinds])
    of_kinds = (
        _points(1)
        + _points(weights.different_sector) * (sector[:, None] != sector[None, :])
        + _points(weights.different_place) * (place[:, None] != place[None, :])
        + _points(weights.clinical_mix) * (group[:, None] != group[None, :])
        + _points(weights.not_paired_before)
    ).astype(np.int32)
    day_sets, sets = _coded([p[3] for p in facts])
    days = sorted({d for p in sets for d in p})
    day_bit = {d: 1 << i for i, d in enumerate(days)}
    availability = np.array([sum(day_bit[d] for d in p) for p in sets], dtype=np.uint64)
    overlap = np.minimum(np.bitwise_count(availability[:, None] & availability[None, :]), MAX_DAYS)
    of_days = (_points(weights.shared_availability) * overlap.astype(np.int64)).astype(np.int32)
    table = np.take(of_kinds[kind], kind, axis=1)
    table += np.take(of_days[day_sets], day_sets, axis=1)
    return table


def _both_ways(pairs: Iterable[frozenset[uuid.UUID]], position: dict[int, int], n: int) -> list[int]:
    """The codes ``i * n + j`` and ``j * n + i`` of each pair of two whose ends both have a ``position``
    (keyed by the id's integer)."""
    codes: list[int] = []
    for pair in pairs:
        if len(pair) != 2:
            continue
        a, b = pair
        i, j = position.get(a.int, -1), position.get(b.int, -1)
        if i >= 0 and j >= 0:
            codes += [i * n + j, j * n + i]
    return codes


def encode(
    fellows: Iterable[Fellow],
    mode: str,
    weights: Weights,
    earlier: Iterable[frozenset[uuid.UUID]] = (),
    forbidden: Iterable[frozenset[uuid.UUID]] = (),
    sides: Sequence[str] | None = None,
) -> Cohort:
    """Encode a cohort; ``earlier`` holds the pairs of people (``Fellow.person``) paired before,
    ``forbidden`` the pairs of fellows (``Fellow.id``) that must not be paired (conflicts, exclusions);
    ``sides``, when given, the side of each fellow in place of ``Fellow.side`` (no copies of the fellows)."""
    # by id (deterministic); in bipartite mode each side first, so a side's partners are one column range
    # (by the id's integer: the same order, compared in C, where UUIDs compare in Python code)
    given = list(fellows)
    side_of = [f.side for f in given] if sides is None else list(sides)
    keys = [(side_of[k] if mode == "bipartite" else "", f.id.int) for k, f in enumerate(given)]
    at = sorted(range(len(given)), key=keys.__getitem__)
    ordered = tuple(given[k] for k in at)
    n = len(ordered)
    profiles = [(f.sector, f.place, f.staff_group, f.availability) for f in ordered]
    profile, facts = _coded(profiles)
    table = _profile_table(facts, weights)
    top = int(table.max(initial=0)) + MAX_INTERESTS * _points(weights.shared_interest)
    dtype: type[np.signedinteger] = np.int16 if top < np.iinfo(np.int16).max // 4 else np.int32
    names = sorted({i for f in ordered for i in f.interests})
    bit = {name: k for k, name in enumerate(names)}
    word_type: type[np.unsignedinteger] = (
        np.uint8 if len(names) <= 8 else np.uint16 if len(names) <= 16 else np.uint32 if len(names) <= 32 else np.uint64
    )
    words: list[npt.NDArray[np.unsignedinteger]] = [
        np.zeros(n, dtype=word_type) for _ in range(max(1, -(-len(names) // 64)))
    ]
    masks: dict[frozenset[str], tuple[int, ...]] = {}
    for interests in {f.interests for f in ordered}:
        parts = [0] * len(words)
        for name in interests:
            parts[bit[name] // 64] |= 1 << (bit[name] % 64)
        masks[interests] = tuple(parts)
    if n:  # one array of every fellow's words (a numpy store per fellow was much of the encoding)
        every = np.array([masks[f.interests] for f in ordered], dtype=np.uint64).reshape(n, len(words))
        words = [every[:, k].astype(word_type) for k in range(len(words))]
    lut = np.minimum(np.arange(65 * len(words)), MAX_INTERESTS) * _points(weights.shared_interest)
    # keyed by the ids' integers: hashed in C (a UUID's hash is Python code, much of the encoding)
    codes = _both_ways(earlier, {(f.person_id or f.id).int: k for k, f in enumerate(ordered)}, n)
    ruled = _both_ways(forbidden, {f.id.int: k for k, f in enumerate(ordered)}, n)
    side = _codes([side_of[k] for k in at])
    return Cohort(
        fellows=ordered,
        mode=mode,
        organisation=_codes([f.organisation_id.int for f in ordered]).astype(np.int16 if n < 32000 else np.int32),
        side=side.astype(np.int8),
        profile=profile,
        table=table.astype(dtype),
        interests=tuple(words),
        interest_lut=lut.astype(dtype) if names and _points(weights.shared_interest) else np.zeros(0, dtype),
        history=np.unique(np.array(codes, dtype=np.int64)),
        history_points=_points(weights.not_paired_before),
        forbidden=np.unique(np.array(ruled, dtype=np.int64)),
        dtype=dtype,
    )


def pair_weight(a: Fellow, b: Fellow, mode: str, weights: Weights, earlier: Iterable[frozenset[uuid.UUID]] = ()) -> int:
    """The edge weight of one pair, exactly as the matcher counts it (0 when the hard rule forbids)."""
    two = encode([a, b], mode, weights, earlier)
    return two.weight(0, 1)


def pairs_weight(
    pairs: Iterable[tuple[Fellow, Fellow]], mode: str, weights: Weights, earlier: Iterable[frozenset[uuid.UUID]] = ()
) -> int:
    """The summed edge weights of several pairs (the board's locks), encoded once: a board's locks
    encoded one by one took longer than the round."""
    pairs = list(pairs)
    coded = encode([f for p in pairs for f in p], mode, weights, earlier)
    index = {f.id: k for k, f in enumerate(coded.fellows)}
    return sum(int(coded.rows(index[a.id], index[a.id] + 1)[0, index[b.id]]) for a, b in pairs)

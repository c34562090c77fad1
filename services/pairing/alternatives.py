"""What each other partner would cost (pure, no I/O): the board's "why not pair me with X?".

For a fellow ``f``, its best other partners (the ones whose forcing costs the cohort least; ties: the
higher pair score) and, for each ``v``, the exact drop of the cohort's optimal total if the pair
``(f, v)`` were forced: the optimum of the cohort against ``(f, v)`` plus the optimum of everyone else,
which is what ``matching.pair`` does with the pair locked. Both optima are the matcher's own: the most
pairs, then the most weight (``matching.solve``), so a forced pair that leaves someone alone says so
(``pairs_lost``) and ranks after every one that does not.

How it stays fast: the optimum's prices give every pair a reduced cost, a lower bound on its loss, and
``forcing.Residual`` turns the bound into the exact loss with one shortest-path search from the freed
partner (compiled Dijkstra on the pairs near their prices). A fellow's partners are taken in the order
of their bounds until the ``count``-th exact loss is below the next bound: the rest cannot beat it.
When the search cannot prove a loss (the cheapest change is no matching, or reaches beyond the pairs it
holds) the cohort without the two is solved again, exactly, up to ``EXACT_MAX`` fellows; beyond, the
loss is an upper bound (``exact`` False): the optimum with ``f`` and ``v``'s partners paired together
(when the rules allow).

Totals are in the board's units: a matching's total is the sum of its pairs' scores (``domain.match``);
the matcher's weights are ``SCALE`` points per unit of score plus ``SCALE`` per pair.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from services.pairing import forcing, matching, scoring
from services.pairing.domain import Fellow, Weights, match
from services.pairing.forcing import Residual
from services.pairing.relaxation import Ints, most_pairs

EXACT_MAX = 2000
WIDER = 4  # a loss the first graph cannot prove is searched again in one of pairs within 4x its reach
COUNT = 5


@dataclass(frozen=True)
class Alternative:
    fellow_id: uuid.UUID
    score: float  # the pair's own score
    reasons: tuple[str, ...]
    loss: float  # how much the cohort's total drops if this pair is forced
    pairs_lost: int  # how many fewer pairs the cohort then has (nearly always 0)
    exact: bool  # False: ``loss`` is an upper bound (cohorts above EXACT_MAX)


@dataclass(frozen=True)
class Optimum:
    pairs: int
    weight: int  # the matcher's points

    def total(self) -> float:
        """The sum of the pairs' scores."""
        return (self.weight - scoring.SCALE * self.pairs) / scoring.SCALE


def optimum(cohort: scoring.Cohort) -> tuple[Optimum, Ints]:
    """The matcher's optimum of a cohort and its mates."""
    solution = matching.solve(cohort)
    return Optimum(int((solution.mates >= 0).sum()) // 2, solution.weight), solution.mates


def _remap(codes: Ints, n: int, new: Ints, m: int) -> Ints:
    i, j = np.divmod(codes, n)
    a, b = new[i], new[j]
    keep = (a >= 0) & (b >= 0)
    return np.sort(a[keep] * m + b[keep])


def subset(cohort: scoring.Cohort, keep: Ints) -> scoring.Cohort:
    """The cohort of the fellows at the sorted indices ``keep``, in the same order (arrays sliced, not scored
    again)."""
    n, m = cohort.n, int(keep.size)
    new = np.full(n, -1, dtype=np.int64)
    new[keep] = np.arange(m)
    return dataclasses.replace(
        cohort,
        fellows=tuple(cohort.fellows[k] for k in keep.tolist()),
        organisation=cohort.organisation[keep],
        side=cohort.side[keep],
        profile=cohort.profile[keep],
        interests=tuple(words[keep] for words in cohort.interests),
        history=_remap(cohort.history, n, new, m),
        forbidden=_remap(cohort.forbidden, n, new, m),
    )


STAND_IN = Fellow(
    id=uuid.UUID(int=0),
    organisation_id=uuid.UUID(int=0),
    sector="",
    place="",
    staff_group="",
    availability=frozenset(),
)


def with_stand_in(cohort: scoring.Cohort) -> tuple[scoring.Cohort, int] | None:
    """An odd peer cohort with one more member, a stand-in for the odd one out (``None`` otherwise): it
    may pair with every fellow at the same weight ``g``, above any pair's. Every matching of an odd cohort
    leaves someone alone, so the optima with the stand-in are exactly ``g`` and one pair more than the
    cohort's own, forced pairs or not; but the relaxation of the even cohort is as a rule integral, so
    its prices are tight and the losses follow from shortest chains (without it the relaxation is
    fractional, points above the optimum, and every loss was solved again: docs/decisions/0014). ``g``
    above every pair's weight makes the relaxation cover the stand-in whole."""
    n = cohort.n
    if cohort.mode != "peer" or n < 3 or n % 2 == 0:
        return None
    g = int(cohort.table.max(initial=0)) + int(cohort.interest_lut.max(initial=0)) + 1
    p = cohort.table.shape[0]
    dtype: type[np.signedinteger] = cohort.dtype if g < np.iinfo(np.int16).max // 4 else np.int32
    table = np.full((p + 1, p + 1), g, dtype=dtype)
    table[:p, :p] = cohort.table
    table[p, p] = 0
    same = np.arange(n, dtype=np.int64)
    organisation = cohort.organisation.astype(np.int32)
    return (
        dataclasses.replace(
            cohort,
            fellows=(*cohort.fellows, STAND_IN),
            organisation=np.append(organisation, int(organisation.max(initial=0)) + 1),
            side=np.append(cohort.side, 0).astype(cohort.side.dtype),
            profile=np.append(cohort.profile, p).astype(np.int32),
            table=table,
            interests=tuple(np.append(words, 0).astype(words.dtype) for words in cohort.interests),
            interest_lut=cohort.interest_lut.astype(dtype),
            history=_remap(cohort.history, n, same, n + 1),
            forbidden=_remap(cohort.forbidden, n, same, n + 1),
            dtype=dtype,
        ),
        g,
    )


def resolved(
    cohort: scoring.Cohort, f: int, v: int, base: Optimum, mates: Ints, exact_max: int
) -> tuple[Optimum, bool]:
    """The optimum with the pair ``(f, v)`` forced by solving the rest again (exact up to ``exact_max``
    fellows), else a lower bound on it (the partners of ``f`` and ``v`` paired together when allowed)."""
    w = cohort.weight(f, v)
    if mates[f] == v:
        return base, True
    if cohort.n <= exact_max:
        rest, _ = optimum(subset(cohort, np.setdiff1d(np.arange(cohort.n), [f, v])))
        return Optimum(rest.pairs + 1, rest.weight + w), True
    pairs, weight = base.pairs + 1, base.weight + w
    ends = [int(mates[x]) for x in (f, v) if mates[x] >= 0]
    for x, end in zip((f, v), [int(mates[f]), int(mates[v])], strict=True):
        if end >= 0:
            pairs, weight = pairs - 1, weight - cohort.weight(x, end)
    if len(ends) == 2 and (joined := cohort.weight(*ends)):
        pairs, weight = pairs + 1, weight + joined
    return Optimum(pairs, weight), False


Loss = tuple[int, int, bool]  # (pairs lost, points lost, exact)


class Forcing:
    """The losses of forced pairs in one cohort: its optimum, its prices' residual graph, and the losses
    found so far (a pair asked about from both ends is found once)."""

    def __init__(self, cohort: scoring.Cohort, exact_max: int = EXACT_MAX) -> None:
        n = cohort.n
        stand_in = with_stand_in(cohort)  # an odd cohort: its prices come from the even one with a stand-in
        solved = stand_in[0] if stand_in else cohort
        solution = matching.solve(solved)
        mates, weight = solution.mates, solution.weight
        self.cohort, self.exact_max, self.solved = cohort, exact_max, solved
        pairs = int((mates >= 0).sum()) // 2
        tight = solved.n >= 2 and int(solution.prices.sum()) == 2 * weight
        tight = tight and pairs == most_pairs(solved)  # M has the most pairs: no change gains one
        self.gap2 = int(solution.prices.sum()) - 2 * weight  # 0 when the prices prove the optimum
        self.residual = Residual(solved, mates, solution.prices) if tight else None
        self.prices, self.full_mates = solution.prices, mates  # of the cohort solved (the stand-in's too)
        self.y2 = solution.prices[:n]
        if stand_in and mates[n] >= 0:  # the cohort's own optimum: the stand-in's pair let go
            mates = mates.copy()
            mates[mates[n]] = -1
            pairs, weight = pairs - 1, weight - stand_in[1]
        self.mates = mates[:n]
        self.base = Optimum(pairs, weight)
        self.wider: Residual | None = None  # built when a loss reaches beyond the first graph
        self.known: dict[tuple[int, int], Loss] = {}
        self.solved_again = 0

    def allowed(self, f: int) -> tuple[Ints, Ints]:
        """The partners ``f`` may be paired with (its partner in the optimum left out) and their weights."""
        w = self.cohort.rows(f, f + 1)[0].astype(np.int64)
        w[f] = 0
        if self.mates[f] >= 0:
            w[self.mates[f]] = 0
        v = np.flatnonzero(w > 0)
        return v, w[v]

    def loss(self, f: int, v: int) -> Loss:
        key = (min(f, v), max(f, v))
        if key not in self.known:
            found = self.residual.loss(f, v) if self.residual is not None else None
            if found is None and self.residual is not None and self.residual.beyond:
                if self.wider is None:
                    self.wider = Residual(self.solved, self.full_mates, self.prices, WIDER * forcing.REACH)
                found = self.wider.loss(f, v)
            if found is not None:
                self.known[key] = (found.pairs_lost, found.weight_lost, True)
            else:
                self.solved_again += 1
                other, exact = resolved(self.cohort, f, v, self.base, self.mates, self.exact_max)
                self.known[key] = (self.base.pairs - other.pairs, self.base.weight - other.weight, exact)
        return self.known[key]

    def best(self, f: int, count: int = COUNT) -> list[tuple[int, Loss]]:
        """The ``count`` partners of ``f`` whose forcing costs least (the fewest pairs lost first, then the
        fewest points; ties: the heavier pair, then the lower index), with their losses. Partners are taken
        in the order of their lower bounds until the ``count``-th loss found is below the next bound."""
        v, w = self.allowed(f)
        if self.residual is not None and self.full_mates[f] >= 0:
            self.residual.prepare([int(self.full_mates[f])])
        # the loss is at least the reduced cost less the gap between the prices and the optimum (doubled)
        bound = self.y2[f] + self.y2[v] - 2 * w - self.gap2
        order = np.lexsort((v, -w, bound))
        chosen: list[tuple[tuple[int, int, int, int], int, Loss]] = []
        for k in order.tolist():
            x, weight = int(v[k]), int(w[k])
            if len(chosen) == count and chosen[-1][0] < (0, int(bound[k]), -weight, x):
                break
            lost = self.loss(f, x)
            chosen.append(((lost[0], 2 * lost[1], -weight, x), x, lost))
            chosen.sort()
            del chosen[count:]
        return [(x, lost) for _, x, lost in chosen]

    def board_loss(self, lost: Loss) -> float:
        """A loss in the board's units: the drop of the sum of the pairs' scores."""
        return (lost[1] - scoring.SCALE * lost[0]) / scoring.SCALE


def losses(
    cohort: scoring.Cohort,
    f: int,
    chosen: Iterable[int],
    base: Optimum,
    mates: Ints,
    exact_max: int = EXACT_MAX,
) -> list[tuple[float, int, bool]]:
    """For each partner ``v`` of ``f`` in ``chosen``, solving again: (the drop of the total, the pairs
    lost, exact)."""
    out = []
    for v in chosen:
        other, exact = resolved(cohort, f, v, base, mates, exact_max)
        out.append((base.total() - other.total(), base.pairs - other.pairs, exact))
    return out


def alternatives(
    fellows: Sequence[Fellow],
    mode: str,
    weights: Weights,
    fellow_id: uuid.UUID,
    earlier: Iterable[frozenset[uuid.UUID]] = (),
    forbidden: Iterable[frozenset[uuid.UUID]] = (),
    locked: Iterable[frozenset[uuid.UUID]] = (),
    count: int = COUNT,
    exact_max: int = EXACT_MAX,
) -> list[Alternative]:
    """The ``count`` other partners of fellow ``fellow_id`` whose forcing costs the cohort least, and what
    each would cost.

    The board's other locked pairs stay as they are (their fellows are not available, and their weight is
    the same either way); a lock of ``fellow_id`` itself is what the question sets aside."""
    history = [p for p in earlier if len(p) == 2]
    held = {x for lock in locked if fellow_id not in lock for x in lock}
    cohort = scoring.encode([f for f in fellows if f.id not in held], mode, weights, history, forbidden)
    at = {x.id: k for k, x in enumerate(cohort.fellows)}
    if fellow_id not in at:
        raise KeyError(fellow_id)
    f = at[fellow_id]
    forcing = Forcing(cohort, exact_max)
    seen = {frozenset(p) for p in history}
    me = cohort.fellows[f]
    out = []
    for v, lost in forcing.best(f, count):
        other = cohort.fellows[v]
        pair = match(me, other, weights, frozenset({me.person, other.person}) in seen)
        out.append(
            Alternative(other.id, pair.score, pair.reasons, round(forcing.board_loss(lost), 2), lost[0], lost[2])
        )
    return out


def table(
    cohort: scoring.Cohort, count: int = COUNT, exact_max: int = EXACT_MAX, fellows: Iterable[int] | None = None
) -> tuple[dict[int, list[tuple[int, float, bool]]], Forcing]:
    """Each fellow's (all, or those at the indices ``fellows``) ``count`` best other partners with their
    losses and whether each is exact (the benchmark's whole cohort), and the ``Forcing`` that found them."""
    forcing = Forcing(cohort, exact_max)
    todo = list(range(cohort.n) if fellows is None else fellows)
    if forcing.residual is not None:
        forcing.residual.prepare([int(forcing.full_mates[f]) for f in todo])
    out = {f: [(v, forcing.board_loss(lost), lost[2]) for v, lost in forcing.best(f, count)] for f in todo}
    return out, forcing

"""What each other partner would cost (pure, no I/O): the board's "why not pair me with X?".

For a fellow ``f``, its best other partners (the highest pair scores the rules allow, its partner in the
optimum left out) and, for each ``v``, the exact drop of the cohort's optimal total if the pair ``(f, v)``
were forced: the optimum of the cohort against ``(f, v)`` plus the optimum of everyone else, which is
what ``matching.pair`` does with the pair locked. Both optima are the matcher's own: the most pairs, then
the most weight (``matching.solve``), so a forced pair that leaves someone alone says so (``pairs_lost``).

Up to ``EXACT_MAX`` fellows each loss is solved again exactly; beyond, the loss is an upper bound
(``exact`` False): the optimum with ``f`` and ``v``'s partners paired together (when the rules allow)
instead of re-solving.

Totals are in the board's units: a matching's total is the sum of its pairs' scores (``domain.match``);
the matcher's weights are ``SCALE`` points per unit of score plus ``SCALE`` per pair.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from services.pairing import matching, scoring
from services.pairing.domain import Fellow, Weights, match
from services.pairing.relaxation import Ints

EXACT_MAX = 2000
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


def partners(cohort: scoring.Cohort, f: int, mates: Ints, count: int = COUNT) -> list[int]:
    """The ``count`` allowed partners of ``f`` with the highest pair weight, its mate in ``mates`` left out
    (ties: the lower index)."""
    w = cohort.rows(f, f + 1)[0].astype(np.int64)
    w[f] = 0
    if mates[f] >= 0:
        w[mates[f]] = 0
    allowed = np.flatnonzero(w > 0)
    order = np.lexsort((allowed, -w[allowed]))
    return [int(v) for v in allowed[order][:count]]


def forced(
    cohort: scoring.Cohort, f: int, v: int, base: Optimum, mates: Ints, exact_max: int = EXACT_MAX
) -> tuple[Optimum, bool]:
    """The optimum of the cohort with the pair ``(f, v)`` forced, and whether it is exact (else a lower
    bound on it, so the loss is an upper bound)."""
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


def losses(
    cohort: scoring.Cohort,
    f: int,
    chosen: Iterable[int],
    base: Optimum,
    mates: Ints,
    exact_max: int = EXACT_MAX,
) -> list[tuple[float, int, bool]]:
    """For each partner ``v`` of ``f`` in ``chosen``: (the drop of the total, the pairs lost, exact)."""
    out = []
    for v in chosen:
        other, exact = forced(cohort, f, v, base, mates, exact_max)
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
    """The best ``count`` other partners of fellow ``fellow_id`` and what forcing each would cost.

    The board's other locked pairs stay as they are (their fellows are not available, and their weight is
    the same either way); a lock of ``fellow_id`` itself is what the question sets aside."""
    history = [p for p in earlier if len(p) == 2]
    held = {x for lock in locked if fellow_id not in lock for x in lock}
    cohort = scoring.encode([f for f in fellows if f.id not in held], mode, weights, history, forbidden)
    at = {x.id: k for k, x in enumerate(cohort.fellows)}
    if fellow_id not in at:
        raise KeyError(fellow_id)
    f = at[fellow_id]
    base, mates = optimum(cohort)
    chosen = partners(cohort, f, mates, count)
    seen = {frozenset(p) for p in history}
    me = cohort.fellows[f]
    out = []
    for v, (loss, lost, exact) in zip(chosen, losses(cohort, f, chosen, base, mates, exact_max), strict=True):
        other = cohort.fellows[v]
        pair = match(me, other, weights, frozenset({me.person, other.person}) in seen)
        out.append(Alternative(other.id, pair.score, pair.reasons, round(loss, 2), lost, exact))
    return out


def table(
    cohort: scoring.Cohort, count: int = COUNT, exact_max: int = EXACT_MAX, fellows: Iterable[int] | None = None
) -> dict[int, list[tuple[int, float]]]:
    """Each fellow's (all, or those at the indices ``fellows``) ``count`` best other partners with their
    losses (the benchmark's whole cohort); a pair asked about from both ends is solved once."""
    base, mates = optimum(cohort)
    known: dict[tuple[int, int], float] = {}
    out: dict[int, list[tuple[int, float]]] = {}
    for f in range(cohort.n) if fellows is None else fellows:
        rows = []
        for v in partners(cohort, f, mates, count):
            key = (min(f, v), max(f, v))
            if key not in known:
                [(known[key], _, _)] = losses(cohort, f, [v], base, mates, exact_max)
            rows.append((v, known[key]))
        out[f] = rows
    return out

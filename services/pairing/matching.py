"""A pairing round: maximum-weight matching over the cohort under the hard rule (pure)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import networkx as nx

from services.pairing.domain import Fellow, Group, Match, Round, Weights, allowed, match


def pair(
    fellows: Sequence[Fellow],
    mode: str,
    weights: Weights,
    paired_before: Callable[[uuid.UUID, uuid.UUID], bool] = lambda a, b: False,
) -> Round:
    """Pair a cohort so that the total score is maximal; an odd one out joins the best trio."""
    ordered = sorted(fellows, key=lambda f: f.id)
    by_id = {f.id: f for f in ordered}
    scores: dict[tuple[uuid.UUID, uuid.UUID], Match] = {}
    graph = nx.Graph()
    graph.add_nodes_from(f.id for f in ordered)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if allowed(a, b, mode) is None:
                m = match(a, b, weights, paired_before(a.id, b.id))
                scores[(a.id, b.id)] = m
                # +1 keeps every allowed edge positive, so the matching also pairs as many as it can
                graph.add_edge(a.id, b.id, weight=m.score + 1)
    matching = nx.max_weight_matching(graph, maxcardinality=True)
    result = Round()
    for u, v in sorted(tuple(sorted(e)) for e in matching):
        m = scores[(u, v)]
        result.groups.append(Group(fellow_ids=(u, v), score=m.score, reasons=m.reasons))
    matched = {f for g in result.groups for f in g.fellow_ids}
    for fellow in ordered:
        if fellow.id in matched:
            continue
        best: tuple[float, int] | None = None
        for index, group in enumerate(result.groups):
            if len(group.fellow_ids) != 2:
                continue
            members = [by_id[f] for f in group.fellow_ids]
            if any(allowed(fellow, other, "peer") for other in members):
                continue
            gain = sum(match(fellow, o, weights, paired_before(fellow.id, o.id)).score for o in members)
            if best is None or gain > best[0]:
                best = (gain, index)
        if best is None:
            result.unpaired[fellow.id] = "no fellow from another organisation is free to pair with"
            continue
        group = result.groups[best[1]]
        result.groups[best[1]] = Group(
            fellow_ids=(*group.fellow_ids, fellow.id),
            score=group.score + best[0],
            reasons=(*group.reasons, "trio: the cohort has an odd number of fellows"),
        )
    return result


def score_group(members: Sequence[Fellow], mode: str, weights: Weights) -> Group | str:
    """Score a group the board put together by hand; the reason when it breaks the hard rule."""
    total = 0.0
    reasons: list[str] = []
    for i, a in enumerate(members):
        for b in members[i + 1 :]:
            problem = allowed(a, b, mode if len(members) == 2 else "peer")
            if problem:
                return problem
            m = match(a, b, weights)
            total += m.score
            reasons.extend(r for r in m.reasons if r not in reasons)
    return Group(fellow_ids=tuple(f.id for f in members), score=total, reasons=tuple(reasons))

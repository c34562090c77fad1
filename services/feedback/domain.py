"""Feedback rules: pure, no I/O."""

from __future__ import annotations

import uuid

from shared.events import LEADERSHIP_DIMENSIONS

MIN_DIMENSIONS = 3


def strengths_problem(strengths: dict[str, int]) -> str | None:
    unknown = sorted(set(strengths) - set(LEADERSHIP_DIMENSIONS))
    if unknown:
        return f"unknown leadership dimensions: {', '.join(unknown)}; use {', '.join(LEADERSHIP_DIMENSIONS)}"
    if len(strengths) < MIN_DIMENSIONS:
        return f"rate at least {MIN_DIMENSIONS} of the nine leadership dimensions"
    bad = sorted(k for k, v in strengths.items() if not 1 <= v <= 5)
    if bad:
        return f"ratings are 1 to 5: check {', '.join(bad)}"
    return None


def partners(fellow_ids: list[uuid.UUID], fellow: uuid.UUID) -> list[uuid.UUID]:
    return [f for f in fellow_ids if f != fellow]


def all_submitted(fellow_ids: list[uuid.UUID], submitted: set[tuple[uuid.UUID, uuid.UUID]]) -> bool:
    """Blind release: every fellow has written about every partner."""
    return all((a, b) in submitted for a in fellow_ids for b in partners(fellow_ids, a))

"""Stepping into my shoes (seed 004): after the visit, the learner thanks the sharer with a reflection,
what they learnt and one idea to take back.

The reflection is free text about a person's work, so it lives here, beside the visit it is about, and
is read by the learner and the sharer alone (``GET /pairs/{id}/reflection``). Only the fact that it was
shared travels (``ShadowingReflectionShared``: ids and a time), from which the notifications service
tells the sharer "your learner has thanked you" with a link. docs/decisions/0011-shadowing-reflection.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing.commands import MyPair, my_pair
from services.pairing.models import Reflection, Visit, outbox
from shared import events as ev
from shared.errors import Conflict
from shared.views import view

KIND = "shadowing"


async def _shadowing_pair(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> MyPair:
    return await my_pair(s, pair_id, mine, KIND, "only a shadowing match has a learner's reflection")


def _role_of(found: MyPair, role: str) -> uuid.UUID:
    return next(uuid.UUID(f) for f, r in found.pair.roles.items() if r == role)


async def share(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], learnt: str, take_back: str) -> None:
    """The learner of the match shares their reflection once the sharer's visit is complete."""
    found = await _shadowing_pair(s, pair_id, mine)
    if found.pair.roles.get(str(found.me)) != "learner":
        raise Conflict("the learner shares the reflection; the sharer reads it")
    completed = await s.scalar(select(Visit.id).where(Visit.pair_id == pair_id, Visit.completed_at.is_not(None)))
    if completed is None:
        raise Conflict("share your reflection once the visit is complete")
    if await s.get(Reflection, pair_id) is not None:
        raise Conflict("you have shared your reflection on this visit")
    now = datetime.now(UTC)
    sharer = _role_of(found, "sharer")
    s.add(
        Reflection(
            pair_id=pair_id, learner_id=found.me, sharer_id=sharer, learnt=learnt, take_back=take_back, shared_at=now
        )
    )
    await s.flush()
    await outbox.add(
        s, ev.ShadowingReflectionShared(pair_id=pair_id, learner_id=found.me, sharer_id=sharer, shared_at=now)
    )


async def of_pair(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> dict[str, Any]:
    """The match's reflection, for its learner and its sharer (404 for anyone else); null until shared."""
    await _shadowing_pair(s, pair_id, mine)
    reflection = await s.get(Reflection, pair_id)
    return {
        "pair_id": pair_id,
        "reflection": view(reflection, "learner_id sharer_id learnt take_back shared_at") if reflection else None,
    }

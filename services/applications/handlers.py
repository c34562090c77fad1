"""Events the applications service consumes; each runs in one transaction with its inbox row."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.applications import commands
from shared import events as ev
from shared.consumer import Batched, Context, Handler


async def pairs_assigned(ctx: Context, events: list[ev.PairAssigned]) -> None:
    """Pairing published a cohort's pairs (one PairAssigned a pair): no pairing round runs after that."""
    published: dict[uuid.UUID, datetime] = {}
    for event in events:
        published.setdefault(event.cohort_id, event.assigned_at)
    await commands.record_pairs_published(ctx.session, published)


async def erasure_requested(ctx: Context, event: ev.PersonErasureRequested) -> None:
    await commands.erase_person(ctx.session, event)


async def erased(ctx: Context, events: list[ev.PersonErased]) -> None:
    await commands.record_erased(ctx.session, events)


HANDLERS: dict[type[ev.Event], Handler] = {
    ev.PairAssigned: Batched(pairs_assigned),
    ev.PersonErasureRequested: erasure_requested,
    ev.PersonErased: Batched(erased),
}

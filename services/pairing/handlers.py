"""Events the pairing service consumes; each runs in one transaction with its inbox row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.pairing import rounds
from services.pairing.domain import Weights
from services.pairing.models import Fellow, PairingRound
from shared import events as ev
from shared.consumer import Batched, Context, Handler
from shared.db import upsert

# A fellow enrolled again (after a withdrawal) has the projection overwritten.
_UPSERT_FELLOW = upsert(Fellow.__table__)  # type: ignore[arg-type]


def _fellow_row(event: ev.FellowEnrolled) -> dict[str, Any]:
    return event.model_dump(exclude={"fellow_id"}) | {"id": event.fellow_id, "withdrawn": False}


def make_handlers(weights: Weights) -> dict[type[ev.Event], Handler]:
    async def fellows_enrolled(ctx: Context, events: list[ev.FellowEnrolled]) -> None:
        """A run of FellowEnrolled: every fellow upserted in one executemany, then each cohort's
        waiting pairing round (if any) looked at once, not once per fellow (a board enrolling a
        cohort of hundreds puts them on the topic together)."""
        s = ctx.session
        await s.flush()  # ORM changes earlier in this transaction (a withdrawal, say) go first
        await s.execute(_UPSERT_FELLOW, [_fellow_row(e) for e in events])
        enrolled = {e.fellow_id for e in events}
        for loaded in list(s.identity_map.values()):  # loaded earlier in the batch: now stale
            if isinstance(loaded, Fellow) and loaded.id in enrolled:
                s.expire(loaded)
        for cohort_id in dict.fromkeys(e.cohort_id for e in events):
            waiting = await s.scalar(
                select(PairingRound)
                .where(PairingRound.cohort_id == cohort_id, PairingRound.status == rounds.WAITING)
                .with_for_update()
            )
            if waiting is not None:
                await rounds.run_if_ready(s, waiting, weights)

    async def on_application_withdrawn(ctx: Context, event: ev.ApplicationWithdrawn) -> None:
        fellow = await ctx.session.get(Fellow, event.application_id)
        if fellow is not None:
            fellow.withdrawn = True

    async def on_pairing_requested(ctx: Context, event: ev.PairingRequested) -> None:
        s = ctx.session
        now = datetime.now(UTC)
        pairing_round = await s.get(PairingRound, event.cohort_id, with_for_update=True)
        if pairing_round is not None and pairing_round.status == rounds.PUBLISHED:
            return  # pairs are public now: a late or repeated request changes nothing
        if pairing_round is None:
            pairing_round = PairingRound(cohort_id=event.cohort_id)
            s.add(pairing_round)
        pairing_round.fellow_ids = [str(f) for f in event.fellow_ids]
        pairing_round.pairing_mode = event.pairing_mode
        pairing_round.auto_publish = event.auto_publish
        pairing_round.exchange_starts = event.exchange_starts
        pairing_round.exchange_ends = event.exchange_ends
        pairing_round.status = rounds.WAITING
        pairing_round.unpaired = {}
        pairing_round.requested_at = event.requested_at
        pairing_round.updated_at = now
        await s.flush()
        await rounds.run_if_ready(s, pairing_round, weights)

    return {
        ev.FellowEnrolled: Batched(fellows_enrolled),
        ev.ApplicationWithdrawn: on_application_withdrawn,
        ev.PairingRequested: on_pairing_requested,
    }

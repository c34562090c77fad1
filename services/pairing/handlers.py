"""Events the pairing service consumes; each runs in one transaction with its inbox row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from services.pairing import rounds
from services.pairing.domain import Weights
from services.pairing.models import Fellow, PairingRound
from shared import events as ev
from shared.consumer import Context, Handler


def make_handlers(weights: Weights) -> dict[type[ev.Event], Handler]:
    async def on_fellow_enrolled(ctx: Context, event: ev.FellowEnrolled) -> None:
        s = ctx.session
        fellow = await s.get(Fellow, event.fellow_id)
        if fellow is None:
            fellow = Fellow(id=event.fellow_id)
            s.add(fellow)
        fellow.cohort_id = event.cohort_id
        fellow.organisation_id = event.organisation_id
        fellow.organisation_code = event.organisation_code
        fellow.sector = event.sector
        fellow.place = event.place
        fellow.staff_group = event.staff_group
        fellow.band = event.band
        fellow.availability = list(event.availability)
        fellow.interests = list(event.interests)
        fellow.withdrawn = False
        fellow.person_id = event.person_id
        fellow.enrolled_at = event.enrolled_at
        await s.flush()
        waiting = await s.scalar(
            select(PairingRound)
            .where(PairingRound.cohort_id == event.cohort_id, PairingRound.status == rounds.WAITING)
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
        ev.FellowEnrolled: on_fellow_enrolled,
        ev.ApplicationWithdrawn: on_application_withdrawn,
        ev.PairingRequested: on_pairing_requested,
    }

"""Events the pairing service consumes; each runs in one transaction with its inbox row."""

from __future__ import annotations

from typing import cast

from services.pairing import commands
from services.pairing.settings import PairingSettings
from shared import events as ev
from shared.consumer import Batched, Context, Handler


def _settings(ctx: Context) -> PairingSettings:
    return cast(PairingSettings, ctx.settings)


async def fellows_enrolled(ctx: Context, events: list[ev.FellowEnrolled]) -> None:
    """A run of FellowEnrolled: upserted together, each cohort's waiting round looked at once."""
    await commands.enrol_fellows(ctx.session, events, _settings(ctx))


async def contacts_recorded(ctx: Context, events: list[ev.ContactRecorded]) -> None:
    """A run of ContactRecorded kept together; a round waiting for one of them runs."""
    await commands.record_contacts(ctx.session, events, _settings(ctx))


async def on_application_withdrawn(ctx: Context, event: ev.ApplicationWithdrawn) -> None:
    await commands.withdraw_fellow(ctx.session, event.application_id)


async def on_pairing_requested(ctx: Context, event: ev.PairingRequested) -> None:
    await commands.request_pairing(ctx.session, event, _settings(ctx))


async def on_erasure_requested(ctx: Context, event: ev.PersonErasureRequested) -> None:
    await commands.erase_person(ctx.session, event)


HANDLERS: dict[type[ev.Event], Handler] = {
    ev.ContactRecorded: Batched(contacts_recorded),
    ev.FellowEnrolled: Batched(fellows_enrolled),
    ev.ApplicationWithdrawn: on_application_withdrawn,
    ev.PairingRequested: on_pairing_requested,
    ev.PersonErasureRequested: on_erasure_requested,
}

"""HTTP routes of the notifications service: the caller's in-app inbox, their preferences, and the
staff directory (sponsors and board members, registered by an admin) that no other service holds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, status

from services.notifications import commands, queries
from shared import privacy
from shared.contract import Created, Preferences, StaffContactIn
from shared.identity import CallerDep
from shared.routing import add_routes
from shared.service import RuntimeDep

router = APIRouter()


@router.get("/notifications")
async def my_notifications(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """The caller's own notifications, newest first: as an applicant/fellow and as staff."""
    async with runtime.transaction() as s:
        return await queries.inbox(s, caller.sub)


@router.get("/notifications/preferences")
async def my_preferences(runtime: RuntimeDep, caller: CallerDep) -> Preferences:
    async with runtime.transaction() as s:
        return Preferences(mute_reminders=await queries.mutes_reminders(s, caller.sub))


@router.put("/notifications/preferences")
async def set_preferences(body: Preferences, runtime: RuntimeDep, caller: CallerDep) -> Preferences:
    async with runtime.transaction() as s:
        await commands.set_preferences(s, caller.sub, mute_reminders=body.mute_reminders, now=datetime.now(UTC))
    return body


@router.post("/staff-contacts", status_code=status.HTTP_201_CREATED)
async def register_staff_contact(body: StaffContactIn, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """Register (or update) a sponsor of an organisation or a Programme Board member."""
    caller.require("admin")
    async with runtime.transaction() as s:
        staff_id = await commands.register_staff_contact(
            s,
            role=body.role,
            subject=body.subject,
            name=body.name,
            email=str(body.email),
            organisation_id=body.organisation_id,
            now=datetime.now(UTC),
        )
    return Created(id=staff_id)


@router.get("/staff-contacts")
async def list_staff_contacts(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    caller.require("admin")
    async with runtime.transaction() as s:
        return await queries.staff_directory(s)


@router.delete("/staff-contacts/{staff_id}", status_code=status.HTTP_202_ACCEPTED)
async def remove_staff_contact(staff_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """Stop notifying this person as staff (their past notifications stay in their inbox)."""
    caller.require("admin")
    async with runtime.transaction() as s:
        await commands.remove_staff_contact(s, staff_id, datetime.now(UTC))
    return Created(id=staff_id)


@router.get("/deliveries/unconfirmed")
async def unconfirmed_deliveries(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """Deliveries whose outcome is unknown (admins): id, template, attempts and when; never an address."""
    caller.require("admin")
    async with runtime.transaction() as s:
        return await queries.unconfirmed(s)


@router.post("/deliveries/{delivery_id}/resend", status_code=status.HTTP_202_ACCEPTED)
async def resend_delivery(delivery_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """Send an unconfirmed delivery again, with the same Message-ID, on an operator's word (admins)."""
    caller.require("admin")
    async with runtime.transaction() as s:
        await commands.resend(s, delivery_id, datetime.now(UTC))
    return Created(id=delivery_id)


add_routes(router, privacy.routes(queries.PERSONAL_DATA))  # POST /privacy/export (admins)

"""HTTP routes of the notifications service: the caller's in-app inbox, their preferences, and the
staff directory (sponsors and board members, registered by an admin) that no other service holds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert

from services.notifications.domain import PERSON, STAFF
from services.notifications.models import Contact, Delivery, Preference, StaffContact
from shared.errors import Invalid, NotFound
from shared.identity import CallerDep
from shared.service import RuntimeDep

router = APIRouter()


@router.get("/notifications")
async def my_notifications(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """The caller's own notifications, newest first: as an applicant/fellow and as staff."""
    mine_as_person = select(Contact.person_id).where(Contact.subject == caller.sub)
    mine_as_staff = select(StaffContact.id).where(StaffContact.subject == caller.sub)
    async with runtime.transaction() as s:
        rows = (
            await s.scalars(
                select(Delivery)
                .where(
                    or_(
                        and_(Delivery.recipient_kind == PERSON, Delivery.recipient_id.in_(mine_as_person)),
                        and_(Delivery.recipient_kind == STAFF, Delivery.recipient_id.in_(mine_as_staff)),
                    )
                )
                .order_by(Delivery.created_at.desc(), Delivery.id)
                .limit(200)
            )
        ).all()
    return [
        {
            "id": d.id,
            "event_type": d.event_type,
            "template": d.template,
            "title": d.title,
            "body": d.body,
            "status": d.status,
            "essential": d.essential,
            "created_at": d.created_at,
            "sent_at": d.sent_at,
        }
        for d in rows
    ]


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mute_reminders: bool = Field(
        description="Do not e-mail non-essential reminders. Essential messages (decisions, pair assignment) always go."
    )


@router.get("/notifications/preferences")
async def my_preferences(runtime: RuntimeDep, caller: CallerDep) -> Preferences:
    async with runtime.transaction() as s:
        muted = await s.scalar(select(Preference.mute_reminders).where(Preference.subject == caller.sub))
    return Preferences(mute_reminders=bool(muted))


@router.put("/notifications/preferences")
async def set_preferences(body: Preferences, runtime: RuntimeDep, caller: CallerDep) -> Preferences:
    values = {"mute_reminders": body.mute_reminders, "updated_at": datetime.now(UTC)}
    async with runtime.transaction() as s:
        await s.execute(
            insert(Preference)
            .values(subject=caller.sub, **values)
            .on_conflict_do_update(index_elements=["subject"], set_=values)
        )
    return body


class StaffContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: Literal["sponsor", "board"]
    subject: str = Field(min_length=1, max_length=200, description="The person's token subject")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    organisation_id: uuid.UUID | None = Field(default=None, description="Required for a sponsor")


class Created(BaseModel):
    id: uuid.UUID


@router.post("/staff-contacts", status_code=status.HTTP_201_CREATED)
async def register_staff_contact(body: StaffContactIn, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """Register (or update) a sponsor of an organisation or a Programme Board member."""
    caller.require("admin")
    if body.role == "sponsor" and body.organisation_id is None:
        raise Invalid("a sponsor needs organisation_id")
    organisation = body.organisation_id if body.role == "sponsor" else None
    values = {
        "name": body.name,
        "email": str(body.email),
        "organisation_id": organisation,
        "active": True,
        "updated_at": datetime.now(UTC),
    }
    async with runtime.transaction() as s:
        staff_id = await s.scalar(
            insert(StaffContact)
            .values(
                id=uuid.uuid4(),
                role=body.role,
                subject=body.subject,
                organisation_key=str(organisation or ""),
                **values,
            )
            .on_conflict_do_update(index_elements=["role", "subject", "organisation_key"], set_=values)
            .returning(StaffContact.id)
        )
    assert staff_id is not None
    return Created(id=staff_id)


@router.get("/staff-contacts")
async def list_staff_contacts(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    caller.require("admin")
    async with runtime.transaction() as s:
        rows = (
            await s.scalars(select(StaffContact).order_by(StaffContact.role, StaffContact.name, StaffContact.id))
        ).all()
    return [
        {
            "id": r.id,
            "role": r.role,
            "subject": r.subject,
            "name": r.name,
            "email": r.email,
            "organisation_id": r.organisation_id,
            "active": r.active,
        }
        for r in rows
    ]


@router.delete("/staff-contacts/{staff_id}", status_code=status.HTTP_202_ACCEPTED)
async def remove_staff_contact(staff_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """Stop notifying this person as staff (their past notifications stay in their inbox)."""
    caller.require("admin")
    async with runtime.transaction() as s:
        staff = await s.get(StaffContact, staff_id, with_for_update=True)
        if staff is None:
            raise NotFound("no such staff contact")
        staff.active = False
        staff.updated_at = datetime.now(UTC)
    return Created(id=staff_id)

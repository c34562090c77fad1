"""HTTP queries of the notifications service: the caller's in-app inbox."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from services.notifications.models import Contact, Delivery
from shared.identity import CallerDep
from shared.service import RuntimeDep

router = APIRouter()


@router.get("/notifications")
async def my_notifications(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    async with runtime.transaction() as s:
        rows = (
            await s.scalars(
                select(Delivery)
                .join(Contact, Contact.person_id == Delivery.recipient_id)
                .where(Contact.subject == caller.sub)
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
            "created_at": d.created_at,
        }
        for d in rows
    ]

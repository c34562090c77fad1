"""The inbox: ids of events a consumer has already applied, written in the same transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


class Inbox:
    """The inbox table of one service's schema."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = Table(
            "inbox",
            metadata,
            Column("event_id", Uuid, primary_key=True),
            Column("event_type", String(100), nullable=False),
            Column("received_at", DateTime(timezone=True), nullable=False),
        )

    async def first_time(self, session: AsyncSession, event_id: uuid.UUID, event_type: str) -> bool:
        """Record the event id; False when it was already there (a redelivery: change nothing).

        A primary key with ON CONFLICT DO NOTHING rather than look-then-insert, so two consumers
        racing on the same event cannot both take it as new.
        """
        stmt = (
            insert(self.table)
            .values(event_id=event_id, event_type=event_type, received_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.table.c.event_id)
        )
        return (await session.execute(stmt)).first() is not None

    async def first_times(self, session: AsyncSession, events: list[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
        """``first_time`` for a whole batch in one statement: the ids that were not there yet.

        An id twice in ``events`` (the relay published it twice) is inserted once and returned once.
        """
        if not events:
            return set()
        now = datetime.now(UTC)
        rows = [{"event_id": event_id, "event_type": event_type, "received_at": now} for event_id, event_type in events]
        stmt = (
            insert(self.table)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.table.c.event_id)
        )
        return set((await session.scalars(stmt)).all())

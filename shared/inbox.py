"""The inbox: ids of events a consumer has already applied, written in the same transaction.

An event whose handler kept failing is recorded too, with the status ``dead_lettered``, in the
transaction that gave up on it: a redelivery does not run its handler again (the consumer sends it
to the dead-letter topic again instead, in case the first copy never got there). A replay by an
operator (``lbb dlq replay``, marked ``x-lbb-replayed-from``) reopens it: the handler runs again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

APPLIED = "applied"
DEAD_LETTERED = "dead_lettered"


class Inbox:
    """The inbox table of one service's schema."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = Table(
            "inbox",
            metadata,
            Column("event_id", Uuid, primary_key=True),
            Column("event_type", String(100), nullable=False),
            Column("received_at", DateTime(timezone=True), nullable=False),
            Column("status", String(20), nullable=False, server_default=text("'applied'")),
        )
        # One fixed statement for any batch size: the ids and types go as two arrays and PostgreSQL
        # unnests them (a multi-row VALUES could not be cached: docs/decisions/0001).
        batch = (
            func.unnest(bindparam("event_ids", type_=ARRAY(Uuid)), bindparam("event_types", type_=ARRAY(String)))
            .table_valued("event_id", "event_type")
            .render_derived(name="batch")
        )
        self._first_times = (
            insert(self.table)
            .from_select(
                ["event_id", "event_type", "received_at"],
                select(batch.c.event_id, batch.c.event_type, bindparam("received_at", type_=DateTime(timezone=True))),
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(self.table.c.event_id)
        )

    async def first_time(
        self, session: AsyncSession, event_id: uuid.UUID, event_type: str, *, status: str = APPLIED
    ) -> bool:
        """Record the event id; False when it was already there (a redelivery: change nothing).

        A primary key with ON CONFLICT DO NOTHING rather than look-then-insert, so two consumers
        racing on the same event cannot both take it as new.
        """
        stmt = (
            insert(self.table)
            .values(event_id=event_id, event_type=event_type, received_at=datetime.now(UTC), status=status)
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
        params = {
            "event_ids": [event_id for event_id, _ in events],
            "event_types": [event_type for _, event_type in events],
            "received_at": datetime.now(UTC),
        }
        return set((await session.scalars(self._first_times, params)).all())

    async def reopen(self, session: AsyncSession, event_ids: list[uuid.UUID]) -> None:
        """Forget that these events were dead-lettered (an operator replayed them: apply them now)."""
        if event_ids:
            await session.execute(
                delete(self.table).where(self.table.c.event_id.in_(event_ids), self.table.c.status == DEAD_LETTERED)
            )

    async def dead_lettered(self, session: AsyncSession, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these (already recorded) events were dead-lettered rather than applied."""
        if not event_ids:
            return set()
        stmt = select(self.table.c.event_id).where(
            self.table.c.event_id.in_(event_ids), self.table.c.status == DEAD_LETTERED
        )
        return set((await session.scalars(stmt)).all())

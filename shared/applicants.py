"""Which token subject made which application: the projection of ContactRecorded that a service
keeps to know which fellows a caller is (a fellow's id is the id of the application that enrolled
them). Only the subject is kept: no name, e-mail or job title; pairing alone keeps the interests too
(``interests=True``), which it scores, and the declared conflicts (``conflicts=True``: person pseudonyms),
which it never pairs. Like the outbox and inbox, each service that needs it has this
table in its own schema (``applicant``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Uuid, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events as ev
from shared.consumer import Batched, Context
from shared.db import Json, upsert


class Applicants:
    def __init__(self, metadata: MetaData, *, interests: bool = False, conflicts: bool = False) -> None:
        self.interests, self.conflicts = interests, conflicts
        kept = [name for name, wanted in (("interests", interests), ("conflicts", conflicts)) if wanted]
        extra = [Column(name, Json, nullable=False, server_default=text("'[]'")) for name in kept]
        self.table = Table(
            "applicant",
            metadata,
            Column("application_id", Uuid, primary_key=True),
            Column("subject", String(200), nullable=False, index=True),
            *extra,
        )
        self._upsert = upsert(self.table)  # built once: SQLAlchemy caches one statement
        self.handler = Batched(self._recorded)

    async def record(self, session: AsyncSession, events: Sequence[ev.ContactRecorded]) -> None:
        """The subject of each application (and its interests, where kept), in one executemany; nothing
        else of the contact."""
        rows = [{"application_id": e.person_id, "subject": e.subject} for e in events]
        if self.interests:
            rows = [row | {"interests": e.interests} for row, e in zip(rows, events, strict=True)]
        if self.conflicts:
            rows = [row | {"conflicts": [str(c) for c in e.conflicts]} for row, e in zip(rows, events, strict=True)]
        await session.execute(self._upsert, rows)

    async def _recorded(self, ctx: Context, events: list[ev.ContactRecorded]) -> None:
        await self.record(ctx.session, events)

    def of(self, subject: str) -> Any:
        """The application ids a subject made (a subquery to join a service's fellows with)."""
        return select(self.table.c.application_id).where(self.table.c.subject == subject)

    async def applications_of(self, session: AsyncSession, subject: str) -> set[uuid.UUID]:
        return set((await session.scalars(self.of(subject))).all())

    async def forget(self, session: AsyncSession, application_ids: Sequence[uuid.UUID]) -> set[str]:
        """Erasure: forget these applications' subjects (and interests); the subjects they had."""
        table = self.table
        gone = await session.execute(
            delete(table).where(table.c.application_id.in_(application_ids)).returning(table.c.subject)
        )
        return set(gone.scalars().all())

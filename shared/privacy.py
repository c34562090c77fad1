"""Subject access and erasure.

Subject access: everything a service holds about one person, each service answering for its own
schema. A person is known by their token subjects and their application ids (a fellow's id is the
application's): applications finds them from an e-mail address, and every service looks up its own
rows by them (``Holds``). The gateway's ``POST /api/privacy/export`` and ``lbb privacy export`` put
the services' answers together.

Erasure: applications publishes ``PersonErasureRequested`` (ids and a pseudonym) on the internal
privacy topic; each service erases or anonymises that person's rows in its own schema and confirms
with ``PersonErased`` in the same transaction (``confirm``); its inbox makes a redelivery change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Table, cast, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared import events as ev
from shared.clock import utcnow
from shared.identity import CallerDep
from shared.outbox import Outbox
from shared.service import RuntimeDep


class Person(BaseModel):
    """Who a subject access request is about."""

    subjects: list[str] = Field(default_factory=list, max_length=100)
    application_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)


@dataclass(frozen=True)
class Holds:
    """Rows of a table (or a mapped class's table) about a person: those whose ``column`` is one of the
    person's application ids (``by="application"``) or token subjects (``by="subject"``); with
    ``listed``, the column is a JSON list of application ids (a pair's fellows) that holds one of theirs."""

    source: Any
    column: str
    by: Literal["application", "subject"]
    listed: bool = False

    @property
    def table(self) -> Table:
        table: Table = getattr(self.source, "__table__", self.source)
        return table


def fellow_projections(fellow: Any, pair: Any, applicants: Table) -> list[Holds]:
    """What a service that acts for fellows holds about one: their fellow row (by id), which subject
    made their application, and the pairs that list them."""
    return [
        Holds(fellow, "id", "application"),
        Holds(applicants, "application_id", "application"),
        Holds(pair, "fellow_ids", "application", listed=True),
    ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID | datetime | date):
        return str(value)
    return value


async def export(s: AsyncSession, holds: Sequence[Holds], person: Person) -> dict[str, list[dict[str, Any]]]:
    """The rows each table holds about the person, as JSON values, by table name."""
    out: dict[str, list[dict[str, Any]]] = {}
    for h in holds:
        keys: list[Any] = person.subjects if h.by == "subject" else person.application_ids
        if not keys:
            continue
        column = h.table.c[h.column]
        where = or_(*(cast(column, JSONB).contains([str(k)]) for k in keys)) if h.listed else column.in_(keys)
        found = out.setdefault(h.table.name, [])
        for row in (await s.execute(select(h.table).where(where))).mappings():
            item = {k: _jsonable(v) for k, v in row.items()}
            if item not in found:  # a row found by subject and by application id too
                found.append(item)
    return out


def routes(holds: Sequence[Holds]) -> APIRouter:
    """``POST /privacy/export`` (admins only): what this service holds about a person."""
    router = APIRouter(tags=["privacy"])

    @router.post("/privacy/export")
    async def export_person(person: Person, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
        caller.require("admin")
        async with runtime.transaction() as s:
            return await export(s, holds, person)

    return router


# --- erasure ---------------------------------------------------------------------------------------

FORMER_FELLOW = "a former fellow"  # how what an erased person wrote for others is attributed


def erased_ids(event: ev.PersonErasureRequested) -> list[uuid.UUID]:
    """Every id the erased person is known by (their applications; a fellow's id is its application's)."""
    return sorted({*event.application_ids, *event.fellow_ids})


async def confirm(s: AsyncSession, outbox: Outbox, event: ev.PersonErasureRequested, service: str) -> None:
    """Stage this service's confirmation of an erasure, in the transaction that erased."""
    await outbox.add(s, ev.PersonErased(erasure_id=event.erasure_id, service=service, erased_at=utcnow()))

"""Recording deliveries: a run of submissions (the busiest event) is recorded in a few statements, and
records exactly what recording each submission alone does."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.people import contact_recorded
from services.notifications import commands, reminders
from services.notifications.domain import PERSON, STAFF, Message
from services.notifications.models import Delivery
from shared import events as ev
from shared.envelope import Envelope, wrap

Submitted = tuple[Envelope, ev.ApplicationSubmitted]


def submitted(organisation_id: uuid.UUID) -> Submitted:
    event = ev.ApplicationSubmitted(
        application_id=uuid.uuid4(),
        cohort_id=uuid.uuid4(),
        organisation_id=organisation_id,
        organisation_code="RC9",
        staff_group="clinical",
        band="7",
        submitted_at=datetime.now(UTC),
    )
    return wrap(event, "applications"), event


async def deliveries(sessions: async_sessionmaker[AsyncSession], run: list[Submitted]) -> list[tuple[Any, ...]]:
    """(which event of the run, recipient, template, status) of every delivery recorded for ``run``."""
    index = {envelope.id: i for i, (envelope, _) in enumerate(run)}
    async with sessions() as s:
        rows = (
            await s.execute(
                select(Delivery.event_id, Delivery.recipient_id, Delivery.template, Delivery.status).where(
                    Delivery.event_id.in_(index)
                )
            )
        ).all()
    return sorted((index[r.event_id], r.recipient_id, r.template, r.status) for r in rows)


@contextlib.asynccontextmanager
async def counted(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[list[str]]:
    """The statements sent to the database while the block runs."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    async with sessions() as s:
        engine = s.bind.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_run_of_submissions_records_what_each_alone_would_in_a_few_statements(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    big, small, unsponsored = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with sessions() as s, s.begin():
        sponsors = {
            org: [
                await commands.register_staff_contact(
                    s,
                    role="sponsor",
                    subject=f"s-{org}-{i}",
                    name="S",
                    email="s@x.nhs.uk",
                    organisation_id=org,
                    now=now,
                )
                for i in range(n)
            ]
            for org, n in ((big, 2), (small, 1))
        }
    # one large trust with most of the run, a small organisation, one with no sponsor registered yet
    run = [submitted(org) for org in (big, big, small, big, unsponsored, small)]
    alone = [submitted(org) for org in (big, big, small, big, unsponsored, small)]

    async with counted(sessions) as statements, sessions() as s, s.begin():
        await commands.notify_submitted(s, run, now)
    async with sessions() as s, s.begin():
        for envelope, one in alone:
            await commands.notify(s, envelope, one, reminders.ReminderRules(), now)

    recorded = await deliveries(sessions, run)
    # the same but for the application ids, which are each event's own
    same = {a[1].application_id: b[1].application_id for a, b in zip(alone, run, strict=True)}
    assert sorted((i, same.get(who, who), t, st) for i, who, t, st in await deliveries(sessions, alone)) == recorded
    expected = {0: big, 1: big, 2: small, 3: big, 4: unsponsored, 5: small}
    for i, org in expected.items():
        mine = [(r[1], r[2]) for r in recorded if r[0] == i]
        applicant = run[i][1].application_id
        assert sorted(mine) == sorted(
            [(applicant, "application_submitted")] + [(s, "endorsement_requested") for s in sponsors.get(org, [])]
        )
    assert {r[3] for r in recorded} == {"pending"}
    # the sponsors of every organisation in one query, every delivery in one statement (executemany)
    assert len(statements) == 2, statements

    async with sessions() as s, s.begin():  # the run delivered again: nothing more, nothing changed
        await commands.notify_submitted(s, run, now)
    assert await deliveries(sessions, run) == recorded


async def test_mutes_are_looked_up_once_for_a_whole_sweep_of_people_and_staff(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A sweep of reminders asks who muted them in one query a kind of recipient (not two a message):
    a muted person's and a muted staff contact's are recorded ``muted``, the others' ``pending``."""
    now = datetime.now(UTC)
    people = [uuid.uuid4() for _ in range(4)]
    async with sessions() as s, s.begin():
        await commands.record_contacts(s, [contact_recorded(p, i, uuid.uuid4()) for i, p in enumerate(people)], now)
        board = [f"board-{uuid.uuid4()}" for _ in range(2)]
        staff = [
            await commands.register_staff_contact(
                s, role="board", subject=b, name="B", email="b@x.nhs.uk", organisation_id=None, now=now
            )
            for b in board
        ]
        await commands.set_preferences(s, f"person-{people[0]}", mute_reminders=True, now=now)
        await commands.set_preferences(s, f"person-{people[1]}", mute_reminders=False, now=now)
        await commands.set_preferences(s, board[0], mute_reminders=True, now=now)
    sweep = [
        (uuid.uuid4(), "Reminder", Message(r, "reminder_schedule_visit", kind))
        for r, kind in [(p, PERSON) for p in people] + [(b, STAFF) for b in staff]
    ]

    async with counted(sessions) as statements, sessions() as s, s.begin():
        await commands.record(s, sweep, now)

    async with sessions() as s:
        rows = await s.execute(
            select(Delivery.recipient_id, Delivery.status).where(Delivery.event_id.in_([e for e, _, _ in sweep]))
        )
        status = {recipient: state for recipient, state in rows}
    assert status == {
        **{p: "pending" for p in people[1:]},
        people[0]: "muted",
        staff[0]: "muted",
        staff[1]: "pending",
    }
    # who muted: one query for the people, one for the staff; then one insert each for pending and muted
    assert len(statements) == 4, statements

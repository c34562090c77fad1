"""Erasure (issue 18): two people enrol, are paired, exchange feedback and receive e-mails; an admin
erases one of them. Once every service has confirmed, every text and JSON column of every service's
schema, every topic (read back from the broker) and every log line is scanned for the erased person's
marker (in their name, e-mail address, token subject, job title, statement, interests, the board's
reason about them and their partner's narrative about them): it is nowhere, except in the contact
records of the compacted contacts topic whose latest record for the key is a tombstone (the embedded
broker does not compact). The partner still sees the pair and the feedback they received, from
"a former fellow"; the cohort report's counts are as they were.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from lbb.cli import app as cli
from lbb.devstack import Stack
from lbb.mailsink import MailSink
from shared import topics
from shared.privacy import FORMER_FELLOW
from shared.registry import SERVICES
from tests import flows
from tests.conftest import Api, eventually, finding
from tests.feedback.flow import complete_exchange, give
from tests.flows import ADMIN, BOARD
from tests.privacy.test_canary import (
    Person,
    dead_letter_topics,
    form,
    log_lines,
    person,
    read_to_the_end,
    short,
    text_of,
)

TEXT_TYPES = ("text", "character varying", "json", "jsonb")


async def programme(api: Api, mail: MailSink, ann_mark: str, bob_mark: str) -> tuple[str, Person, Person, str]:
    """Ann and Bob from application to released feedback, each with their own marker everywhere."""
    orgs = await flows.organisations(api)
    cohort_id = await flows.new_cohort(api, "Erasure")
    ann, bob = person("ann", ann_mark, orgs["RC9"]["id"]), person("bob", bob_mark, orgs["E06000032"]["id"])
    for who, group, mark in ((ann, "clinical", ann_mark), (bob, "non_clinical", bob_mark)):
        who.id = await flows.apply(api, who.who, form(cohort_id, who, mark, group))
        await flows.endorse(api, who.id, who.organisation_id)
        await flows.decide(api, who.id, "shortlist", f"A strong statement by {who.name}")
    muted = await api.call("PUT", "/api/notifications/preferences", ann.who, {"mute_reminders": True})
    assert muted.status_code == 200, muted.text
    await flows.enrol_and_request_pairing(api, cohort_id)
    await flows.paired(api, cohort_id, 2)
    await flows.publish(api, cohort_id)
    (pair,) = await flows.paired(api, cohort_id, 2, published=True)
    cohort = flows.Cohort(id=cohort_id, who={ann.id: ann.who, bob.id: bob.who})
    await complete_exchange(api, cohort, pair)
    # What Ann wrote about Bob is Bob's to keep; what Bob wrote about Ann names her and must go.
    await give(api, cohort, pair["id"], ann.id, bob.id, narrative=f"{bob.name} listens first and decides fast")
    await give(api, cohort, pair["id"], bob.id, ann.id, narrative=f"{ann.name} brings people with her")

    async def released() -> list[Any] | None:
        answer = await api.call("GET", f"/api/fellows/{bob.id}/feedback", bob.who)
        return answer.json() if answer.status_code == 200 and answer.json() else None

    async def mailed() -> bool:
        return bool(mail.to(ann.email)) and bool(mail.to(bob.email))

    await eventually(released, 60, "Bob's feedback to be released")
    await eventually(mailed, 60, "their e-mails")
    return cohort_id, ann, bob, pair["id"]


async def scan_schemas(engine: AsyncEngine, needle: str) -> tuple[int, list[str]]:
    """Every text and JSON column of every service's schema: how many columns were read, and the
    ``schema.table.column`` (with a sample) of each value that holds ``needle``."""
    schemas = [s.schema for s in SERVICES if s.schema]
    found: list[str] = []
    async with engine.connect() as conn:
        columns = (
            await conn.execute(
                text(
                    "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c"
                    " JOIN information_schema.tables t USING (table_schema, table_name)"
                    " WHERE c.table_schema = ANY(:schemas) AND c.data_type = ANY(:types)"
                    " AND t.table_type = 'BASE TABLE'"
                ),
                {"schemas": schemas, "types": list(TEXT_TYPES)},
            )
        ).all()
        for schema, table, column in columns:
            hits = (
                await conn.execute(
                    text(f'SELECT "{column}"::text FROM "{schema}"."{table}" WHERE "{column}"::text ILIKE :needle'),
                    {"needle": f"%{needle}%"},
                )
            ).scalars()
            found += [f"{schema}.{table}.{column}: {short(v)}" for v in hits.all()]
    return len(columns), found


async def test_an_erased_person_is_nowhere_and_their_partner_keeps_what_is_theirs(
    api: Api, mail: MailSink, stack: Stack, engine: AsyncEngine, topic_reader: Any
) -> None:
    ann_mark, bob_mark = f"erase{uuid.uuid4().hex[:20]}", f"keep{uuid.uuid4().hex[:20]}"
    cohort_id, ann, bob, pair_id = await programme(api, mail, ann_mark, bob_mark)
    report_before = (await api.call("GET", f"/api/cohorts/{cohort_id}/report", BOARD)).json()
    columns, before = await scan_schemas(engine, ann_mark)
    assert len(before) >= 10, "the marker is not in the schemas before erasure: the scan proves nothing"

    # refusals: not an admin, nobody with that address
    assert (await api.call("POST", "/api/privacy/erase", BOARD, {"email": ann.email})).status_code == 403
    unknown = await api.call("POST", "/api/privacy/erase", ADMIN, {"email": f"nobody.{ann_mark}@example.nhs.uk"})
    assert unknown.status_code == 404, unknown.text

    asked = await api.call("POST", "/api/privacy/erase", ADMIN, {"email": ann.email})
    assert asked.status_code == 202, asked.text
    erasure_id = asked.json()["id"]

    async def confirmed() -> dict[str, Any] | None:
        answer = await api.call("GET", f"/api/privacy/erasures/{erasure_id}", ADMIN)
        assert answer.status_code == 200, answer.text
        status: dict[str, Any] = answer.json()
        return status if status["complete"] else None

    status = await eventually(confirmed, 60, "every service to confirm the erasure")
    assert set(status["services"]) == {"applications", "pairing", "feedback", "notifications"}
    assert status["application_ids"] == [ann.id] and status["fellow_ids"] == [ann.id]
    again = await api.call("POST", "/api/privacy/erase", ADMIN, {"email": ann.email.upper()})
    assert again.status_code == 202 and again.json()["id"] == erasure_id, again.text
    token = await api.token(*ADMIN)
    command = ["privacy", "erase", ann.email, "--gateway", stack.gateway_url, "--token", token, "--wait", "5"]
    result = await asyncio.to_thread(CliRunner().invoke, cli, command)
    assert result.exit_code == 0 and erasure_id in result.output and "notifications: erased" in result.output, (
        result.output
    )

    # every schema
    _, found = await scan_schemas(engine, ann_mark)
    _, bob_rows = await scan_schemas(engine, bob_mark)
    assert bob_rows, "Bob's data is his: it stays"

    # every topic, read back from the broker
    dlqs = await dead_letter_topics(stack)
    reader = await topic_reader([*topics.ALL_TOPICS, *dlqs])
    records = await read_to_the_end(reader)
    latest: dict[tuple[str, bytes | None], Any] = {}
    for record in records:
        latest[(record.topic, record.key)] = record
    forgotten: list[str] = []
    for record in records:
        if ann_mark not in text_of(record):
            continue
        where = f"{record.topic}@{record.partition}:{record.offset}"
        last = latest[(record.topic, record.key)]
        if record.topic == topics.CONTACTS and last.value is None and ann_mark not in (record.key or b"").decode():
            forgotten.append(where)
        else:
            found.append(f"{where}: {short(text_of(record))}")
    tombstones = [r for r in records if r.topic == topics.CONTACTS and r.key == ann.id.encode() and r.value is None]
    assert tombstones, "no tombstone for Ann on the contacts topic"

    # every log line
    logs = log_lines(stack.log_dir)
    for name, lines in logs.items():
        found += [f"{name}:{n}: {short(line)}" for n, line in enumerate(lines, 1) if ann_mark in line.lower()]

    # what stays: Bob's pair, the feedback he received (from a former fellow), the report's counts
    mine = await api.call("GET", "/api/pairs/mine", bob.who)
    assert mine.status_code == 200 and pair_id in mine.text, mine.text
    received = (await api.call("GET", f"/api/fellows/{bob.id}/feedback", bob.who)).json()
    assert [(f["given_by"], f["narrative"]) for f in received] == [
        (FORMER_FELLOW, f"{bob.name} listens first and decides fast")
    ]
    async with engine.connect() as c:  # a partner's later message names her so, and nothing goes to her
        contact = await c.execute(
            text("SELECT name, email, job_title FROM notifications.contact WHERE person_id = :id"), {"id": ann.id}
        )
        assert tuple(contact.one()) == (FORMER_FELLOW, "", "")
    report_after = (await api.call("GET", f"/api/cohorts/{cohort_id}/report", BOARD)).json()
    for report in (report_before, report_after):
        report.pop("generated_at")

    lines = [
        f"marker {ann_mark}: Ann's name, e-mail, subject, job title, statement, interests, the board's reason, "
        "Bob's narrative about her",
        f"erasure {erasure_id}: " + ", ".join(f"{s} {at}" for s, at in status["services"].items()),
        f"schemas: {columns} text/json columns read; marker in {len(before)} values before, {bob_rows and 'Bob'}'s"
        f" data still in {len(bob_rows)}",
        f"topics: {len(records)} records of {len(topics.ALL_TOPICS) + len(dlqs)} topics read; contact records"
        f" followed by a tombstone: {len(forgotten)}",
        "log lines read: " + ", ".join(f"{name} {len(lines)}" for name, lines in logs.items()),
        f"marker found after erasure: {len(found)}",
        *(f"  {f}" for f in found),
    ]
    for number, line in enumerate(lines):
        finding("erasure: what was read and what was found", f"{number:03}", line)
    assert found == [], "\n".join(found)
    assert forgotten, "the marker never reached the contacts topic: the topic scan proves nothing"
    assert report_after == report_before


async def test_an_applicant_erased_who_applies_again_is_a_new_person_with_an_erasure_of_their_own(
    api: Api,
) -> None:
    orgs = await flows.organisations(api)
    cohort_id = await flows.new_cohort(api, "Erasure, applying again")
    mark = f"again{uuid.uuid4().hex[:20]}"
    who = person("dan", mark, orgs["RD8"]["id"])
    first = await flows.apply(api, who.who, form(cohort_id, who, mark, "clinical"))

    async def erased() -> str:
        asked = await api.call("POST", "/api/privacy/erase", ADMIN, {"email": who.email})
        assert asked.status_code == 202, asked.text
        erasure_id: str = asked.json()["id"]

        async def complete() -> bool:
            status = (await api.call("GET", f"/api/privacy/erasures/{erasure_id}", ADMIN)).json()
            return bool(status["complete"])

        await eventually(complete, 60, "every service to confirm the erasure")
        return erasure_id

    once = await erased()
    application = (await api.call("GET", f"/api/applications/{first}", ADMIN)).json()
    assert mark not in str(application) and application["state"] == "withdrawn", application
    second = await flows.apply(api, who.who, form(cohort_id, who, mark, "clinical"))
    assert second != first
    twice = await erased()
    assert twice != once
    assert await erased() == twice
    unknown = await api.call("GET", f"/api/privacy/erasures/{uuid.uuid4()}", ADMIN)
    assert unknown.status_code == 404

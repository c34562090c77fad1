"""Delivery guarantees against the real SMTP sink: nothing twice under redelivery, retries then
NotificationFailed when SMTP refuses, at most once when the service is killed mid-send, and an
unconfirmed delivery sent again (same Message-ID) only on an operator's word (`lbb deliveries`)."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from lbb.cli import app
from lbb.devstack import Stack
from lbb.mailsink import MailSink
from shared import topics
from tests.conftest import Api, envelopes, eventually
from tests.notifications.flow import (
    Cohort,
    apply,
    deliveries,
    mail_arrives,
    outcomes,
    subjects,
    title,
)


async def test_a_redelivered_event_sends_nothing_twice(
    api: Api, mail: MailSink, engine: AsyncEngine, stack: Stack, topic_reader: Any, cohort: Cohort
) -> None:
    erin = cohort.person("Erin", "Pharmacist", "RC9", "clinical")
    await apply(api, cohort, erin)
    await mail_arrives(mail, erin.email, title("application_submitted"))

    reader = await topic_reader([topics.APPLICATIONS])

    async def submitted() -> Any:
        for r in await reader.poll():
            try:
                envelope = json.loads(r.value)
            except ValueError:  # poison-message tests leave non-JSON records on the topics
                continue
            if envelope["type"] == "ApplicationSubmitted" and envelope["subject"] == erin.id:
                return r
        return None

    original = await eventually(submitted, 30, "Erin's ApplicationSubmitted")
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:  # the broker hands the very same event over twice more (same key, same partition)
        for _ in range(2):
            await producer.send_and_wait(topics.APPLICATIONS, original.value, key=original.key)
    finally:
        await producer.stop()
    # a later event of the same application comes after the duplicates on the same partition
    withdrawn = await api.call("POST", f"/api/applications/{erin.id}/withdraw", erin.who, {})
    assert withdrawn.status_code == 202, withdrawn.text
    await mail_arrives(mail, erin.email, title("application_withdrawn"))

    assert subjects(mail, erin.email) == sorted([title("application_submitted"), title("application_withdrawn")])
    rows = await outcomes(engine, [erin.id])
    assert sorted(r.template for r in rows) == ["application_submitted", "application_withdrawn"]
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


async def test_a_refused_address_is_retried_with_backoff_then_reported_as_notification_failed(
    api: Api, mail: MailSink, engine: AsyncEngine, topic_reader: Any, cohort: Cohort
) -> None:
    frank = cohort.person("Frank", "Paramedic", "RC9", "clinical")
    mail.refuse.add(frank.email)
    await apply(api, cohort, frank)

    async def failed() -> Any:
        rows = await deliveries(engine, frank.id)
        return rows[0] if rows and rows[0].status == "failed" else None

    row = await eventually(failed, 60, "Frank's delivery to fail")
    assert row.attempts == 3  # DELIVERY_MAX_ATTEMPTS in the test stack
    assert "550" in row.last_error and row.sent_at is None
    assert mail.refused.count(frank.email) == 3 and mail.to(frank.email) == []

    reader = await topic_reader([topics.NOTIFICATIONS])

    async def reported() -> list[dict[str, Any]]:
        records = envelopes(await reader.poll())
        return [e for e in records if e["type"] == "NotificationFailed" and e["data"]["delivery_id"] == str(row.id)]

    (event,) = await eventually(reported, 30, "NotificationFailed for Frank's delivery")
    assert event["data"]["attempts"] == 3 and event["data"]["recipient_id"] == frank.id
    assert event["data"]["template"] == "application_submitted" and event["data"]["error"] == "refused"
    assert "@" not in json.dumps(event)  # no contact details on an integration topic

    # the refusal held nobody else up: the address works again for the next message
    mail.refuse.discard(frank.email)
    withdrawn = await api.call("POST", f"/api/applications/{frank.id}/withdraw", frank.who, {})
    assert withdrawn.status_code == 202, withdrawn.text
    await mail_arrives(mail, frank.email, title("application_withdrawn"))


async def test_a_service_killed_mid_send_never_sends_twice_and_retries_what_it_had_not_handed_over(
    api: Api, mail: MailSink, engine: AsyncEngine, stack: Stack, cohort: Cohort
) -> None:
    # Grace's server receives the whole message but never answers: killed after handing it over.
    # Ida's server waits before taking hers: killed after handing it over, and the server has nothing.
    # Henry's server never answers RCPT TO: killed before anything was handed over.
    grace = cohort.person("Grace", "Midwife", "RC9", "clinical")
    ida = cohort.person("Ida", "Radiographer", "RC9", "clinical")
    henry = cohort.person("Henry", "Porter", "RC9", "non_clinical")
    mail.hold.add(grace.email)
    mail.hold_untaken.add(ida.email)
    mail.hold_rcpt.add(henry.email)
    try:
        await apply(api, cohort, henry)

        async def henry_stuck() -> bool:
            h = await deliveries(engine, henry.id)
            return bool(h and h[0].status == "sending")

        await eventually(henry_stuck, 30, "Henry's send to wait at RCPT TO")
        await apply(api, cohort, grace)
        await apply(api, cohort, ida)

        async def stuck() -> bool:
            g, i, h = [await deliveries(engine, p.id) for p in (grace, ida, henry)]
            return bool(g and i and h and g[0].status == i[0].status == "handing_over" and h[0].status == "sending")

        await eventually(stuck, 30, "the three sends to be in flight")
        assert len(mail.to(grace.email)) == 1  # the server has Grace's message; the service has not recorded it
        assert mail.to(ida.email) == []  # Ida's is handed over, but the server has not taken it
        stack.restart("notifications", signal.SIGKILL)
    finally:
        mail.hold.discard(grace.email)
        mail.hold_untaken.discard(ida.email)
        mail.hold_rcpt.discard(henry.email)

    async def recovered() -> bool:
        g, i, h = [await deliveries(engine, p.id) for p in (grace, ida, henry)]
        return bool(g[0].status == i[0].status == "unconfirmed" and h[0].status == "sent")

    await eventually(recovered, 60, "the restarted service to recover the three sends")
    (g,), (i,), (h,) = [await deliveries(engine, p.id) for p in (grace, ida, henry)]
    assert len(mail.to(grace.email)) == 1, "Grace's message was sent again"
    assert mail.to(ida.email) == [], "Ida's message was sent again without an operator's word"
    assert g.attempts == 1 and "may have it" in g.last_error
    assert len(mail.to(henry.email)) == 1 and h.attempts == 2
    assert mail.to(grace.email)[0]["Message-ID"] == f"<{g.id}@beyond-boundaries.nhs.uk>"

    # The operator: `lbb deliveries unconfirmed` lists both (and nothing personal); the mail system
    # has Grace's Message-ID, so hers stays as it is; it has none of Ida's: `lbb deliveries resend`.
    listed = await lbb("deliveries", "unconfirmed", "--gateway", stack.gateway_url)
    assert listed.exit_code == 0, listed.output
    assert str(g.id) in listed.output and str(i.id) in listed.output and "application_submitted" in listed.output
    assert "@" not in listed.output and grace.name not in listed.output and ida.name not in listed.output
    resent = await lbb("deliveries", "resend", str(i.id), "--gateway", stack.gateway_url)
    assert resent.exit_code == 0, resent.output

    async def sent_again() -> bool:
        (row,) = await deliveries(engine, ida.id)
        return bool(row.status == "sent" and len(mail.to(ida.email)) == 1)

    await eventually(sent_again, 30, "Ida's delivery to be sent again")
    assert mail.to(ida.email)[0]["Message-ID"] == f"<{i.id}@beyond-boundaries.nhs.uk>"  # as on the first attempt
    assert (await deliveries(engine, ida.id))[0].attempts == 2
    twice = await lbb("deliveries", "resend", str(i.id), "--gateway", stack.gateway_url)
    assert twice.exit_code == 1 and "409" in twice.output  # sent now: never again
    after = (await lbb("deliveries", "unconfirmed", "--gateway", stack.gateway_url)).output
    assert str(i.id) not in after and str(g.id) in after


async def lbb(*args: str) -> Any:
    """The ``lbb`` command, run as an operator would (it talks to the gateway over HTTP)."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env={"COLUMNS": "200"})

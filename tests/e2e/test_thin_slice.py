"""The walking skeleton end to end: a user drives the gateway, events cross the real broker,
every service writes its own schema, and an outside subscriber sees the integration events."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import topics
from tests.conftest import Api, eventually
from tests.flows import BOARD, application, apply, decide, endorse, new_cohort, organisations, paired, publish


async def test_a_cohort_goes_from_applications_to_published_pairs_and_notifications(
    api: Api, engine: AsyncEngine, topic_reader: Any
) -> None:
    orgs = await organisations(api)
    hospital, council = orgs["RC9"]["id"], orgs["E06000032"]["id"]
    cohort_id = await new_cohort(api, "Slice")

    alice = (f"alice-{cohort_id}", "applicant")
    bob = (f"bob-{cohort_id}", "applicant")
    alice_id = await apply(api, alice, application(cohort_id, hospital, "Alice", "alice@example.nhs.uk"))
    bob_id = await apply(api, bob, application(cohort_id, council, "Bob", "bob@example.nhs.uk", "non_clinical"))

    for app_id, org in ((alice_id, hospital), (bob_id, council)):
        await endorse(api, app_id, org)
        await decide(api, app_id, "shortlist", "strong statement")

    enrolled = await api.call("POST", f"/api/cohorts/{cohort_id}/enrol", BOARD, {})
    assert enrolled.status_code == 202, enrolled.text
    assert sorted(enrolled.json()["enrolled"]) == sorted([alice_id, bob_id])
    state = await api.call("GET", f"/api/applications/{alice_id}", alice)
    assert state.json()["state"] == "enrolled"

    requested = await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", BOARD, {})
    assert requested.status_code == 202, requested.text

    (pair,) = await paired(api, cohort_id, 2)
    assert sorted(pair["fellow_ids"]) == sorted([alice_id, bob_id])
    assert pair["published"] is False and pair["score"] > 0 and pair["reasons"]

    # fellows see only published pairs
    assert (await api.call("GET", f"/api/cohorts/{cohort_id}/pairs", alice)).json() == []
    await publish(api, cohort_id)
    seen = (await api.call("GET", f"/api/cohorts/{cohort_id}/pairs", alice)).json()
    assert [p["id"] for p in seen] == [pair["id"]] and seen[0]["published"] is True

    # Applications learns from PairAssigned that the pairs are out, and refuses a re-run itself (the
    # gateway decides nothing; a re-run accepted before it heard would be ignored by pairing).
    async def published_known() -> str | None:
        cohort: dict[str, Any] = (await api.call("GET", f"/api/cohorts/{cohort_id}", BOARD)).json()
        return cohort["pairs_published_at"]

    await eventually(published_known, what="applications to hear the pairs are published")
    again = await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", BOARD, {})
    assert again.status_code == 409 and "already published" in again.json()["detail"]

    # An outside ICS system reading the integration topics from the beginning
    reader = await topic_reader([*topics.INTEGRATION_TOPICS, topics.CONTACTS])

    def of_cohort(records: list[Any]) -> list[tuple[str, dict[str, Any], Any]]:
        out = []
        for r in records:
            if r.value is None:  # a tombstone on the contacts topic (an erasure's)
                continue
            envelope = json.loads(r.value)
            data = envelope["data"]
            if cohort_id in (data.get("cohort_id"), envelope["subject"]) or {alice_id, bob_id} & {
                data.get("application_id"),
                data.get("fellow_id"),
                data.get("person_id"),
            }:
                out.append((r.topic, envelope, r))
        return out

    async def pair_assigned() -> list[tuple[str, dict[str, Any], Any]]:
        records = of_cohort(await reader.poll())
        return records if any(e["type"] == "PairAssigned" for _, e, _ in records) else []

    records = await eventually(pair_assigned, what="PairAssigned on lbb.pairing.v1")
    types = sorted(e["type"] for t, e, _ in records if t == topics.APPLICATIONS)
    assert types == sorted(
        ["CohortOpened", "PairingRequested"]
        + 2 * ["ApplicationSubmitted", "ApplicationEndorsed", "ApplicationShortlisted", "FellowEnrolled"]
    )
    for topic, envelope, record in records:
        assert envelope["specversion"] == "1.0" and envelope["datacontenttype"] == "application/json"
        assert envelope["dataschema"] == f"lbb/{envelope['type']}/v1"
        assert envelope["source"].startswith("lbb/")
        assert record.key.decode() == envelope["subject"]
        uuid.UUID(envelope["id"])
        if topic != topics.CONTACTS:  # personal data stays on the internal topic
            assert b"@example.nhs.uk" not in record.value and b"Alice" not in record.value
    (assigned,) = [e for _, e, _ in records if e["type"] == "PairAssigned"]
    assert assigned["subject"] == pair["id"] and sorted(assigned["data"]["fellow_ids"]) == sorted([alice_id, bob_id])
    contacts = [e for t, e, _ in records if t == topics.CONTACTS]
    assert {c["data"]["email"] for c in contacts} == {"alice@example.nhs.uk", "bob@example.nhs.uk"}

    # every fellow hears about the pairing; the inbox is their own
    async def alice_told() -> list[dict[str, Any]]:
        answer = await api.call("GET", "/api/notifications", alice)
        mine = answer.json()
        wanted = {"application_submitted", "fellow_enrolled", "pair_assigned"}
        return mine if wanted <= {n["template"] for n in mine} else []

    # events of different topics may be consumed in any order: wait for all three
    told = await eventually(alice_told, what="alice's submission, enrolment and pairing notifications")
    assert all(n["title"] for n in told)

    async with engine.connect() as c:
        states = (
            (await c.execute(text("SELECT state FROM applications.application WHERE cohort_id = :c"), {"c": cohort_id}))
            .scalars()
            .all()
        )
        assert states == ["enrolled", "enrolled"]
        assert (
            await c.execute(text("SELECT count(*) FROM pairing.pair WHERE cohort_id = :c"), {"c": cohort_id})
        ).scalar() == 1
        assert (
            await c.execute(text("SELECT count(*) FROM pairing.fellow WHERE cohort_id = :c"), {"c": cohort_id})
        ).scalar() == 2

        async def deliveries() -> int:
            async with engine.connect() as c2:
                n = (
                    await c2.execute(
                        text(
                            "SELECT count(*) FROM notifications.delivery"
                            " WHERE template = 'pair_assigned' AND event_id = :e"
                        ),
                        {"e": assigned["id"]},
                    )
                ).scalar()
            return int(n or 0) if n == 2 else 0

        assert await eventually(deliveries, what="one pair_assigned delivery per fellow") == 2
        unsent = (await c.execute(text("SELECT count(*) FROM applications.outbox WHERE sent_at IS NULL"))).scalar()
        assert unsent == 0

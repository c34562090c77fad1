"""Which fellows a caller is: the pairing service knows it from ContactRecorded (whose token subject made
each application), never from a header. Events go straight onto the topics and requests straight to the
pairing service, so neither the applications service nor the gateway vouches for anyone here."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack
from shared import events as ev
from shared import topics
from shared.envelope import wrap
from shared.identity import Caller
from tests.conftest import AsGateway, envelopes, eventually

FORGED_FELLOWS = "X-Lbb-Fellows"  # what the gateway once sent; now ignored


def applicant(stack: Stack, subject: str) -> AsGateway:
    return AsGateway(stack, "pairing", Caller(subject, "applicant"))


@pytest.fixture
async def pairing(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.processes["pairing"].url, timeout=30) as client:
        yield client


async def put(stack: Stack, *events: ev.Event) -> None:
    """Events onto their topics, as the applications service's relay would write them."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(event.topic, wrap(event, "applications").to_bytes(), key=event.key.encode())
    finally:
        await producer.stop()


def contact(
    fellow: uuid.UUID, subject: str, organisation: uuid.UUID, interests: list[str] | None = None
) -> ev.ContactRecorded:
    return ev.ContactRecorded(
        interests=interests or [],
        person_id=fellow,
        subject=subject,
        name="Pat Fellow",
        email=f"{subject}@example.nhs.uk",
        job_title="Service manager",
        organisation_id=organisation,
        organisation_name="Somewhere Trust",
    )


def enrolled(fellow: uuid.UUID, cohort: uuid.UUID, organisation: uuid.UUID, place: str) -> ev.FellowEnrolled:
    return ev.FellowEnrolled(
        fellow_id=fellow,
        cohort_id=cohort,
        organisation_id=organisation,
        organisation_code="ID" + place[:3].upper(),
        sector="nhs_trust",
        place=place,
        staff_group="clinical",
        band="8a",
        availability=[],
        enrolled_at=datetime.now(UTC),
        person_id=uuid.uuid4(),
    )


async def put_pair(stack: Stack, cohort: uuid.UUID, contacts: dict[uuid.UUID, ev.ContactRecorded]) -> None:
    """Two fellows' contacts, their enrolment (in Bedford and Luton) and the cohort's pairing request
    (published at once), as the applications service would put them: the contacts first, as in life
    (recorded at submission, long before enrolment)."""
    await put(stack, *contacts.values())
    await put_request(stack, cohort, contacts)


async def put_request(stack: Stack, cohort: uuid.UUID, contacts: dict[uuid.UUID, ev.ContactRecorded]) -> None:
    """The two fellows' enrolment and the cohort's pairing request."""
    fellow, partner = contacts
    today = datetime.now(UTC).date()
    await put(
        stack,
        enrolled(fellow, cohort, contacts[fellow].organisation_id, "Bedford"),
        enrolled(partner, cohort, contacts[partner].organisation_id, "Luton"),
        ev.PairingRequested(
            cohort_id=cohort,
            fellow_ids=[fellow, partner],
            pairing_mode="peer",
            auto_publish=True,
            exchange_starts=today,
            exchange_ends=today + timedelta(days=90),
            requested_at=datetime.now(UTC),
        ),
    )


async def test_a_caller_whose_subject_applied_is_that_fellow_and_another_subject_gets_404(
    stack: Stack, engine: AsyncEngine, pairing: httpx.AsyncClient
) -> None:
    cohort = uuid.uuid4()
    fellow, partner = uuid.uuid4(), uuid.uuid4()
    subject = {fellow: f"fellow-{fellow}", partner: f"partner-{partner}"}
    organisation = {fellow: uuid.uuid4(), partner: uuid.uuid4()}
    today = datetime.now(UTC).date()
    await put_pair(stack, cohort, {f: contact(f, subject[f], organisation[f]) for f in (fellow, partner)})
    me = applicant(stack, subject[fellow])

    async def pairs_of(who: AsGateway) -> list[dict[str, Any]]:
        answer = await pairing.get("/pairs/mine", auth=who)
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()
        return found

    async def my_pairs() -> list[dict[str, Any]]:
        return await pairs_of(me)

    (pair,) = await eventually(my_pairs, timeout_s=60, what="the fellow to be recognised by their subject")
    assert pair["fellow_id"] == str(fellow) and sorted(pair["fellow_ids"]) == sorted([str(fellow), str(partner)])
    listed = await pairing.get(f"/cohorts/{cohort}/pairs", auth=me)
    assert listed.status_code == 200 and [p["id"] for p in listed.json()] == [pair["id"]]

    # another subject is no fellow, even naming the fellow in the header the gateway used to send
    stranger = applicant(stack, f"stranger-{uuid.uuid4()}")
    forged = {FORGED_FELLOWS: str(fellow)}
    visit = {"host_fellow_id": str(fellow), "date": today.isoformat()}
    assert (
        await pairing.post(f"/pairs/{pair['id']}/visits", json=visit, auth=stranger, headers=forged)
    ).status_code == 404
    assert (await pairing.get(f"/cohorts/{cohort}/pairs", auth=stranger, headers=forged)).status_code == 404
    assert (await pairing.get("/pairs/mine", auth=stranger, headers=forged)).json() == []

    made = await pairing.post(f"/pairs/{pair['id']}/visits", json=visit, auth=me)  # no header needed
    assert made.status_code == 201, made.text
    visit_id = made.json()["id"]
    assert (
        await pairing.post(f"/visits/{visit_id}/complete", json={}, auth=stranger, headers=forged)
    ).status_code == 404
    done = await pairing.post(f"/visits/{visit_id}/complete", json={}, auth=me)
    assert done.status_code == 202, done.text

    # a withdrawn fellow is a fellow no more
    theirs = applicant(stack, subject[partner])

    async def partner_pairs() -> list[dict[str, Any]]:
        return await pairs_of(theirs)

    assert (await eventually(partner_pairs, timeout_s=60, what="the partner to be recognised"))[0]["id"] == pair["id"]
    await put(
        stack,
        ev.ApplicationWithdrawn(
            application_id=partner, cohort_id=cohort, previous_state="enrolled", withdrawn_at=datetime.now(UTC)
        ),
    )

    async def gone() -> bool:
        return await pairs_of(theirs) == []

    await eventually(gone, timeout_s=60, what="the withdrawn fellow to lose their pairs")
    assert (await pairing.get(f"/cohorts/{cohort}/pairs", auth=theirs)).status_code == 404

    # data minimisation: of a contact, the pairing service keeps the application id, the subject, the
    # interests (which it scores) and the declared conflicts (person pseudonyms, never paired) only
    async with engine.connect() as c:
        columns = await c.execute(
            text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'pairing' AND table_name = 'applicant'"
            )
        )
        assert sorted(columns.scalars().all()) == ["application_id", "conflicts", "interests", "subject"]
        kept = await c.execute(text("SELECT subject FROM pairing.applicant WHERE application_id = :f"), {"f": fellow})
        assert kept.scalar() == subject[fellow]


async def test_shared_interests_come_from_the_contacts_topic_and_leave_as_a_code(
    stack: Stack, pairing: httpx.AsyncClient, topic_reader: Any
) -> None:
    cohort = uuid.uuid4()
    fellow, partner = uuid.uuid4(), uuid.uuid4()
    organisation = {fellow: uuid.uuid4(), partner: uuid.uuid4()}
    interest = f"interest-{uuid.uuid4().hex}"
    contacts = {f: contact(f, f"s-{f}", organisation[f], [interest, f"own-{f}"]) for f in (fellow, partner)}
    await put_pair(stack, cohort, contacts)
    board = AsGateway(stack, "pairing", Caller("bea", "board"))

    async def pairs() -> list[dict[str, Any]]:
        answer = await pairing.get(f"/cohorts/{cohort}/pairs", auth=board)
        found: list[dict[str, Any]] = answer.json() if answer.status_code == 200 else []
        return found

    (pair,) = await eventually(pairs, timeout_s=60, what="the pair")
    assert f"shared interests: {interest}" in pair["reasons"]  # the board reads words in pairing's answers
    reader = await topic_reader([topics.PAIRING])

    async def assigned() -> list[dict[str, Any]]:
        return [e for e in envelopes(await reader.poll()) if e["subject"] == pair["id"]]

    (event,) = await eventually(assigned, timeout_s=30, what="PairAssigned on the topic")
    assert "shared_interests" in event["data"]["reasons"] and set(event["data"]["reasons"]) <= set(ev.PAIR_REASONS)
    assert interest not in json.dumps(event)


async def test_a_round_requested_before_its_fellows_contacts_arrive_waits_for_them(
    stack: Stack, engine: AsyncEngine, pairing: httpx.AsyncClient
) -> None:
    """The contacts topic and the applications topic are read apart (and pairing gathers its fetches), so
    a contact can come after its fellow's enrolment and the pairing request. The round waits for it: it
    scores the interests and rules on the declared conflicts a contact carries."""
    cohort = uuid.uuid4()
    fellow, partner = uuid.uuid4(), uuid.uuid4()
    interest = f"interest-{uuid.uuid4().hex}"
    contacts = {f: contact(f, f"s-{f}", uuid.uuid4(), [interest]) for f in (fellow, partner)}
    await put(stack, contacts[fellow])
    await put_request(stack, cohort, contacts)

    async def waiting() -> bool:
        async with engine.connect() as c:
            status = await c.scalar(
                text("SELECT status FROM pairing.pairing_round WHERE cohort_id = :c"), {"c": cohort}
            )
            known = await c.scalar(
                text("SELECT count(*) FROM pairing.applicant WHERE application_id = :f"), {"f": fellow}
            )
        return status == "waiting" and known == 1

    await eventually(waiting, timeout_s=60, what="the round to wait with one contact of two")
    board = AsGateway(stack, "pairing", Caller("bea", "board"))
    assert (await pairing.get(f"/cohorts/{cohort}/pairs", auth=board)).json() == []

    await put(stack, contacts[partner])

    async def pairs() -> list[dict[str, Any]]:
        answer = await pairing.get(f"/cohorts/{cohort}/pairs", auth=board)
        found: list[dict[str, Any]] = answer.json() if answer.status_code == 200 else []
        return found

    (pair,) = await eventually(pairs, timeout_s=60, what="the pair once the second contact came")
    assert f"shared interests: {interest}" in pair["reasons"]

"""The privacy canary (issue 18; DESIGN.md, "What may travel where"): one programme run end to end
through the gateway with a unique marker in every personal field (name, e-mail, job title, statement,
interests, the board's reason, feedback narrative, collaboration ideas) and in an SMTP server's reply.
Then everything an outsider or an operator can read is read back: the four integration topics, every
dead-letter topic (values and headers), every log line of the stack. No marker may be found there, and
``person_id`` must not be reproducible from the e-mail address. The marker must be found where it is
allowed (the internal contacts topic, the board's pair reasons), or the scan would prove nothing.

A poison message carrying a second marker is dead-lettered on the way: its copy on the dead-letter
topic is the message itself, but the error in the headers and the log lines must not repeat its values.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from lbb.devstack import Stack
from lbb.mailsink import MailSink
from services.notifications.domain import TEMPLATES
from shared import topics
from tests import flows
from tests.conftest import Api, TopicReader, envelopes, eventually, finding
from tests.feedback.flow import complete_exchange, give

# The namespace of the old, unkeyed person id (UUIDv5 of the e-mail address), to prove it is gone.
OLD_PERSON_NAMESPACE = uuid.UUID("9c7fb252-9d61-8384-5796-d6b01b29f787")


@dataclass
class Person:
    key: str
    name: str
    email: str
    organisation_id: str
    who: tuple[str, str]
    id: str = ""


def person(key: str, mark: str, organisation_id: str) -> Person:
    return Person(
        key, f"{key.title()} {mark}", f"{key}.{mark}@example.nhs.uk", organisation_id, (f"{key}-{mark}", "applicant")
    )


def form(cohort_id: str, who: Person, mark: str, staff_group: str) -> dict[str, Any]:
    return flows.application(
        cohort_id,
        who.organisation_id,
        who.name,
        who.email,
        staff_group,
        job_title=f"Matron {mark}",
        statement=f"I want to lead across boundaries with partners: {mark}.",
        interests=[f"flow-{mark}", f"{who.key}-{mark}"],
    )


async def run_programme(api: Api, mail: MailSink, mark: str) -> tuple[Person, Person, Person, dict[str, Any]]:
    """Ann and Bob go from application to released feedback; Carol's server refuses her e-mail with a
    reply that names her (as real servers do)."""
    orgs = await flows.organisations(api)
    cohort_id = await flows.new_cohort(api, "Privacy canary")
    ann = person("ann", mark, orgs["RC9"]["id"])
    bob = person("bob", mark, orgs["E06000032"]["id"])
    carol = person("carol", mark, orgs["RD8"]["id"])
    mail.refuse_with[carol.email] = f"550 5.1.1 <{carol.email}>: Recipient address rejected ({mark})"
    for who, group in ((ann, "clinical"), (bob, "non_clinical"), (carol, "clinical")):
        who.id = await flows.apply(api, who.who, form(cohort_id, who, mark, group))
        await flows.endorse(api, who.id, who.organisation_id)
    for who in (ann, bob):
        await flows.decide(api, who.id, "shortlist", f"A strong statement by {who.name}")
    await flows.enrol_and_request_pairing(api, cohort_id)
    (pair,) = await flows.paired(api, cohort_id, 2)
    assert f"shared interests: flow-{mark}" in pair["reasons"]  # the board reads the words, from pairing
    await flows.publish(api, cohort_id)
    (pair,) = await flows.paired(api, cohort_id, 2, published=True)
    cohort = flows.Cohort(id=cohort_id, who={ann.id: ann.who, bob.id: bob.who})
    await complete_exchange(api, cohort, pair)
    for giver, receiver in ((ann, bob), (bob, ann)):
        await give(
            api,
            cohort,
            pair["id"],
            giver.id,
            receiver.id,
            narrative=f"{receiver.name} listens first and decides fast: {mark}",
            collaboration_ideas=[f"Shared rota of {giver.name} and {receiver.name}"],
        )
    return ann, bob, carol, pair


async def poison(stack: Stack, key: str, mark: str) -> None:
    """Two messages no consumer of the contacts topic can take, full of the second marker."""
    data = {
        "person_id": key,
        "subject": f"s-{mark}",
        "name": f"Poison {mark}",
        "email": f"poison.{mark}@example.nhs.uk",
        "job_title": f"Porter {mark}",
        "organisation_id": f"poison.{mark}@example.nhs.uk",  # not a UUID: the data is invalid
        "organisation_name": "Nowhere",
    }
    envelope = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "ContactRecorded",
        "source": "lbb/canary",
        "time": "2026-12-01T09:00:00Z",
        "subject": key,
        "datacontenttype": "application/json",
        "dataschema": "lbb/ContactRecorded/v1",
        "data": data,
    }
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        # invalid data; then an invalid envelope (both still JSON envelopes: other tests read this topic)
        broken = envelope | {"time": f"poison.{mark}", "data": data | {"organisation_id": str(uuid.uuid4())}}
        for value in (json.dumps(envelope).encode(), json.dumps(broken).encode()):
            await producer.send_and_wait(topics.CONTACTS, value, key=key.encode())
    finally:
        await producer.stop()


async def dead_letter_topics(stack: Stack) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap_servers)
    await consumer.start()
    try:
        return sorted(t for t in await consumer.topics() if t.endswith(".dlq"))
    finally:
        await consumer.stop()


async def read_to_the_end(reader: TopicReader) -> list[Any]:
    """Every record of the reader's topics up to their current end."""
    assert reader.consumer is not None
    consumer = reader.consumer
    ends = await consumer.end_offsets(list(consumer.assignment()))

    async def drained() -> bool:
        await reader.poll()
        positions = {tp: await consumer.position(tp) for tp in ends}
        return all(positions[tp] >= end for tp, end in ends.items())

    await eventually(drained, 60, "the topics to be read to their end")
    return reader.records


def text_of(record: Any) -> str:
    """Everything of a record a subscriber sees: key, value and headers."""
    headers = " ".join(f"{k}={v.decode(errors='replace')}" for k, v in record.headers or ())
    key = record.key.decode(errors="replace") if record.key else ""
    return f"{key} {record.value.decode(errors='replace') if record.value else ''} {headers}".lower()


def short(text: str) -> str:
    return " ".join(text.split())[:200]


def log_lines(log_dir: Path) -> dict[str, list[str]]:
    return {p.name: p.read_text(errors="replace").splitlines() for p in sorted(log_dir.glob("*.log"))}


def unkeyed_ids(email: str) -> set[str]:
    """What a stranger with a staff list could compute from an address: the old UUIDv5, and SHA-256s of
    it (raw, or rendered as a UUID of version 4 or 8), with and without normalising it."""
    normal = email.strip().lower()
    found = {uuid.uuid5(OLD_PERSON_NAMESPACE, normal).hex}
    for candidate in {email, normal}:
        digest = bytearray(hashlib.sha256(candidate.encode()).digest()[:16])
        found |= {digest.hex(), uuid.UUID(bytes=bytes(digest), version=4).hex}
        digest[6], digest[8] = (digest[6] & 0x0F) | 0x80, (digest[8] & 0x3F) | 0x80
        found.add(digest.hex())
    return found


async def test_nothing_personal_reaches_an_integration_topic_a_dead_letter_or_a_log(
    api: Api, mail: MailSink, stack: Stack, topic_reader: Any
) -> None:
    mark = f"canary{uuid.uuid4().hex[:20]}"
    poison_mark = f"poison{uuid.uuid4().hex[:20]}"
    ann, bob, carol, pair = await run_programme(api, mail, mark)
    poison_key = str(uuid.uuid4())
    await poison(stack, poison_key, poison_mark)

    # wait until the run has reached every topic: released feedback, Carol's failure, the dead letters
    watcher = await topic_reader([*topics.INTEGRATION_TOPICS, topics.dlq(topics.CONTACTS)])

    async def reached() -> dict[str, Any] | None:
        records = await watcher.poll()
        events = envelopes([r for r in records if not r.topic.endswith(".dlq")])
        released = [e for e in events if e["type"] == "FeedbackReleased" and e["subject"] == pair["id"]]
        failed = [e for e in events if e["type"] == "NotificationFailed" and e["data"]["recipient_id"] == carol.id]
        dead = [r for r in records if r.topic.endswith(".dlq") and r.key == poison_key.encode()]
        done = len(released) == 2 and failed and len(dead) >= 6
        return {"failed": failed, "dead": dead, "events": events} if done else None

    got = await eventually(reached, 90, "released feedback, Carol's NotificationFailed and the dead letters")
    assert {e["data"]["error"] for e in got["failed"]} == {"refused"}
    assert carol.email in mail.refused  # the sink did refuse her, with the marked reply

    async def told() -> bool:  # notifications has acted on the release too (its log lines are written)
        return bool(mail.to(ann.email)) and any(
            m["Subject"] == TEMPLATES["feedback_released"].title for m in mail.to(ann.email)
        )

    await eventually(told, 60, "Ann's e-mail about her released feedback")

    # read back what an outsider or an operator can see
    dlqs = await dead_letter_topics(stack)
    reader = await topic_reader([*topics.INTEGRATION_TOPICS, *dlqs, topics.CONTACTS])
    records = await read_to_the_end(reader)
    logs = log_lines(stack.log_dir)
    found: list[str] = []
    allowed: list[str] = []
    per_topic: dict[str, int] = {}
    for record in records:
        per_topic[record.topic] = per_topic.get(record.topic, 0) + 1
        seen = text_of(record)
        where = f"{record.topic}@{record.partition}:{record.offset}"
        if mark in seen:
            (allowed if record.topic == topics.CONTACTS else found).append(f"{where}: {short(seen)}")
        poisoned = record.key == poison_key.encode()
        if poisoned and record.topic.endswith(".dlq"):
            headers = " ".join(v.decode(errors="replace") for _, v in record.headers or ())
            if poison_mark in headers.lower():
                found.append(f"{where} headers: {short(headers)}")
        elif poison_mark in seen and record.topic != topics.CONTACTS:
            found.append(f"{where}: {short(seen)}")
    for name, lines in logs.items():
        for number, line in enumerate(lines, 1):
            if mark in line.lower() or poison_mark in line.lower():
                found.append(f"{name}:{number}: {short(line)}")

    # person_id is keyed: not the old UUIDv5 of the address, nor any unkeyed SHA-256 of it
    enrolled = {
        e["data"]["fellow_id"]: e["data"]["person_id"]
        for e in envelopes([r for r in records if r.topic == topics.APPLICATIONS])
        if e["type"] == "FellowEnrolled" and e["data"]["fellow_id"] in (ann.id, bob.id)
    }
    dead_errors = sorted(
        {dict(r.headers)["x-lbb-error"].decode() for r in records if r.key == poison_key.encode() and r.headers}
    )

    report = [
        f"markers: {mark} (every personal field of Ann, Bob and Carol, Carol's SMTP reply), {poison_mark} (poison)",
        "records read, per topic: " + ", ".join(f"{t} {n}" for t, n in sorted(per_topic.items())),
        "log lines read: " + ", ".join(f"{name} {len(lines)}" for name, lines in logs.items()),
        f"marker where it may be (internal contacts topic): {len(allowed)} records",
        f"person_id of Ann and Bob: {enrolled}",
        f"dead-letter errors of the poison: {dead_errors}",
        f"marker found where it must not be: {len(found)}",
        *(f"  {f}" for f in found),
    ]
    for number, line in enumerate(report):
        finding("privacy canary: what was read and what was found", f"{number:03}", line)
    assert len(allowed) >= 3, "the canary never reached the contacts topic: the scan proves nothing"
    assert any("organisation_id: uuid_parsing" in e for e in dead_errors), dead_errors
    assert any("not a CloudEvents envelope: time: " in e for e in dead_errors), dead_errors
    assert found == [], "\n".join(found)
    assert set(enrolled) == {ann.id, bob.id} and len(set(enrolled.values())) == 2
    for who in (ann, bob):
        person_id = uuid.UUID(enrolled[who.id]).hex
        assert person_id not in unkeyed_ids(who.email), f"{who.key}'s person_id is computable from the address"
        digest = hashlib.sha256(who.email.encode()).hexdigest()
        assert digest[:12] not in person_id and person_id[:12] not in digest

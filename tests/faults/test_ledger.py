"""The ledger's counts can show what they are there to show: an e-mail the server took twice, the same
notice sent as two e-mails, one fact published as two events, a record the relay published twice.
(No stack: the counting itself, on messages and records made here.)"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from lbb.mailsink import MailSink
from services.notifications.domain import TEMPLATES
from shared import topics
from tests.faults.conftest import Count, Ledger
from tests.faults.stream import Cohort, Mailbox, Stream, Topics, count_topics


def raw(to: str, message_id: str, template: str) -> bytes:
    return f"To: Ann <{to}>\nSubject: {TEMPLATES[template].title}\nMessage-ID: {message_id}\n\nHello\n".encode()


def test_an_e_mail_taken_twice_and_a_notice_sent_twice_are_both_counted() -> None:
    sink = MailSink()
    sink.keep(raw("ann@example.nhs.uk", "<1@x>", "application_submitted"))
    sink.keep(raw("ann@example.nhs.uk", "<1@x>", "application_submitted"))  # the same message, twice
    sink.keep(raw("ann@example.nhs.uk", "<2@x>", "fellow_enrolled"))
    sink.keep(raw("ann@example.nhs.uk", "<3@x>", "fellow_enrolled"))  # the same notice, a new Message-ID
    sink.keep(raw("bob@example.nhs.uk", "<4@x>", "fellow_enrolled"))  # not counted: not an address asked for
    counts = Mailbox(sink).count({"ann@example.nhs.uk"}, 2)
    by_id = counts["e-mails received, by (recipient, Message-ID)"]
    by_notice = counts["e-mails received, by (recipient, template)"]
    assert (by_id.found, by_id.distinct) == (4, 3)
    assert (by_notice.found, by_notice.distinct) == (4, 2)
    rows = [Ledger().record("s", effect, c) for effect, c in counts.items()]
    assert [(r.lost, r.duplicated) for r in rows] == [(0, 1), (0, 2)]


@dataclass
class Record:
    topic: str
    value: bytes


class Reader:
    """What a TopicReader hands over: every record so far."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records

    async def poll(self) -> list[Any]:
        return self.records


def envelope(kind: str, **data: str) -> bytes:
    return json.dumps({"id": str(uuid.uuid4()), "type": kind, "data": data}).encode()


async def test_a_fact_published_twice_is_a_duplicate_and_a_record_published_twice_a_redelivery() -> None:
    fellow, cohort = str(uuid.uuid4()), str(uuid.uuid4())
    stream = Stream("t", [Cohort(cohort, [fellow])], {})
    submitted = envelope("ApplicationSubmitted", application_id=fellow)
    records = [
        Record(topics.APPLICATIONS, submitted),
        Record(topics.APPLICATIONS, submitted),  # the relay published the row again: same envelope id
        Record(topics.APPLICATIONS, envelope("ApplicationEndorsed", application_id=fellow)),
        Record(topics.APPLICATIONS, envelope("ApplicationEndorsed", application_id=fellow)),  # staged twice
        Record(topics.APPLICATIONS, b"not json"),
    ]
    expected = {t: 0 for t in (topics.APPLICATIONS, topics.CONTACTS, topics.PAIRING, topics.NOTIFICATIONS)}
    counts = await count_topics(Topics(Reader(records)), stream, expected | {topics.APPLICATIONS: 2})  # type: ignore[arg-type]
    c = counts[f"{topics.APPLICATIONS}, by envelope id"]
    assert (c.expected, c.found, c.distinct, c.repeats, c.out_of_order) == (2, 3, 2, 1, 0)
    row = Ledger().record("s", "topic", c)
    assert (row.lost, row.duplicated, row.repeated) == (0, 1, 1)
    assert not c.exact


async def test_an_event_after_a_later_one_of_its_key_is_out_of_order() -> None:
    """A batch sent again after a failed send: the submission repeated after the endorsement."""
    fellow = str(uuid.uuid4())
    stream = Stream("t", [Cohort(str(uuid.uuid4()), [fellow])], {})
    submitted = envelope("ApplicationSubmitted", application_id=fellow)
    endorsed = envelope("ApplicationEndorsed", application_id=fellow)
    records = [Record(topics.APPLICATIONS, v) for v in (submitted, endorsed, submitted, endorsed)]
    expected = {t: 0 for t in (topics.APPLICATIONS, topics.CONTACTS, topics.PAIRING, topics.NOTIFICATIONS)}
    counts = await count_topics(Topics(Reader(records)), stream, expected | {topics.APPLICATIONS: 2})  # type: ignore[arg-type]
    c = counts[f"{topics.APPLICATIONS}, by envelope id"]
    assert (c.found, c.distinct, c.repeats, c.out_of_order) == (2, 2, 2, 1)
    assert not c.exact and Ledger().record("s", "topic", c).out_of_order == 1


def test_a_keyed_count_shows_only_loss() -> None:
    row = Ledger().record("s", "pairing.fellow (primary key)", Count(10, 9, 9, keyed=True))
    assert (row.lost, row.duplicated) == (1, None)
    assert "(key)" in Ledger([row]).table()

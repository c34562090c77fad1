"""Helpers of the notifications tests: people, a programme driven through the gateway, the mailbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.mailsink import MailSink
from services.notifications.domain import TEMPLATES
from shared.events import LEADERSHIP_DIMENSIONS
from tests import flows
from tests.conftest import Api, eventually
from tests.e2e.test_shadowing import join, pairs_of
from tests.flows import ADMIN


def title(template: str) -> str:
    return TEMPLATES[template].title


@dataclass
class Person:
    key: str  # unique per test
    name: str
    job_title: str
    organisation_id: str
    staff_group: str
    email: str
    id: str = ""  # the application (fellow) id, once applied

    @property
    def who(self) -> tuple[str, str]:
        return (self.key, "applicant")


@dataclass
class Cohort:
    """The new cohort of one test; ``uid`` makes the people of the test new too."""

    id: str
    uid: str
    orgs: dict[str, dict[str, Any]]  # the partner organisations by code

    def person(self, name: str, job_title: str, organisation_code: str, staff_group: str) -> Person:
        """Someone new from a partner organisation, yet to apply."""
        key = f"{name.lower()}-{self.uid}"
        organisation_id = self.orgs[organisation_code]["id"]
        return Person(key, name, job_title, organisation_id, staff_group, f"{key}@example.nhs.uk")


async def new_cohort(api: Api, name: str) -> Cohort:
    """A new cohort called ``name`` and a fresh uid."""
    uid = unique()
    orgs = await flows.organisations(api)
    return Cohort(await flows.new_cohort(api, f"{name} {uid}"), uid, orgs)


async def apply(api: Api, cohort: Cohort, p: Person) -> str:
    form = flows.application(cohort.id, p.organisation_id, p.name, p.email, p.staff_group, job_title=p.job_title)
    p.id = await flows.apply(api, p.who, form)
    return p.id


async def endorse_and_decide(api: Api, p: Person, decision: str) -> None:
    await flows.endorse(api, p.id, p.organisation_id)
    await flows.decide(api, p.id, decision, reason="the board's reason")


async def apply_and_decide(api: Api, cohort: Cohort, *decisions: tuple[Person, str]) -> None:
    """Each person applies, their sponsor endorses and the board decides, one person after another."""
    for p, decision in decisions:
        await apply(api, cohort, p)
        await endorse_and_decide(api, p, decision)


async def ivy_and_jack_shortlisted(api: Api, cohort: Cohort) -> tuple[Person, Person]:
    """Two applicants of two organisations (a trust's therapist, the fire service's station manager),
    each endorsed and shortlisted: a two-fellow cohort ready to enrol and pair."""
    ivy = cohort.person("Ivy", "Occupational Therapist", "RC9", "clinical")
    jack = cohort.person("Jack", "Fire Station Manager", "E06000032", "non_clinical")
    await apply_and_decide(api, cohort, (ivy, "shortlist"), (jack, "shortlist"))
    return ivy, jack


async def enrol_pair_and_publish(api: Api, cohort: Cohort) -> dict[str, Any]:
    """Enrol the shortlisted, pair them, publish: the one pair of a two-fellow cohort."""
    await flows.enrol_and_request_pairing(api, cohort.id)
    (pair,) = await flows.paired(api, cohort.id, 2)
    await flows.publish(api, cohort.id)
    return pair


async def register_staff(api: Api, role: str, subject: str, email: str, organisation_id: str | None = None) -> str:
    body: dict[str, Any] = {"role": role, "subject": subject, "name": subject.title(), "email": email}
    if organisation_id:
        body["organisation_id"] = organisation_id
    answer = await api.call("POST", "/api/notifications/staff-contacts", ADMIN, body)
    assert answer.status_code == 201, answer.text
    staff_id: str = answer.json()["id"]
    return staff_id


async def remove_staff(api: Api, staff_id: str) -> None:
    answer = await api.call("DELETE", f"/api/notifications/staff-contacts/{staff_id}", ADMIN)
    assert answer.status_code == 202, answer.text


def subjects(mail: MailSink, address: str) -> list[str]:
    return sorted(str(m["Subject"]) for m in mail.to(address))


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


async def mail_arrives(mail: MailSink, address: str, subject: str, count: int = 1, timeout_s: float = 60) -> None:
    async def arrived() -> bool:
        return subjects(mail, address).count(subject) >= count

    await eventually(arrived, timeout_s, f"{count} x {subject!r} to {address}")


def visit_day(days_ahead: int) -> str:
    return (date.today() + timedelta(days=days_ahead)).isoformat()


STRENGTHS = dict.fromkeys(LEADERSHIP_DIMENSIONS, 4)


def unique() -> str:
    return uuid.uuid4().hex[:10]


async def fetch_rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    """The rows one query finds now."""
    async with engine.connect() as c:
        return list((await c.execute(text(sql), params)).all())


async def deliveries(engine: AsyncEngine, *recipient_ids: str) -> list[Any]:
    """The deliveries to these recipients as they are now, oldest first."""
    return await fetch_rows(
        engine,
        "SELECT id, event_id, recipient_id, template, status, attempts, last_error, created_at, sent_at"
        " FROM notifications.delivery WHERE recipient_id = ANY(CAST(:ids AS uuid[])) ORDER BY created_at",
        ids=list(recipient_ids),
    )


async def outcomes(engine: AsyncEngine, recipient_ids: list[str], timeout_s: float = 30) -> list[Any]:
    """The deliveries to these recipients once none is still on its way (the sink may have a message
    a moment before the service has recorded it as sent)."""

    async def settled() -> list[Any]:
        found = await deliveries(engine, *recipient_ids)
        return found if found and all(r.status not in ("pending", "sending", "handing_over") for r in found) else []

    return await eventually(settled, timeout_s, "every delivery to be recorded with its outcome")


# --- a cohort of one of the new kinds (enrolled at once, paired and published) -------------------


def email_of(who: tuple[str, ...]) -> str:
    return f"{who[0]}@example.nhs.uk"  # tests.e2e.test_shadowing.join


async def cohort_of(api: Api, kind: str, people: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str], dict]:
    """A cohort of ``kind`` enrolling at once; each organisation code's person joins; one pairing round,
    published. The cohort id, fellow ids and callers by code."""
    orgs = await flows.organisations(api)
    body = {"programme": kind, "name": f"{kind} {uuid.uuid4().hex[:6]}", "capacity": 10, "kind": kind}
    created = await api.call("POST", "/api/cohorts", flows.ADMIN, body | {"auto_enrol": True})
    assert created.status_code == 201, created.text
    cohort_id = created.json()["id"]
    fellow, who = {}, {}
    for code, extra in people.items():
        fellow[code], who[code] = await join(api, cohort_id, orgs, code, extra)
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", flows.BOARD, {})).status_code == 202
    await pairs_of(api, cohort_id, len(people) // 2)
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairs/publish", flows.BOARD, {})).status_code == 202
    await pairs_of(api, cohort_id, len(people) // 2, published=True)
    return cohort_id, fellow, who


async def call(api: Api, method: str, path: str, who: Any, body: Any = None, expected: int = 200) -> Any:
    answer = await api.call(method, path, who, body)
    assert answer.status_code == expected, answer.text
    return answer.json()

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
from tests.conftest import Api, eventually

ADMIN = ("ada", "admin")
BOARD = ("bea", "board")


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


async def organisations(api: Api) -> dict[str, dict[str, Any]]:
    answer = await api.call("GET", "/api/organisations", ADMIN)
    assert answer.status_code == 200, answer.text
    return {o["code"]: o for o in answer.json()}


async def new_cohort(api: Api, name: str) -> str:
    created = await api.call(
        "POST",
        "/api/cohorts",
        ADMIN,
        {"programme": "Leading Beyond Boundaries", "name": name, "capacity": 28, "pairing_mode": "peer"},
    )
    assert created.status_code == 201, created.text
    cohort_id: str = created.json()["id"]
    return cohort_id


def person(uid: str, name: str, job_title: str, organisation_id: str, staff_group: str, email: str = "") -> Person:
    key = f"{name.lower()}-{uid}"
    return Person(key, name, job_title, organisation_id, staff_group, email or f"{key}@example.nhs.uk")


async def apply(api: Api, cohort_id: str, p: Person) -> str:
    answer = await api.call(
        "POST",
        "/api/applications",
        p.who,
        {
            "cohort_id": cohort_id,
            "name": p.name,
            "email": p.email,
            "job_title": p.job_title,
            "organisation_id": p.organisation_id,
            "staff_group": p.staff_group,
            "band": "8a",
            "statement": "I want to understand how our partners lead across boundaries.",
        },
    )
    assert answer.status_code == 201, answer.text
    p.id = answer.json()["id"]
    return p.id


async def endorse_and_decide(api: Api, p: Person, decision: str) -> None:
    endorsed = await api.call("POST", f"/api/applications/{p.id}/endorse", ("sam", "sponsor", p.organisation_id), {})
    assert endorsed.status_code == 202, endorsed.text
    decided = await api.call(
        "POST", f"/api/applications/{p.id}/decision", BOARD, {"decision": decision, "reason": "the board's reason"}
    )
    assert decided.status_code == 202, decided.text


async def enrol_pair_and_publish(api: Api, cohort_id: str) -> dict[str, Any]:
    """Enrol the shortlisted, pair them, publish: the one pair of a two-fellow cohort."""
    enrolled = await api.call("POST", f"/api/cohorts/{cohort_id}/enrol", BOARD, {})
    assert enrolled.status_code == 202, enrolled.text
    requested = await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", BOARD, {})
    assert requested.status_code == 202, requested.text

    async def pairs() -> list[dict[str, Any]]:
        answer = await api.call("GET", f"/api/cohorts/{cohort_id}/pairs", BOARD)
        return answer.json() if answer.status_code == 200 else []

    (pair,) = await eventually(pairs, 60, "the pairing service to pair the cohort")
    published = await api.call("POST", f"/api/cohorts/{cohort_id}/pairs/publish", BOARD, {})
    assert published.status_code == 202, published.text
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


async def outcomes(engine: AsyncEngine, recipient_ids: list[str], timeout_s: float = 30) -> list[Any]:
    """The deliveries to these recipients once none is still on its way (the sink may have a message
    a moment before the service has recorded it as sent)."""

    async def settled() -> list[Any]:
        async with engine.connect() as c:
            rows = (
                await c.execute(
                    text(
                        "SELECT id, event_id, recipient_id, template, status, attempts, last_error, sent_at"
                        " FROM notifications.delivery WHERE recipient_id = ANY(CAST(:ids AS uuid[]))"
                    ),
                    {"ids": recipient_ids},
                )
            ).all()
        return list(rows) if rows and all(r.status not in ("pending", "sending", "handing_over") for r in rows) else []

    return await eventually(settled, timeout_s, "every delivery to be recorded with its outcome")

"""The whole programme driven through the gateway: the right people get the right e-mails, once,
over real SMTP, and each delivery is recorded and announced as NotificationSent."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.mailsink import MailSink
from shared import topics
from tests.conftest import Api, eventually
from tests.flows import ADMIN
from tests.notifications.flow import (
    STRENGTHS,
    Cohort,
    apply,
    apply_and_decide,
    endorse_and_decide,
    enrol_pair_and_publish,
    html_of,
    mail_arrives,
    outcomes,
    register_staff,
    remove_staff,
    subjects,
    text_of,
    title,
    unique,
    visit_day,
)

FELLOW_JOURNEY = [
    "application_submitted",
    "application_endorsed",
    "application_shortlisted",
    "fellow_enrolled",
    "pair_assigned",
    "visit_scheduled",
    "visit_scheduled",
    "exchange_completed",
    "feedback_requested",
    "feedback_released",
]


async def test_everyone_involved_hears_what_they_need_across_the_programme_exactly_once(
    api: Api, mail: MailSink, engine: AsyncEngine, topic_reader: Any, cohort: Cohort
) -> None:
    uid, hospital, council = cohort.uid, cohort.orgs["RC9"], cohort.orgs["E06000032"]
    sponsor_h = (f"sponsor-h-{uid}", f"sponsor-h-{uid}@example.nhs.uk")
    sponsor_c = (f"sponsor-c-{uid}", f"sponsor-c-{uid}@example.nhs.uk")
    board = (f"board-{uid}", f"board-{uid}@example.nhs.uk")
    staff = [
        await register_staff(api, "sponsor", sponsor_h[0], sponsor_h[1], hospital["id"]),
        await register_staff(api, "sponsor", sponsor_c[0], sponsor_c[1], council["id"]),
        await register_staff(api, "board", board[0], board[1]),
    ]
    try:
        alice = cohort.person("Alice", "Ward Sister", "RC9", "clinical")
        bob = cohort.person("Bob", "Housing Manager", "E06000032", "non_clinical")
        carol = cohort.person("Carol", "Consultant", "RC9", "clinical")
        dave = cohort.person("Dave", "Social Worker", "E06000032", "non_clinical")
        for p in (alice, bob, carol, dave):
            await apply(api, cohort, p)
        for p, decision in ((alice, "shortlist"), (bob, "shortlist"), (carol, "decline"), (dave, "waitlist")):
            await endorse_and_decide(api, p, decision)
        pair = await enrol_pair_and_publish(api, cohort)

        # the exchange: each fellow hosts one visit, both are completed
        visits = []
        for host, days in ((alice, 30), (bob, 40)):
            scheduled = await api.call(
                "POST",
                f"/api/pairs/{pair['id']}/visits",
                alice.who,
                {"host_fellow_id": host.id, "date": visit_day(days)},
            )
            assert scheduled.status_code == 201, scheduled.text
            visits.append(scheduled.json()["id"])
        for visit_id in visits:
            completed = await api.call("POST", f"/api/visits/{visit_id}/complete", bob.who, {})
            assert completed.status_code == 202, completed.text

        # feedback opens once the feedback service has seen the exchange complete: its request e-mail says so
        await mail_arrives(mail, alice.email, title("feedback_requested"))
        await mail_arrives(mail, bob.email, title("feedback_requested"))
        for giver, receiver in ((alice, bob), (bob, alice)):
            given = await api.call(
                "POST",
                f"/api/pairs/{pair['id']}/feedback",
                giver.who,
                {
                    "to_fellow_id": receiver.id,
                    "strengths": STRENGTHS,
                    "narrative": "Thoughtful.",
                    "collaboration_ideas": [],
                },
            )
            assert given.status_code == 201, given.text

        expected = {
            alice.email: sorted(title(t) for t in FELLOW_JOURNEY),
            bob.email: sorted(title(t) for t in FELLOW_JOURNEY),
            carol.email: sorted(
                title(t) for t in ["application_submitted", "application_endorsed", "application_declined"]
            ),
            dave.email: sorted(
                title(t) for t in ["application_submitted", "application_endorsed", "application_waitlisted"]
            ),
            sponsor_h[1]: [title("endorsement_requested")] * 2,
            sponsor_c[1]: [title("endorsement_requested")] * 2,
            board[1]: [title("decision_requested")] * 4,
        }

        async def everyone_told() -> bool:
            return all(len(subjects(mail, address)) >= len(want) for address, want in expected.items())

        await eventually(everyone_told, 90, "every e-mail of the programme")
        for address, want in expected.items():
            assert subjects(mail, address) == want, address

        # the partner is introduced by name, role and organisation, in text and HTML
        (intro,) = [m for m in mail.to(alice.email) if m["Subject"] == title("pair_assigned")]
        assert "Bob, Housing Manager at Luton Borough Council" in text_of(intro)
        assert "<strong>Bob</strong>, Housing Manager at Luton Borough Council" in html_of(intro)
        assert str(intro["To"]) == f"Alice <{alice.email}>"
        # the sponsor learns who needs endorsing; the board what awaits its decision
        asks = sorted(text_of(m) for m in mail.to(sponsor_h[1]))
        assert "Alice (Ward Sister, Bedfordshire Hospitals" in asks[0] and "Carol (Consultant" in asks[1]
        decisions = " ".join(text_of(m) for m in mail.to(board[1]))
        for p in (alice, bob, carol, dave):
            assert p.id in decisions
        (due,) = [m for m in mail.to(bob.email) if m["Subject"] == title("feedback_requested")]
        assert "Please give Alice feedback" in text_of(due)

        # no e-mail of the whole session went out twice
        ids = Counter(str(m["Message-ID"]) for m in mail.messages)
        assert [i for i, n in ids.items() if n > 1] == []

        ids_of_people = [p.id for p in (alice, bob, carol, dave)]
        rows = await outcomes(engine, ids_of_people)
        # the in-app inbox: the caller's own, newest first, sponsors included
        inbox = (await api.call("GET", "/api/notifications", alice.who)).json()
        assert sorted(n["template"] for n in inbox) == sorted(FELLOW_JOURNEY)
        assert [n["created_at"] for n in inbox] == sorted((n["created_at"] for n in inbox), reverse=True)
        assert all(n["status"] == "sent" for n in inbox)
        sponsor_inbox = (await api.call("GET", "/api/notifications", (sponsor_h[0], "sponsor", hospital["id"]))).json()
        assert [n["template"] for n in sponsor_inbox] == ["endorsement_requested"] * 2

        # every delivery recorded once, sent on the first attempt, and announced on lbb.notifications.v1
        assert len(rows) == sum(len(expected[p.email]) for p in (alice, bob, carol, dave))
        assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
        reader = await topic_reader([topics.NOTIFICATIONS])

        async def announced() -> set[str]:
            records = await reader.poll()
            sent = {json.loads(r.value)["data"]["delivery_id"] for r in records if b"NotificationSent" in r.value}
            return sent if {str(r.id) for r in rows} <= sent else set()

        await eventually(announced, 30, "NotificationSent for every delivery")
    finally:
        for staff_id in staff:
            await remove_staff(api, staff_id)


async def test_a_withdrawal_promotes_the_first_waitlisted_who_is_told_a_place_has_come_up(
    api: Api, mail: MailSink, engine: AsyncEngine, cohort: Cohort
) -> None:
    kim = cohort.person("Kim", "Ward Sister", "RC9", "clinical")
    leo = cohort.person("Leo", "Housing Manager", "E06000032", "non_clinical")
    mia = cohort.person("Mia", "Social Worker", "E06000032", "non_clinical")
    await apply_and_decide(api, cohort, (kim, "shortlist"), (leo, "waitlist"), (mia, "waitlist"))  # Leo waits longest
    for p in (leo, mia):
        await mail_arrives(mail, p.email, title("application_waitlisted"))

    withdrawn = await api.call("POST", f"/api/applications/{kim.id}/withdraw", kim.who, {})
    assert withdrawn.status_code == 202, withdrawn.text
    await mail_arrives(mail, leo.email, title("waitlist_promoted"))
    await mail_arrives(mail, kim.email, title("application_withdrawn"))

    assert (await api.call("GET", f"/api/applications/{leo.id}", leo.who)).json()["state"] == "shortlisted"
    waited = ["application_submitted", "application_endorsed", "application_waitlisted"]
    rows = await outcomes(engine, [leo.id, mia.id])
    templates = {p.id: sorted(r.template for r in rows if str(r.recipient_id) == p.id) for p in (leo, mia)}
    assert templates == {leo.id: sorted([*waited, "waitlist_promoted"]), mia.id: sorted(waited)}
    assert subjects(mail, leo.email) == sorted(title(t) for t in [*waited, "waitlist_promoted"])
    assert title("application_shortlisted") not in subjects(mail, leo.email)  # the promotion, not a decision
    assert subjects(mail, mia.email) == sorted(title(t) for t in waited)
    (told,) = [m for m in mail.to(leo.email) if m["Subject"] == title("waitlist_promoted")]
    assert "moved from the waiting list onto the programme" in text_of(told)


async def test_only_an_admin_keeps_the_staff_directory_and_a_sponsor_needs_an_organisation(api: Api) -> None:
    body = {"role": "sponsor", "subject": f"s-{unique()}", "name": "Sue", "email": "sue@example.nhs.uk"}
    assert (await api.call("POST", "/api/notifications/staff-contacts", ("bea", "board"), body)).status_code == 403
    no_org = await api.call("POST", "/api/notifications/staff-contacts", ADMIN, body)
    assert no_org.status_code == 422 and "organisation_id" in no_org.text
    bad_email = await api.call(
        "POST", "/api/notifications/staff-contacts", ADMIN, {**body, "email": "nope", "role": "board"}
    )
    assert bad_email.status_code == 422
    first = await api.call("POST", "/api/notifications/staff-contacts", ADMIN, {**body, "role": "board"})
    again = await api.call(
        "POST", "/api/notifications/staff-contacts", ADMIN, {**body, "role": "board", "email": "sue2@example.nhs.uk"}
    )
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    listed = (await api.call("GET", "/api/notifications/staff-contacts", ADMIN)).json()
    (sue,) = [s for s in listed if s["id"] == first.json()["id"]]
    assert (sue["email"], sue["active"]) == ("sue2@example.nhs.uk", True)
    await remove_staff(api, sue["id"])
    listed = (await api.call("GET", "/api/notifications/staff-contacts", ADMIN)).json()
    assert [s["active"] for s in listed if s["id"] == sue["id"]] == [False]

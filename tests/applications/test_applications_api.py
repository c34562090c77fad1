"""The applications service through the gateway: organisations, cohorts, the application state machine,
refusals, capacity and waitlist promotion, the fair-shortlisting view, and what never reaches the topics."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import topics
from tests.conftest import Api, eventually
from tests.flows import ADMIN, BOARD, application


async def orgs(api: Api) -> dict[str, str]:
    answer = await api.call("GET", "/api/organisations", ADMIN)
    assert answer.status_code == 200, answer.text
    return {o["code"]: o["id"] for o in answer.json()}


async def new_cohort(api: Api, capacity: int = 28, **extra: Any) -> str:
    body = {"programme": "Leading Beyond Boundaries", "name": f"c-{uuid.uuid4()}", "capacity": capacity}
    created = await api.call("POST", "/api/cohorts", ADMIN, body | {"pairing_mode": "peer"} | extra)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def form(cohort_id: str, organisation_id: str, who: str, **extra: Any) -> dict[str, Any]:
    return application(cohort_id, organisation_id, who.title(), f"{who}@example.nhs.uk") | extra


async def apply(api: Api, cohort_id: str, organisation_id: str, **extra: Any) -> tuple[str, tuple[str, str]]:
    who = f"u{uuid.uuid4().hex[:10]}"
    me = (who, "applicant")
    answer = await api.call("POST", "/api/applications", me, form(cohort_id, organisation_id, who, **extra))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"]), me


async def endorsed(api: Api, cohort_id: str, organisation_id: str, **extra: Any) -> tuple[str, tuple[str, str]]:
    application_id, me = await apply(api, cohort_id, organisation_id, **extra)
    sponsor = ("sam", "sponsor", organisation_id)
    answer = await api.call("POST", f"/api/applications/{application_id}/endorse", sponsor, {})
    assert answer.status_code == 202, answer.text
    return application_id, me


async def decide(api: Api, application_id: str, decision: str) -> None:
    answer = await api.call(
        "POST", f"/api/applications/{application_id}/decision", BOARD, {"decision": decision, "reason": "fit"}
    )
    assert answer.status_code == 202, answer.text


async def state(api: Api, application_id: str) -> str:
    answer = await api.call("GET", f"/api/applications/{application_id}", BOARD)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["state"])


async def test_an_admin_adds_an_organisation_and_a_duplicate_code_is_refused(api: Api) -> None:
    code = f"T{uuid.uuid4().hex[:8]}"
    body = {"code": code, "name": "Test Fire and Rescue", "sector": "fire_rescue", "place": "luton"}
    assert (await api.call("POST", "/api/organisations", BOARD, body)).status_code == 403
    created = await api.call("POST", "/api/organisations", ADMIN, body)
    assert created.status_code == 201, created.text
    assert (await orgs(api))[code] == created.json()["id"]
    assert (await api.call("POST", "/api/organisations", ADMIN, body)).status_code == 409
    wrong = await api.call("POST", "/api/organisations", ADMIN, body | {"code": "X1", "sector": "bakery"})
    assert wrong.status_code == 422 and "sector" in wrong.text


async def test_an_application_walks_every_transition_and_the_board_decision_is_recorded(
    api: Api, engine: AsyncEngine
) -> None:
    org = (await orgs(api))["RC9"]
    cohort = await new_cohort(api)
    application_id, me = await endorsed(api, cohort, org)
    assert await state(api, application_id) == "endorsed"
    await decide(api, application_id, "waitlist")
    assert await state(api, application_id) == "waitlisted"
    await decide(api, application_id, "shortlist")
    enrolled = await api.call("POST", f"/api/cohorts/{cohort}/enrol", BOARD, {})
    assert enrolled.status_code == 202, enrolled.text
    assert await state(api, application_id) == "enrolled"
    assert (await api.call("POST", f"/api/applications/{application_id}/withdraw", me, {})).status_code == 202
    assert await state(api, application_id) == "withdrawn"
    async with engine.connect() as db:
        rows = (
            await db.execute(
                text(
                    "select action, decided_by, reason, decided_at from applications.decision"
                    " where application_id = :id order by decided_at"
                ),
                {"id": application_id},
            )
        ).all()
    assert [r.action for r in rows] == ["endorse", "waitlist", "shortlist", "enrol", "withdraw"]
    assert rows[1].decided_by == "bea" and rows[1].reason == "fit" and rows[1].decided_at is not None


async def test_an_illegal_transition_answers_409_with_the_current_state_and_changes_nothing(api: Api) -> None:
    org = (await orgs(api))["RC9"]
    cohort = await new_cohort(api)
    application_id, me = await apply(api, cohort, org)
    refused = await api.call(
        "POST", f"/api/applications/{application_id}/decision", BOARD, {"decision": "shortlist", "reason": "x"}
    )
    assert refused.status_code == 409 and refused.json()["state"] == "submitted", refused.text
    assert await state(api, application_id) == "submitted"
    assert (await api.call("POST", f"/api/applications/{application_id}/withdraw", me, {})).status_code == 202
    again = await api.call("POST", f"/api/applications/{application_id}/withdraw", me, {})
    assert again.status_code == 409 and again.json()["state"] == "withdrawn"


async def test_refusals_duplicate_email_closed_window_bad_fields_and_another_organisations_sponsor(
    api: Api, topic_reader: Any
) -> None:
    codes = await orgs(api)
    org, other = codes["RC9"], codes["E06000032"]
    cohort = await new_cohort(api)
    application_id, _ = await apply(api, cohort, org, email="dup@example.nhs.uk")
    dup = await api.call(
        "POST", "/api/applications", ("dupe", "applicant"), form(cohort, org, "dupe", email="DUP@example.nhs.uk")
    )
    assert dup.status_code == 409 and "open application" in dup.json()["detail"]

    bad = await api.call(
        "POST",
        "/api/applications",
        ("bad", "applicant"),
        form(cohort, org, "bad", email="not-an-email", band="12", staff_group="chef", statement="short"),
    )
    assert bad.status_code == 422
    for field in ("email", "band", "staff_group", "statement"):
        assert field in bad.text, field
    nowhere = await api.call("POST", "/api/applications", ("nw", "applicant"), form(cohort, str(uuid.uuid4()), "nw"))
    assert nowhere.status_code == 422 and "organisation" in nowhere.text

    stranger = ("sid", "sponsor", other)
    assert (await api.call("POST", f"/api/applications/{application_id}/endorse", stranger, {})).status_code == 404
    assert await state(api, application_id) == "submitted"

    reader = await topic_reader([topics.APPLICATIONS])
    assert (await api.call("POST", f"/api/cohorts/{cohort}/close", BOARD, {})).status_code == 403
    assert (await api.call("POST", f"/api/cohorts/{cohort}/close", ADMIN, {})).status_code == 202
    assert (await api.call("POST", f"/api/cohorts/{cohort}/close", ADMIN, {})).status_code == 409
    late = await api.call("POST", "/api/applications", ("late", "applicant"), form(cohort, org, "late"))
    assert late.status_code == 409 and "closed" in late.json()["detail"]

    async def closed() -> bool | None:
        return (
            any(
                json.loads(r.value)["type"] == "CohortClosed" and json.loads(r.value)["subject"] == cohort
                for r in await reader.poll()
            )
            or None
        )

    await eventually(closed, what="CohortClosed on lbb.applications.v1")


async def test_enrolment_respects_capacity_and_a_withdrawal_promotes_the_next_waitlisted(
    api: Api, topic_reader: Any
) -> None:
    codes = await orgs(api)
    cohort = await new_cohort(api, capacity=2)
    ids = []
    for code in ("RC9", "E06000032", "RD8", "QHG"):
        application_id, _ = await endorsed(api, cohort, codes[code])
        await decide(api, application_id, "shortlist")
        ids.append(application_id)
    enrol = await api.call("POST", f"/api/cohorts/{cohort}/enrol", BOARD, {})
    assert enrol.status_code == 202, enrol.text
    assert enrol.json()["enrolled"] == ids[:2] and enrol.json()["waitlisted"] == ids[2:]
    assert [await state(api, i) for i in ids] == ["enrolled", "enrolled", "waitlisted", "waitlisted"]

    assert (await api.call("POST", f"/api/applications/{ids[0]}/withdraw", BOARD, {})).status_code == 202
    assert [await state(api, i) for i in ids] == ["withdrawn", "enrolled", "shortlisted", "waitlisted"]
    again = await api.call("POST", f"/api/cohorts/{cohort}/enrol", BOARD, {})
    assert again.json()["enrolled"] == [ids[2]] and again.json()["waitlisted"] == []

    reader = await topic_reader([topics.APPLICATIONS])

    async def promoted() -> dict[str, Any] | None:
        for r in await reader.poll():
            envelope = json.loads(r.value)
            data = envelope["data"]
            if envelope["subject"] == ids[2] and data.get("promoted_after_withdrawal_of"):
                return dict(data)
        return None

    data = await eventually(promoted, what="ApplicationShortlisted saying who moved up")
    assert data["promoted_after_withdrawal_of"] == ids[0]


async def test_the_board_sees_fair_shortlisting_counts_with_small_equality_numbers_suppressed(api: Api) -> None:
    codes = await orgs(api)
    cohort = await new_cohort(api)
    for _ in range(6):
        await apply(api, cohort, codes["RC9"], equality={"consent": True, "ethnicity": "white_british"})
    await apply(
        api, cohort, codes["E06000032"], staff_group="non_clinical", equality={"consent": True, "ethnicity": "asian"}
    )
    assert (await api.call("GET", f"/api/cohorts/{cohort}/shortlisting", ("x", "applicant"))).status_code == 403
    view = await api.call("GET", f"/api/cohorts/{cohort}/shortlisting", BOARD)
    assert view.status_code == 200, view.text
    body = view.json()
    # under disclosure control: counts rounded to 5, 1 to 4 hidden (7 applied, 6 of them from RC9)
    assert body["applications"] == 5
    assert body["by_organisation"] == {"RC9": 5, "E06000032": "<5"}
    assert body["by_sector"] == {"acute": 5, "local_authority": "<5"}
    assert body["by_place"] == {"luton": 5}
    assert body["by_staff_group"] == {"clinical": 5, "non_clinical": "<5"}
    assert body["equality"] == {"consented": 5, "by_question": {"ethnicity": {"asian": "<5", "white_british": 5}}}


async def test_email_and_equality_data_never_reach_the_integration_topics(api: Api, topic_reader: Any) -> None:
    codes = await orgs(api)
    cohort = await new_cohort(api, capacity=2)
    marker = f"eq{uuid.uuid4().hex[:12]}"
    email = f"{marker}@example.nhs.uk"
    application_id, me = await endorsed(
        api, cohort, codes["RC9"], email=email, equality={"consent": True, "religion": marker}
    )
    await decide(api, application_id, "shortlist")
    assert (await api.call("POST", f"/api/cohorts/{cohort}/enrol", BOARD, {})).status_code == 202
    assert (await api.call("POST", f"/api/applications/{application_id}/withdraw", me, {})).status_code == 202

    reader = await topic_reader([*topics.INTEGRATION_TOPICS, topics.CONTACTS])

    async def withdrawn_and_contact() -> list[Any] | None:
        records = await reader.poll()
        types = {json.loads(r.value)["type"] for r in records if application_id.encode() in (r.value or b"")}
        return records if {"ApplicationWithdrawn", "FellowEnrolled", "ContactRecorded"} <= types else None

    records = await eventually(withdrawn_and_contact, what="the application's events and its contact")
    integration = [r for r in records if r.topic in topics.INTEGRATION_TOPICS]
    assert integration
    for record in integration:
        assert marker.encode() not in record.value, record.value
        assert b"@example.nhs.uk" not in record.value, record.value
    contacts = [r for r in records if r.topic == topics.CONTACTS and email.encode() in (r.value or b"")]
    assert contacts, "the e-mail travels on the internal contacts topic"
    assert all(marker.encode() not in r.value.replace(email.encode(), b"") for r in contacts)


async def test_a_declined_application_is_closed_and_an_application_before_the_window_is_refused(api: Api) -> None:
    org = (await orgs(api))["RC9"]
    cohort = await new_cohort(api)
    application_id, me = await endorsed(api, cohort, org)
    await decide(api, application_id, "decline")
    assert await state(api, application_id) == "declined"
    late = await api.call("POST", f"/api/applications/{application_id}/withdraw", me, {})
    assert late.status_code == 409 and late.json()["state"] == "declined"

    future = await new_cohort(api, opens_at="2999-01-01T00:00:00Z")
    early = await api.call("POST", "/api/applications", ("early", "applicant"), form(future, org, "early"))
    assert early.status_code == 409 and "open at" in early.json()["detail"]

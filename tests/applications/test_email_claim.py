"""An application's e-mail is the sign-in's (the token's ``email`` claim), and one person holds at most
one open application per cohort, through the gateway on the real stack."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.applications.test_applications_api import decide, endorsed, new_cohort, orgs
from tests.conftest import Api
from tests.flows import BOARD, application

OPEN_TWICE = "you already have an open application to this cohort"


def person() -> tuple[tuple[str, str], str]:
    """A new applicant and an e-mail address of theirs."""
    sub = f"p{uuid.uuid4().hex[:10]}"
    return (sub, "applicant"), f"{sub}@example.nhs.uk"


async def submit(api: Api, who: tuple[str, str], form: dict[str, Any], email: str | None = None) -> Any:
    return await api.call("POST", "/api/applications", who, form, email=email)


async def stored_email(api: Api, application_id: str) -> str:
    answer = await api.call("GET", f"/api/applications/{application_id}", BOARD)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["email"])


def without_email(form: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in form.items() if k != "email"}


async def test_the_application_takes_the_e_mail_of_the_token_and_refuses_another_in_the_body(api: Api) -> None:
    org = (await orgs(api))["RC9"]
    cohort = await new_cohort(api)
    (ann, claim), (bob, bob_claim) = person(), person()

    given = without_email(application(cohort, org, "Ann", "unused@example.nhs.uk"))
    created = await submit(api, ann, given, email=claim)
    assert created.status_code == 201, created.text
    assert await stored_email(api, created.json()["id"]) == claim

    # the body may repeat the claim in another letter case; the claim is what is kept
    same = await submit(api, bob, application(cohort, org, "Bob", bob_claim.upper()), email=bob_claim)
    assert same.status_code == 201, same.text
    assert await stored_email(api, same.json()["id"]) == bob_claim

    (eve, eve_claim) = person()
    spoof = await submit(api, eve, application(cohort, org, "Eve", "victim@example.nhs.uk"), email=eve_claim)
    assert spoof.status_code == 422, spoof.text
    assert "email" in spoof.json()["detail"] and "sign-in" in spoof.json()["detail"]
    assert "victim" not in spoof.text  # the refusal does not echo the address


async def test_in_dev_mode_without_a_claim_the_body_must_give_the_e_mail(api: Api) -> None:
    org = (await orgs(api))["RC9"]
    cohort = await new_cohort(api)
    who, email = person()
    missing = await submit(api, who, without_email(application(cohort, org, "Cy", email)))
    assert missing.status_code == 422, missing.text
    assert missing.json()["detail"].startswith("email: field required")
    given = await submit(api, who, application(cohort, org, "Cy", email))
    assert given.status_code == 201, given.text
    assert await stored_email(api, given.json()["id"]) == email


async def test_one_open_application_per_person_and_cohort_by_subject_and_by_e_mail(api: Api) -> None:
    org = (await orgs(api))["RC9"]
    cohort, other_cohort = await new_cohort(api), await new_cohort(api)
    who, email = person()
    first = await submit(api, who, application(cohort, org, "Di", email), email=email)
    assert first.status_code == 201, first.text

    # the same subject under another e-mail (a dev token without a claim, the address in the body)
    again = await submit(api, who, application(cohort, org, "Di", f"other-{email}"))
    assert again.status_code == 409, again.text
    assert OPEN_TWICE in again.json()["detail"]
    # the same e-mail from another subject
    stranger, _ = person()
    taken = await submit(api, stranger, application(cohort, org, "Di", email.upper()))
    assert taken.status_code == 409 and OPEN_TWICE in taken.json()["detail"], taken.text
    # another cohort is another application
    elsewhere = await submit(api, who, application(other_cohort, org, "Di", email), email=email)
    assert elsewhere.status_code == 201, elsewhere.text


async def test_after_withdrawing_or_being_declined_a_person_may_apply_again(api: Api, engine: AsyncEngine) -> None:
    org = (await orgs(api))["RC9"]
    cohort = await new_cohort(api)
    who, email = person()
    first = await submit(api, who, application(cohort, org, "Eli", email), email=email)
    assert first.status_code == 201, first.text
    withdrawn = await api.call("POST", f"/api/applications/{first.json()['id']}/withdraw", who, {})
    assert withdrawn.status_code == 202, withdrawn.text
    second = await submit(api, who, application(cohort, org, "Eli", email), email=email)
    assert second.status_code == 201, second.text
    assert (await submit(api, who, application(cohort, org, "Eli", email), email=email)).status_code == 409

    declined_id, declinee = await endorsed(api, cohort, org)
    await decide(api, declined_id, "decline")
    declined_email = await stored_email(api, declined_id)
    back = await submit(api, declinee, application(cohort, org, "Fay", declined_email))
    assert back.status_code == 201, back.text

    async with engine.connect() as c:
        rows = (
            await c.execute(
                text("SELECT state FROM applications.application WHERE cohort_id = :c AND lower(email) = :e"),
                {"c": cohort, "e": email.lower()},
            )
        ).all()
    assert sorted(r.state for r in rows) == ["submitted", "withdrawn"]

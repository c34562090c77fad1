"""The staff pages of each role of the programme kinds (DESIGN.md "Programme kinds") in a real browser at
phone width: a learner and a sharer (Stepping into my shoes), a mentee and a mentor, a paired-learning
fellow. The cohort, the applications and the board's pairing go through the API; each person then does
their part on their phone, keyboard included, with axe-core clean. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import Browser

from lbb.devstack import Stack
from tests import flows
from tests.conftest import Api
from tests.e2e.test_shadowing import join, pairs_of
from tests.gateway.test_browser import Person, browser, pytestmark, sign_in

__all__ = ["browser", "pytestmark"]  # the chromium fixture and skip of the fellow's walk-through

TODAY = datetime.now(UTC).date().isoformat()


async def cohort_of(api: Api, kind: str, **extra: Any) -> str:
    body = {"programme": kind, "name": f"{kind} {uuid.uuid4().hex[:6]}", "capacity": 10, "kind": kind}
    created = await api.call("POST", "/api/cohorts", flows.ADMIN, body | {"auto_enrol": True} | extra)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def matched(api: Api, cohort_id: str, count: int) -> list[dict[str, Any]]:
    """The board pairs the cohort and publishes the pairs (through the API)."""
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", flows.BOARD, {})).status_code == 202
    await pairs_of(api, cohort_id, count)
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairs/publish", flows.BOARD, {})).status_code == 202
    return await pairs_of(api, cohort_id, count, published=True)


async def on_phone(browser: Browser, stack: Stack, name: str, who: tuple[str, str]) -> Person:
    return await sign_in(browser, stack.gateway_url, name, who[0], who[1], phone=True)


async def checked(person: Person, what: str) -> str:
    """The page is accessible and fits a phone; its screenshot; the main content's text."""
    await person.accessible()
    await person.fits()
    await person.shot(what)
    return await person.page.inner_text("main")


async def test_a_learner_and_a_sharer_book_hold_and_reflect_on_their_visit_on_their_phones(
    browser: Browser, stack: Stack, api: Api
) -> None:
    orgs = await flows.organisations(api)
    cohort_id = await cohort_of(api, "shadowing")
    offer = {"summary": "A day on the discharge team", "tags": ["discharge"]}
    sharer_id, sharer_who = await join(api, cohort_id, orgs, "RC9", {"role": "sharer", "capacity": 2, "offer": offer})
    learner_id, learner_who = await join(api, cohort_id, orgs, "E06000032", {"role": "learner", "wants": ["discharge"]})
    (pair,) = await matched(api, cohort_id, 1)

    lena = await on_phone(browser, stack, "learner", learner_who)
    await lena.goto("/staff/pair")
    assert "Stepping into my shoes: your sharer" in await lena.page.inner_text("main")
    assert await lena.page.locator(".partner-org").inner_text() == orgs["RC9"]["name"]
    await lena.page.get_by_label("Date you would like to visit").fill(TODAY)
    await lena.page.get_by_role("button", name="Book my visit").click()
    await lena.page.wait_for_url("**message=Visit*scheduled**")
    assert "Booked" in await checked(lena, "visit-booked")

    sam = await on_phone(browser, stack, "sharer", sharer_who)
    await sam.goto("/staff/pair")
    text = await sam.page.inner_text("main")
    assert "You are a sharer: 1 learner is coming" in text and f"Your learner from {orgs['E06000032']['name']}" in text
    await checked(sam, "my-learners")
    await sam.page.get_by_role("button", name=f"Confirm the visit on {TODAY} took place").click()
    await sam.page.wait_for_url("**message=Visit*complete**")
    assert "Took place" in await sam.page.inner_text("main")

    # the learner writes her reflection once the feedback service has opened it
    await lena.goto("/staff/pair")
    await lena.page.get_by_role("link", name="Write my reflection").click()
    await lena.page.wait_for_url("**/feedback?role=learner")

    async def reflection_open() -> bool:
        return await lena.page.get_by_role("button", name="Send my reflection").count() == 1

    await lena.until(reflection_open, "the reflection form to open")
    for label, rating in (("Leading with care", "5"), ("Engaging the team", "4"), ("Inspiring shared purpose", "4")):
        await lena.page.get_by_label(label).select_option(rating)
    await lena.page.get_by_label("What I learnt").fill("How a discharge team clears a ward by noon.")
    await lena.page.get_by_label("One idea I will take back to my team").fill("A noon huddle")
    assert "Your reflection for your sharer" in await checked(lena, "reflection")
    await lena.page.get_by_role("button", name="Send my reflection").click()
    await lena.page.wait_for_url("**message=Thank*reflection**")

    # a sharer is not asked for feedback back (422); the reflection reaches the sharer as soon as it is sent
    thanks = {"strengths": {"evaluating_information": 4, "developing_capability": 4, "connecting_our_service": 5}}
    thanks |= {"to_fellow_id": learner_id, "narrative": "Thank you for the good questions."}
    assert (await api.call("POST", f"/api/pairs/{pair['id']}/feedback", sharer_who, thanks)).status_code == 422
    await sam.goto("/staff/feedback")

    async def reached() -> bool:
        return await sam.page.locator("article.released").count() == 1

    await sam.until(reached, "the learner's reflection to reach the sharer")
    assert "How a discharge team clears a ward by noon." in await checked(sam, "reflection-received")
    assert sharer_id in pair["fellow_ids"]
    for person in (lena, sam):
        await person.context.close()


async def test_a_mentee_and_her_mentor_agree_meet_check_in_and_close_on_their_phones(
    browser: Browser, stack: Stack, api: Api
) -> None:
    orgs = await flows.organisations(api)
    cohort_id = await cohort_of(api, "mentoring", reciprocal=True)
    _, mentor_who = await join(api, cohort_id, orgs, "RD8", {"role": "mentor", "capacity": 1})
    _, mentee_who = await join(api, cohort_id, orgs, "RYE", {"role": "mentee"})
    (pair,) = await matched(api, cohort_id, 1)
    space = f"/staff/pairs/{pair['id']}/mentoring"
    note = f"We talked about sponsorship {uuid.uuid4().hex[:6]}"

    mia = await on_phone(browser, stack, "mentee", mentee_who)
    await mia.goto("/staff/pair")
    assert "Your mentor" in await checked(mia, "my-mentor")
    await mia.page.get_by_role("link", name="Open our mentoring space").click()
    await mia.page.wait_for_url(f"**{space}")
    await mia.page.get_by_label("Goals, one per line").fill("Lead a cross-boundary project\nSpeak at the board")
    await mia.page.get_by_label("Meet every (weeks)").fill("4")
    await mia.page.get_by_role("button", name="Save the agreement").click()
    await mia.page.wait_for_url("**message=Agreement*saved**")
    await mia.page.get_by_label("How long (minutes)").fill("45")
    await mia.page.get_by_label("Notes (optional, for the two of you)").fill(note)
    await mia.page.get_by_role("button", name="Log the meeting").click()
    await mia.page.wait_for_url("**message=Meeting*logged**")
    # the check-in by keyboard alone: the month is chosen; Tab to "Is it working?", arrows to 4, Enter sends
    await mia.page.get_by_label("3 months").focus()
    await mia.page.keyboard.press("Tab")
    for _ in range(3):
        await mia.page.keyboard.press("ArrowDown")
    assert await mia.page.evaluate("document.activeElement.value") == "4"
    await mia.page.get_by_role("button", name="Send my check-in").focus()
    await mia.page.keyboard.press("Enter")
    await mia.page.wait_for_url("**message=Thank*check-in**")
    text = await checked(mia, "mentoring-space")
    assert "Every 4 weeks" in text and note in text and "3-month check-in: Answered" in text

    mo = await on_phone(browser, stack, "mentor", mentor_who)
    await mo.goto(space)
    text = await mo.page.inner_text("main")
    assert note in text and "logged by your mentee" in text and "Speak at the board" in text
    await mo.page.get_by_label("Your reflection: what has this relationship given you?").fill("I learnt to listen.")
    await mo.page.get_by_role("button", name="Close our mentoring").click()
    await mo.page.wait_for_url("**message=You*closed**")
    assert "It ends when your mentee closes too" in await checked(mo, "closed-by-mentor")

    await mia.goto(space)
    await mia.page.get_by_label("Your reflection: what has this relationship given you?").fill("Courage to lead.")
    await mia.page.get_by_role("button", name="Close our mentoring").click()
    await mia.page.wait_for_url("**message=You*closed**")
    assert "You have both closed the relationship" in await checked(mia, "closed")
    assert await mia.page.get_by_role("link", name="Give feedback to your mentor").count() == 1

    # the board never reads the pair's space
    bea = await on_phone(browser, stack, "mentoring-board", flows.BOARD)
    answer = await bea.page.goto(stack.gateway_url + space)
    assert answer is not None and answer.status in (403, 404) and note not in await bea.page.inner_text("main")
    for person in (mia, mo, bea):
        await person.context.close()


async def test_a_paired_learning_fellow_runs_the_joint_project_and_assesses_herself_on_her_phone(
    browser: Browser, stack: Stack, api: Api
) -> None:
    orgs = await flows.organisations(api)
    cohort_id = await cohort_of(api, "paired_learning")
    fellow_id, fellow_who = await join(api, cohort_id, orgs, "RC9", {"staff_group": "clinical"})
    _, partner_who = await join(api, cohort_id, orgs, "E06000032", {"staff_group": "non_clinical"})
    (pair,) = await matched(api, cohort_id, 1)
    await flows.known_to_feedback(api, fellow_id, fellow_who)

    pia = await on_phone(browser, stack, "paired-fellow", fellow_who)
    await pia.goto("/staff/pair")
    assert "Your paired learning" in await checked(pia, "pair")
    await pia.page.get_by_role("link", name="My self-assessment").click()
    for label, rating in (("Leading with care", "2"), ("Sharing the vision", "3")):
        await pia.page.get_by_label(label).select_option(rating)
    await checked(pia, "self-assessment-before")
    await pia.page.get_by_role("button", name="Save my self-assessment before the programme").click()
    await pia.page.wait_for_url("**message=Thank*saved**")
    assert await pia.page.locator("tr.rating").count() == 2

    await pia.goto("/staff/pair")
    await pia.page.get_by_role("link", name="Our improvement project").click()
    await pia.page.get_by_label("Title").fill("Faster discharge")
    await pia.page.get_by_label("Aim: what you want to improve").fill("Patients home the day they are fit")
    await pia.page.get_by_label("Measure: how you will know it worked").fill("Days from fit to leave")
    await checked(pia, "project-start")
    await pia.page.get_by_role("button", name="Start the project").click()
    await pia.page.wait_for_url("**message=Project*started**")
    await pia.page.get_by_label("Milestone").fill("Baseline audit")
    await pia.page.get_by_label("Due").fill("2999-01-01")  # after the programme: refused, said on the page
    await pia.page.get_by_role("button", name="Add the milestone").click()
    await pia.page.wait_for_url("**error=*")
    assert "inside the cohort's dates" in await checked(pia, "milestone-refused")
    await pia.page.get_by_label("Milestone").fill("Baseline audit")
    await pia.page.get_by_label("Due").fill(TODAY)
    await pia.page.get_by_role("button", name="Add the milestone").click()
    await pia.page.wait_for_url("**message=Milestone*added**")
    await pia.page.get_by_role("button", name="Mark Baseline audit done").click()
    await pia.page.wait_for_url("**message=Milestone*done**")
    await pia.page.get_by_label("Summary of what you presented").fill("Two days saved per patient")
    await pia.page.get_by_role("button", name="Record the presentation").click()
    await pia.page.wait_for_url("**message=Presentation*recorded**")
    assert "Two days saved per patient" in await checked(pia, "project")
    shown = (await api.call("GET", f"/api/pairs/{pair['id']}/project", partner_who)).json()
    assert shown["project"]["presented_on"] == TODAY and shown["milestones"][0]["done_at"]

    await pia.goto(f"/staff/fellows/{fellow_id}/self-assessment")
    await pia.page.get_by_label("Leading with care").select_option("4")
    await pia.page.get_by_role("button", name="Save my self-assessment after the programme").click()
    await pia.page.wait_for_url("**message=Thank*saved**")
    row = await pia.page.locator("tr.rating", has_text="Leading with care").inner_text()
    assert row.split()[-2:] == ["2", "4"]
    assert "You have given both" in await checked(pia, "self-assessment-after")
    await pia.context.close()

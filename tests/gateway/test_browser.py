"""The staff pages in a real browser (Debian's chromium driven by playwright): one fellow, her
sponsor and one Programme Board member go through the whole programme. Her partner and his sponsor
act through the API. Screenshots go to test-artifacts/; axe-core checks each page for serious
accessibility problems; the fellow's pages are checked at phone width too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from lbb.devstack import Stack
from tests import flows
from tests.conftest import Api, eventually

CHROMIUM = os.environ.get("LBB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PHONE = {"width": 375, "height": 740}
STATEMENT = "I want to learn how our partners in the council lead across boundaries."

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM} (.ci/run installs Debian's chromium)"
)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        yield launched
        await launched.close()


class Person:
    """One signed-in browser context."""

    def __init__(self, base_url: str, context: BrowserContext, page: Page, name: str) -> None:
        self.base_url = base_url
        self.context = context
        self.page = page
        self.name = name
        self.shots = 0

    async def goto(self, path: str) -> None:
        await self.page.goto(self.base_url + path)

    async def shot(self, what: str) -> None:
        self.shots += 1
        await self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{self.shots:02d}-{what}.png"), full_page=True)

    async def accessible(self) -> None:
        """No serious or critical axe-core violation on the current page."""
        from axe_playwright_python.async_playwright import Axe

        results = await Axe().run(self.page)
        serious = [
            (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")
        ]
        assert not serious, f"{self.page.url}: {serious}"

    async def fits(self) -> None:
        """Nothing wider than the viewport: no sideways scrolling at phone width."""
        overflow = await self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        wide = await self.page.evaluate(
            "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth)"
            ".map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40))"
        )
        assert overflow <= 0, f"{self.page.url} is {overflow}px wider than the screen: {wide[:5]}"

    async def until(self, check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60) -> None:
        """Reload the page (a person pressing F5) until ``check`` holds. The reload keeps the page's own
        query (``?role=learner`` words the feedback page as a reflection) and drops a redirect's
        one-off ``message``."""
        parts = urlsplit(self.page.url)
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "message"])
        url = urlunsplit(parts._replace(query=query))

        async def probe() -> bool:
            await self.page.goto(url)
            return await check()

        if not await check():
            await eventually(probe, timeout_s, what)


async def sign_in(
    browser: Browser, base_url: str, name: str, sub: str, role: str, organisation: str = "", phone: bool = False
) -> Person:
    context = await browser.new_context(viewport=PHONE if phone else {"width": 1200, "height": 900})
    page = await context.new_page()
    person = Person(base_url, context, page, name)
    await person.goto("/staff/sign-in")
    await page.get_by_label("Your user name").fill(sub)
    await page.get_by_label("Role").select_option(role)
    if organisation:
        await page.get_by_label("Organisation (sponsors only)").select_option(label=organisation)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/staff/")
    return person


async def test_a_fellow_and_a_board_member_go_through_the_whole_programme_in_the_browser(
    browser: Browser, stack: Stack, api: Api
) -> None:
    base = stack.gateway_url
    tag = uuid.uuid4().hex[:6]
    council = (await flows.organisations(api))["E06000032"]["id"]
    cohort_name = f"Browser {tag}"
    cohort_id = await flows.new_cohort(api, cohort_name, capacity=10)
    bob = (f"bob-{tag}", "applicant")
    bob_form = flows.application(cohort_id, council, "Bob Browne", f"bob-{tag}@example.nhs.uk", "non_clinical")
    bob_form |= {"job_title": "Head of housing", "band": "8b", "statement": STATEMENT}
    bob_id = await flows.apply(api, bob, bob_form)
    await flows.endorse(api, bob_id, council, sponsor="sid")

    # --- Ann applies, on her phone ---
    ann = await sign_in(browser, base, "fellow", f"ann-{tag}", "applicant", phone=True)
    page = ann.page
    await ann.accessible()
    await ann.fits()
    # keyboard: the first Tab reaches the skip link, which takes focus to the main content
    await page.keyboard.press("Tab")
    assert (await page.evaluate("document.activeElement.textContent")).strip() == "Skip to main content"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    await page.get_by_role("link", name=f"Apply to {cohort_name}").click()
    await page.get_by_label("Full name").fill("Ann Ashby")
    await page.get_by_label("Work e-mail").fill(f"ann-{tag}@example.nhs.uk")
    await page.get_by_label("Job title").fill("Ward manager")
    await page.get_by_label("Organisation").select_option(label="Bedfordshire Hospitals NHS Foundation Trust")
    await page.get_by_label("Band or grade").fill("7")
    await page.get_by_label("Why do you want to take part?").fill(STATEMENT)
    await ann.accessible()
    await ann.fits()
    await ann.shot("apply")
    await page.get_by_role("button", name="Submit application").click()
    await page.wait_for_url("**/staff/applications**")
    assert "Submitted: waiting for your sponsor" in await page.inner_text("main")
    await ann.shot("applied")

    # --- her sponsor endorses ---
    sam = await sign_in(
        browser, base, "sponsor", f"sam-{tag}", "sponsor", "Bedfordshire Hospitals NHS Foundation Trust"
    )
    await sam.goto("/staff/applications")
    await sam.accessible()
    await sam.shot("to-endorse")
    await sam.page.get_by_role("button", name="Endorse Ann Ashby").click()
    await sam.page.wait_for_url("**message=Endorsed**")

    # --- the board shortlists both, enrols, pairs and publishes ---
    bea = await sign_in(browser, base, "board", f"bea-{tag}", "board")
    await bea.page.get_by_role("link", name=f"Open {cohort_name}").click()
    await bea.page.wait_for_url(f"**/staff/cohorts/{cohort_id}")
    assert "Fair shortlisting" in await bea.page.inner_text("main")
    await bea.accessible()
    await bea.shot("shortlisting")
    for name in ("Ann Ashby", "Bob Browne"):
        await bea.page.get_by_label(f"Reason for {name}").fill("A clear statement of what they want to learn")
        await bea.page.get_by_role("button", name=f"Record decision on {name}").click()
        await bea.page.wait_for_url("**message=Decision**")
    await bea.page.get_by_role("button", name="Enrol the shortlisted").click()
    await bea.page.wait_for_url("**message=Enrolled*2*")
    await bea.page.get_by_role("button", name="Pair the fellows").click()
    await bea.page.wait_for_url("**message=Pairing**")

    async def paired() -> bool:
        return await bea.page.locator("tr.pair").count() == 1

    await bea.until(paired, "the pairs to appear on the cohort page")
    await bea.shot("pairs")
    await bea.page.get_by_role("button", name="Publish the pairs").click()
    await bea.page.wait_for_url("**message=Pairs*published**")
    assert "Published" in await bea.page.locator("tr.pair").inner_text()
    await bea.accessible()
    await bea.page.set_viewport_size(PHONE)  # the board's page works on a phone too
    await bea.fits()
    await bea.shot("cohort-on-phone")

    # --- Ann meets her pair and schedules, then completes, her visit ---
    await ann.goto("/staff/pair")
    assert await page.locator(".partner-org").inner_text() == "Luton Borough Council"
    await ann.accessible()
    await ann.fits()
    await ann.shot("pair")
    today = datetime.now(UTC).date().isoformat()
    await page.get_by_label("Who hosts").select_option(label="I host my partner")
    await page.get_by_label("Date").fill(today)
    await page.get_by_role("button", name="Schedule visit").click()
    await page.wait_for_url("**message=Visit*scheduled**")
    await page.get_by_role("button", name=f"Mark the visit on {today} complete").click()
    await page.wait_for_url("**message=Visit*complete**")

    # Bob hosts his visit through the API
    (pair,) = (await api.call("GET", "/api/pairs/mine", bob)).json()
    visit = await api.call("POST", f"/api/pairs/{pair['id']}/visits", bob, {"host_fellow_id": bob_id, "date": today})
    assert visit.status_code == 201, visit.text
    assert (await api.call("POST", f"/api/visits/{visit.json()['id']}/complete", bob, {})).status_code == 202

    # --- feedback on the nine dimensions, once the feedback service has opened it ---
    await ann.goto("/staff/pair")
    await page.get_by_role("link", name="Give feedback to your partner").click()
    await page.wait_for_url("**/feedback")

    async def feedback_open() -> bool:
        return await page.get_by_role("button", name="Send feedback").count() == 1

    await ann.until(feedback_open, "the feedback form to open")
    for label, rating in (("Leading with care", "5"), ("Engaging the team", "4"), ("Holding to account", "3")):
        await page.get_by_label(label).select_option(rating)
    await page.get_by_label("What your partner does well, in your words").fill("Bob listens first and decides fast.")
    await page.get_by_label("Ways your organisations could work closer together (one per line)").fill(
        "Joint discharge planning\nShared housing referrals"
    )
    await ann.accessible()
    await ann.fits()
    await ann.shot("feedback")
    await page.get_by_role("button", name="Send feedback").click()
    await page.wait_for_url("**message=Thank*you**")

    given = await api.call(
        "POST",
        f"/api/pairs/{pair['id']}/feedback",
        bob,
        {
            "to_fellow_id": next(f for f in pair["fellow_ids"] if f != bob_id),
            "strengths": {"sharing_the_vision": 5, "evaluating_information": 4, "developing_capability": 4},
            "narrative": "Ann brings the ward's view to every table.",
            "collaboration_ideas": ["Shared training days"],
        },
    )
    assert given.status_code == 201, given.text

    # --- the released feedback and her notifications ---
    await ann.goto("/staff/feedback")

    async def released() -> bool:
        return await page.locator("article.released").count() == 1

    await ann.until(released, "Bob's feedback to be released to Ann")
    text = await page.inner_text("main")
    assert "Ann brings the ward's view to every table." in text and "Sharing the vision (top strength)" in text
    await ann.accessible()
    await ann.fits()
    await ann.shot("released")

    await ann.goto("/staff/notifications")

    async def told() -> bool:
        return await page.locator("li.notification").count() >= 4

    await ann.until(told, "Ann's notifications to arrive")
    await ann.accessible()
    await ann.fits()
    await ann.shot("notifications")
    await page.locator("summary").first.focus()
    await page.keyboard.press("Enter")  # keyboard opens the first message
    assert await page.locator("details").first.get_attribute("open") is not None

    # --- an admin's console, on a phone: organisations, a new cohort, the staff directory ---
    ada = await sign_in(browser, base, "admin", f"ada-{tag}", "admin", phone=True)
    await ada.goto("/staff/admin")
    await ada.page.get_by_label("Name", exact=True).fill(f"Youth Service {tag}")
    await ada.page.get_by_label("ODS or ONS code").fill(f"Y{tag}")
    await ada.page.get_by_role("button", name="Add the organisation").click()
    assert f"Youth Service {tag} (Y{tag}) added." in await ada.page.inner_text("main")
    await ada.accessible()
    await ada.fits()
    await ada.shot("console")

    for person in (ann, sam, bea, ada):
        await person.context.close()

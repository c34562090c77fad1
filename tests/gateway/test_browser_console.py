"""The programme team's console and the Programme Board's tools in a real browser (Debian's chromium
driven by playwright, axe-core on every page): an admin adds an organisation, creates a cohort and
registers a sponsor and a board member, all through the pages; four people apply through the API;
a board member enrols and pairs them, swaps two fellows, locks a pair, reads a fellow's alternatives,
previews a re-run, publishes, exports the cohort as CSV and opens the evaluation report, all through
the pages; and an admin's privacy tasks (what is held about a person, erasure with its progress).
Screenshots go to test-artifacts/browser/ (README shows some of them).
"""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from playwright.async_api import Browser

from lbb.devstack import Stack
from shared.registry import NAMES
from tests import flows
from tests.conftest import Api
from tests.feedback.flow import cohort_with_pairs
from tests.gateway.test_browser import PHONE, Person, browser, pytestmark, sign_in

__all__ = ["browser", "pytestmark"]  # the chromium fixture and the skip without chromium, shared

APPLICANTS = (  # name, organisation code, staff group
    ("Ann Ashby", "RC9", "clinical"),
    ("Bob Browne", "E06000032", "non_clinical"),
    ("Cat Cole", "RD8", "clinical"),
)


async def text_of(person: Person) -> str:
    return await person.page.inner_text("main")


@pytest.mark.timeout(900)  # a long walk through many pages, on a machine that may be busy
async def test_an_admin_sets_up_a_cohort_and_the_board_pairs_publishes_exports_and_reports_in_the_browser(
    browser: Browser, stack: Stack, api: Api
) -> None:
    base = stack.gateway_url
    tag = uuid.uuid4().hex[:6].upper()
    cohort_name = f"Console {tag}"

    # --- the admin: an organisation, a cohort, a sponsor and a board member, through the console ---
    ada = await sign_in(browser, base, "console-admin", f"ada-{tag}", "admin")
    page = ada.page
    await ada.goto("/staff/admin")
    await ada.accessible()
    await page.get_by_label("Name", exact=True).fill(f"Youth Service {tag}")
    await page.get_by_label("ODS or ONS code").fill(f"Y{tag}")
    await page.get_by_label("Sector").select_option(label="Fire and rescue")
    await page.get_by_role("button", name="Add the organisation").click()
    assert f"Youth Service {tag} (Y{tag}) added." in await text_of(ada)
    await page.get_by_role("link", name=f"Change Youth Service {tag}").click()
    await page.get_by_label("Place").select_option(label="Luton")
    await ada.accessible()
    await page.get_by_role("button", name="Save the changes").click()
    assert f"Youth Service {tag} (Y{tag}) changed." in await text_of(ada)

    await page.get_by_label("Programme", exact=True).fill("Leading Beyond Boundaries")
    await page.get_by_label("Cohort name").fill(cohort_name)
    await page.get_by_label("Places", exact=True).fill("10")
    await page.get_by_label("Places per organisation (optional)").fill("2")
    await page.get_by_role("button", name="Create the cohort").click()
    assert f"Cohort {cohort_name} created." in await text_of(ada)

    youth = (await flows.organisations(api))[f"Y{tag}"]
    await page.get_by_label("Sponsor", exact=True).check()
    await page.get_by_label("Full name").fill(f"Yan Youth {tag}")
    await page.get_by_label("Work e-mail").fill(f"yan-{tag}@example.nhs.uk")
    await page.get_by_label("Their sign-in's user name (token subject)").fill(f"yan-{tag}")
    await page.get_by_label("Organisation (sponsors)").select_option(label=f"Youth Service {tag}")
    await page.get_by_role("button", name="Register").click()
    assert f"Yan Youth {tag}: sponsor for Youth Service {tag}" in await text_of(ada)
    await page.get_by_label("Programme Board", exact=True).check()
    await page.get_by_label("Full name").fill(f"Bea Board {tag}")
    await page.get_by_label("Work e-mail").fill(f"bea-{tag}@example.nhs.uk")
    await page.get_by_label("Their sign-in's user name (token subject)").fill(f"bea-{tag}")
    await page.get_by_role("button", name="Register").click()
    assert f"Bea Board {tag}: Programme Board" in await text_of(ada)
    await ada.accessible()
    await ada.shot("console")

    # --- four people apply (one from the new organisation), are endorsed and shortlisted (the API) ---
    cohorts = {c["name"]: c for c in (await api.call("GET", "/api/cohorts", flows.ADMIN)).json()}
    cohort_id = cohorts[cohort_name]["id"]
    organisations = await flows.organisations(api)
    people = [*APPLICANTS, (f"Dee Dale {tag}", f"Y{tag}", "non_clinical")]
    fellows: dict[str, str] = {}
    for name, code, group in people:
        organisation = organisations[code]["id"]
        form = flows.application(
            cohort_id, organisation, name, f"{name.split()[0].lower()}-{tag}@example.nhs.uk", group
        )
        fellows[name] = await flows.apply(api, (f"{name.split()[0].lower()}-{tag}", "applicant"), form)
        sponsor = f"yan-{tag}" if code == f"Y{tag}" else "sam"
        await flows.endorse(api, fellows[name], organisation, sponsor=sponsor)
        await flows.decide(api, fellows[name], reason=f"Clear goals for {name}")
    assert youth["id"] == organisations[f"Y{tag}"]["id"]

    # --- the board member: shortlisting in words, decisions with reasons, enrol and pair ---
    bea = await sign_in(browser, base, "console-board", f"bea-{tag}", "board")
    page = bea.page
    await bea.goto(f"/staff/cohorts/{cohort_id}")
    main = await text_of(bea)
    assert "Luton Borough Council" in main and "Local authority" in main and "Non-clinical" in main
    shortlisting = main.split("Fair shortlisting")[1].split("Applications awaiting a decision")[0]
    assert "E06000032" not in shortlisting and "local_authority" not in shortlisting  # names and words
    assert await page.locator("tr.decision").count() == 4 and "Clear goals for Ann Ashby" in main
    assert await page.locator("tr.places").count() == 4 and "1 / 2" in main  # one place of two per organisation
    await page.get_by_role("button", name="Enrol the shortlisted").click()
    await page.wait_for_url("**message=Enrolled*4*")
    await page.get_by_role("button", name="Pair the fellows").click()
    await page.wait_for_url("**message=Pairing**")

    async def paired() -> bool:
        return await page.locator("tr.pair").count() == 2

    await bea.until(paired, "the two pairs to appear on the cohort page")
    await bea.accessible()
    await bea.shot("board-pairs")

    # --- swap two fellows of different pairs ---
    before = await flows.paired(api, cohort_id, 4)
    (a, a_partner), (b, b_partner) = (p["fellow_ids"] for p in before)
    name_of = {v: k for k, v in fellows.items()}
    await page.get_by_label("Swap this fellow").select_option(value=a)
    await page.get_by_label("With this fellow").select_option(value=b)
    await page.get_by_role("button", name="Swap the two fellows").click()
    await page.wait_for_url("**message=Swapped**")
    after = {
        frozenset(p["fellow_ids"])
        for p in (await api.call("GET", f"/api/cohorts/{cohort_id}/pairs", flows.BOARD)).json()
    }
    assert after == {frozenset({b, a_partner}), frozenset({a, b_partner})}

    # --- a fellow's alternatives (a lock would hold her where she is) ---
    await page.get_by_role("link", name=f"Alternatives for {name_of[a]}").click()
    await page.wait_for_url(f"**/fellows/{a}/alternatives")
    assert f"Alternatives for {name_of[a]}" in await text_of(bea) and await page.locator("tr.alternative").count() >= 1
    await bea.accessible()
    await bea.shot("alternatives")
    await page.get_by_role("link", name=f"Back to the pairs of {cohort_name}").click()

    # --- lock the first pair as it now is ---
    first = (await api.call("GET", f"/api/cohorts/{cohort_id}/pairs", flows.BOARD)).json()[0]
    who = " and ".join(name_of[f] for f in first["fellow_ids"])
    await page.get_by_role("button", name=f"Lock {who}").click()
    await page.wait_for_url("**message=Locked**")
    assert await page.get_by_role("button", name=f"Unlock {who}").count() == 1
    pairs = (await api.call("GET", f"/api/cohorts/{cohort_id}/pairs", flows.BOARD)).json()
    assert [p["locked"] for p in pairs] == [True, False]

    # --- the weights and a preview of a re-run ---
    await page.get_by_role("button", name="Preview a re-run").click()
    await page.wait_for_url("**message=A*re-run*")
    assert "Nothing has changed." in await text_of(bea)
    await page.get_by_label("Not paired before").fill("7")
    await page.get_by_role("button", name="Save the weights").click()
    await page.wait_for_url("**message=Weights*saved**")
    assert await page.get_by_label("Not paired before").input_value() == "7"

    # --- publish ---
    await page.get_by_role("button", name="Publish the pairs").click()
    await page.wait_for_url("**message=Pairs*published**")
    assert await page.get_by_role("button", name="Swap the two fellows").count() == 0  # no changes once out
    await bea.accessible()

    # --- export the cohort as CSV, through the links of the page ---
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Applications and their decision trail (CSV)").click()
    rows = list(csv.DictReader(io.StringIO((await (await download.value).path()).read_text())))
    assert {r["name"] for r in rows} == set(fellows)
    ann = [r for r in rows if r["name"] == "Ann Ashby"]
    assert [r["step"] for r in ann] == ["endorse", "shortlist", "enrol"]
    assert ann[1]["reason"] == "Clear goals for Ann Ashby" and ann[0]["organisation"] == organisations["RC9"]["name"]
    answer = await bea.context.request.get(f"{base}/staff/cohorts/{cohort_id}/export/pairs.csv")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    pair_rows = list(csv.DictReader(io.StringIO(await answer.text())))
    assert {(r["fellow"], r["partner"]) for r in pair_rows} == {
        (name_of[p["fellow_ids"][0]], name_of[p["fellow_ids"][1]]) for p in pairs
    }
    assert [r["locked"] for r in pair_rows] == ["yes", "no"] and {r["published"] for r in pair_rows} == {"yes"}

    # --- the evaluation report, once the feedback service knows the cohort's pairs ---
    report_path = f"/staff/cohorts/{cohort_id}/report"
    await bea.goto(f"/staff/cohorts/{cohort_id}")
    await page.get_by_role("link", name=f"The evaluation report of {cohort_name}").click()

    async def reported() -> bool:
        return await page.locator("svg.lbb-chart").count() == 5

    await bea.until(reported, "the evaluation report to have the cohort's pairs")
    assert page.url.endswith(report_path)
    main = await text_of(bea)
    assert "Exchange and feedback completion" in main and "The ICS collaboration map" in main
    assert await page.locator("tr.ics-link").count() >= 2
    feedback = await bea.context.request.get(f"{base}/staff/cohorts/{cohort_id}/export/feedback.csv")
    figures = dict(csv.reader(io.StringIO(await feedback.text())))
    assert figures["pairs"] == "<5" and figures["fellows"] == "<5"  # small numbers suppressed, as in the report
    await bea.accessible()
    await bea.shot("report")
    await page.set_viewport_size(PHONE)
    await bea.fits()
    await bea.shot("report-on-phone")

    # --- nobody else reaches the board's tools or the exports ---
    ann_browser = await sign_in(browser, base, "console-fellow", f"ann-{tag}", "applicant")
    for path in (f"/staff/cohorts/{cohort_id}/export/applications.csv", report_path):
        assert (await ann_browser.context.request.get(base + path)).status == 403

    for person in (ada, bea, ann_browser):
        await person.context.close()


@pytest.mark.timeout(600)
async def test_an_admin_exports_and_erases_a_person_from_the_privacy_pages_in_the_browser(
    browser: Browser, stack: Stack, api: Api
) -> None:
    """The privacy tasks: what each service holds (and the JSON download), a mistyped confirmation
    refused with an error summary, then the erasure's page until every service has erased the person."""
    base = stack.gateway_url
    tag = uuid.uuid4().hex[:6]
    email = f"pat-{tag}@example.nhs.uk"
    organisation = (await flows.organisations(api))["RC9"]["id"]
    cohort_id = await flows.new_cohort(api, f"Privacy {tag}")
    await flows.apply(api, (f"pat-{tag}", "applicant"), flows.application(cohort_id, organisation, "Pat Price", email))

    ada = await sign_in(browser, base, "console-privacy", f"ada-{tag}", "admin")
    page = ada.page
    await ada.goto("/staff/admin")
    await page.get_by_role("link", name="Privacy tasks: what is held about a person, and erasure").click()
    await page.wait_for_url("**/staff/privacy")
    await ada.accessible()
    await page.get_by_label("E-mail address they applied with").fill(email)
    await page.get_by_role("button", name="Show what each service holds").click()
    assert f"What is held about {email}" in await text_of(ada)
    await ada.accessible()
    await ada.shot("privacy-export")
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download it all as JSON").click()
    held = json.loads((await (await download.value).path()).read_text())
    assert held["services"]["applications"]["application"][0]["name"] == "Pat Price"

    await ada.goto("/staff/privacy")
    await page.get_by_label("E-mail address of the person to erase").fill(email)
    await page.get_by_label("Type the e-mail address again to confirm").fill(f"pat@{tag}.example")
    await page.get_by_role("button", name="Erase this person").click()
    assert "There is a problem" in await text_of(ada)
    await ada.accessible()
    await ada.shot("privacy-confirm-refused")
    await page.get_by_label("Type the e-mail address again to confirm").fill(email)
    await page.get_by_role("button", name="Erase this person").click()
    await page.wait_for_url("**/staff/privacy/erasures/**")

    async def erased() -> bool:
        return "Erasure complete" in await text_of(ada)

    await ada.until(erased, "every service to erase the person")
    assert (await text_of(ada)).count("Erased at ") == len(NAMES)
    await ada.accessible()
    await ada.shot("privacy-erasure")
    await page.set_viewport_size(PHONE)
    await ada.fits()
    await ada.context.close()


@pytest.mark.timeout(600)
async def test_a_board_member_reads_the_report_across_a_programmes_cohorts_in_the_browser(
    browser: Browser, stack: Stack, api: Api
) -> None:
    """From the home page's list of programmes to the report across its cohorts: a column per cohort
    and the totals, small numbers suppressed, axe-clean, at phone width too."""
    tag = uuid.uuid4().hex[:6]
    programme = f"Exchange {tag}"
    await cohort_with_pairs(api, 6, name=f"Spring {tag}", programme=programme)
    await cohort_with_pairs(api, 2, name=f"Autumn {tag}", programme=programme)
    bea = await sign_in(browser, stack.gateway_url, "programme-report", f"bea-{tag}", "board")
    page = bea.page
    await page.get_by_role("link", name=f"The evaluation report of every cohort of {programme}").click()
    await page.wait_for_url("**/staff/programmes/**/report")
    main = await text_of(bea)
    assert f"Evaluation report: {programme}" in main and "All cohorts" in main
    assert await page.locator("table.programme-measure").count() == 4
    heads = await page.locator("table.programme-measure").first.locator("thead th").all_inner_texts()
    assert heads == ["Measure", f"Spring {tag}", f"Autumn {tag}", "All cohorts"]
    assert "<5" in main
    await bea.accessible()
    await bea.shot("programme-report")
    await page.set_viewport_size(PHONE)
    await bea.fits()
    await bea.context.close()

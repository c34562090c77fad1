"""Steps of the programme through the gateway that many tests take: a cohort, an application, the
sponsor's endorsement and the board's decision, enrolment, pairing and publishing. Each step asserts
the answer it must get."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.conftest import Api, eventually

ADMIN = ("ada", "admin")
BOARD = ("bea", "board")
# The six pairing weights as the board sets them for a cohort (PUT /api/cohorts/{id}/weights): the defaults
WEIGHTS = {
    "different_sector": 4,
    "different_place": 3,
    "clinical_mix": 3,
    "shared_availability": 1,
    "shared_interest": 1,
    "not_paired_before": 5,
}
STATEMENT = "I want to understand how our partners lead across boundaries."

# Twelve partner organisations from seed 004, all different, spread over sectors and places.
ORGANISATION_CODES = (
    "RC9",
    "E06000032",
    "RD8",
    "E06000042",
    "RYE",
    "E06000055",
    "QHG",
    "E06000056",
    "RWK",
    "PCN-LUT",
    "RV3",
    "VCSE-BLMK",
)


async def organisations(api: Api) -> dict[str, dict[str, Any]]:
    """The partner organisations by code."""
    answer = await api.call("GET", "/api/organisations", ADMIN)
    assert answer.status_code == 200, answer.text
    return {o["code"]: o for o in answer.json()}


async def new_cohort(api: Api, name: str, capacity: int = 28, programme: str = "Leading Beyond Boundaries") -> str:
    """A new peer-paired cohort of the programme; its id."""
    body = {"programme": programme, "name": name, "capacity": capacity, "pairing_mode": "peer"}
    created = await api.call("POST", "/api/cohorts", ADMIN, body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def application(
    cohort_id: str, organisation_id: str, name: str, email: str, staff_group: str = "clinical", **extra: Any
) -> dict[str, Any]:
    """The form an applicant sends; ``extra`` adds or replaces fields."""
    return {
        "cohort_id": cohort_id,
        "name": name,
        "email": email,
        "job_title": "Service manager",
        "organisation_id": organisation_id,
        "staff_group": staff_group,
        "band": "8a",
        "statement": STATEMENT,
    } | extra


async def apply(api: Api, who: tuple[str, str], form: dict[str, Any]) -> str:
    """``who`` submits the application ``form``; its id."""
    submitted = await api.call("POST", "/api/applications", who, form)
    assert submitted.status_code == 201, submitted.text
    return str(submitted.json()["id"])


async def endorse(api: Api, application_id: str, organisation_id: str, sponsor: str = "sam") -> None:
    """A sponsor of the applicant's organisation endorses the application."""
    endorsed = await api.call(
        "POST", f"/api/applications/{application_id}/endorse", (sponsor, "sponsor", organisation_id), {}
    )
    assert endorsed.status_code == 202, endorsed.text


async def decide(api: Api, application_id: str, decision: str = "shortlist", reason: str = "strong") -> None:
    """The board's decision on an endorsed application."""
    decided = await api.call(
        "POST", f"/api/applications/{application_id}/decision", BOARD, {"decision": decision, "reason": reason}
    )
    assert decided.status_code == 202, decided.text


async def enrol_and_request_pairing(api: Api, cohort_id: str) -> None:
    """The board enrols the shortlisted and asks the pairing service to pair them."""
    enrolled = await api.call("POST", f"/api/cohorts/{cohort_id}/enrol", BOARD, {})
    assert enrolled.status_code == 202, enrolled.text
    requested = await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", BOARD, {})
    assert requested.status_code == 202, requested.text


async def paired(api: Api, cohort_id: str, fellows: int, published: bool = False) -> list[dict[str, Any]]:
    """The cohort's pairs as the board sees them, once all ``fellows`` are in a pair (and, with
    ``published``, once every pair is published)."""

    async def probe() -> list[dict[str, Any]]:
        answer = await api.call("GET", f"/api/cohorts/{cohort_id}/pairs", BOARD)
        pairs: list[dict[str, Any]] = answer.json() if answer.status_code == 200 else []
        complete = sum(len(p["fellow_ids"]) for p in pairs) == fellows
        return pairs if complete and (not published or all(p["published"] for p in pairs)) else []

    what = "the pairs to be published" if published else "the pairing service to pair the cohort"
    return await eventually(probe, timeout_s=60, what=what)


async def publish(api: Api, cohort_id: str) -> dict[str, Any]:
    """The board publishes the cohort's pairs; the answer."""
    published = await api.call("POST", f"/api/cohorts/{cohort_id}/pairs/publish", BOARD, {})
    assert published.status_code == 202, published.text
    answer: dict[str, Any] = published.json()
    return answer


@dataclass
class Cohort:
    """A cohort of one test and its fellows."""

    id: str
    who: dict[str, tuple[str, str]] = field(default_factory=dict)  # fellow id → (sub, role)
    organisation: dict[str, dict[str, Any]] = field(default_factory=dict)  # fellow id → organisation
    pairs: list[dict[str, Any]] = field(default_factory=list)


async def cohort_in_pairing(
    api: Api, fellows: int, name: str, people: str = "fellow", programme: str = "Leading Beyond Boundaries"
) -> Cohort:
    """A new cohort of ``fellows`` fellows, each from a different partner organisation and every other
    one clinical: each applies, is endorsed and shortlisted; the cohort is enrolled and its pairing
    requested. Fellow i of the same ``people`` is the same person (e-mail address) in every cohort:
    give a new ``people`` for persons never seen before."""
    assert 2 <= fellows <= len(ORGANISATION_CODES)
    orgs = await organisations(api)
    cohort = Cohort(id=await new_cohort(api, name, programme=programme))
    for i in range(fellows):
        organisation = orgs[ORGANISATION_CODES[i]]
        who = (f"{people}-{i}-{cohort.id}", "applicant")
        staff_group = "clinical" if i % 2 == 0 else "non_clinical"
        form = application(cohort.id, organisation["id"], f"Fellow {i}", f"{people}-{i}@example.nhs.uk", staff_group)
        fellow_id = await apply(api, who, form)
        cohort.who[fellow_id] = who
        cohort.organisation[fellow_id] = organisation
        await endorse(api, fellow_id, organisation["id"])
        await decide(api, fellow_id)
    await enrol_and_request_pairing(api, cohort.id)
    return cohort


async def known_to_feedback(api: Api, fellow_id: str, who: Any) -> None:
    """Wait until the feedback service knows the fellow (FellowEnrolled) and who they are
    (ContactRecorded): both come from its topics in its own time, and until then it answers 404, as it
    does to anyone but the fellow. The probe asks to save an "after" self-assessment before any
    "before" one, which changes nothing: 409 once the fellow is known."""

    async def known() -> tuple[int, str] | None:
        body = {"stage": "after", "strengths": {"leading_with_care": 3}}
        answer = await api.call("POST", f"/api/fellows/{fellow_id}/self-assessments", who, body)
        return (answer.status_code, answer.text) if answer.status_code != 404 else None

    status, text = await eventually(known, timeout_s=60, what="the feedback service to know the fellow")
    assert status == 409, text

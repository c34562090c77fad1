"""Drive a cohort through the gateway up to feedback: applications → fellows → published pairs →
completed exchanges. Every test gets its own cohort, fellows and subjects."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api, eventually

ADMIN = ("ada", "admin")
BOARD = ("bea", "board")

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

DIMENSIONS = (
    "inspiring_shared_purpose",
    "leading_with_care",
    "evaluating_information",
    "connecting_our_service",
    "sharing_the_vision",
    "engaging_the_team",
    "holding_to_account",
    "developing_capability",
    "influencing_for_results",
)


@dataclass
class Cohort:
    id: str
    who: dict[str, tuple[str, str]] = field(default_factory=dict)  # fellow id → (sub, role)
    organisation: dict[str, dict[str, Any]] = field(default_factory=dict)  # fellow id → organisation
    pairs: list[dict[str, Any]] = field(default_factory=list)

    def pair_of(self, fellow_id: str) -> dict[str, Any]:
        return next(p for p in self.pairs if fellow_id in p["fellow_ids"])


async def organisations(api: Api) -> dict[str, dict[str, Any]]:
    answer = await api.call("GET", "/api/organisations", ADMIN)
    assert answer.status_code == 200, answer.text
    return {o["code"]: o for o in answer.json()}


def application(cohort_id: str, organisation_id: str, name: str, staff_group: str = "clinical") -> dict[str, Any]:
    return {
        "cohort_id": cohort_id,
        "name": name,
        "email": f"{name.lower().replace(' ', '.')}@example.nhs.uk",
        "job_title": "Service manager",
        "organisation_id": organisation_id,
        "staff_group": staff_group,
        "band": "8a",
        "statement": "I want to understand how our partners lead across boundaries.",
    }


async def cohort_with_pairs(api: Api, fellows: int, name: str = "Feedback") -> Cohort:
    """A new cohort of ``fellows`` fellows, each from a different organisation, paired and published."""
    assert 2 <= fellows <= len(ORGANISATION_CODES)
    orgs = await organisations(api)
    created = await api.call(
        "POST",
        "/api/cohorts",
        ADMIN,
        {"programme": "Leading Beyond Boundaries", "name": name, "capacity": 28, "pairing_mode": "peer"},
    )
    assert created.status_code == 201, created.text
    cohort = Cohort(id=created.json()["id"])
    for i in range(fellows):
        organisation = orgs[ORGANISATION_CODES[i]]
        who = (f"fellow{i}-{cohort.id}", "applicant")
        submitted = await api.call(
            "POST",
            "/api/applications",
            who,
            application(cohort.id, organisation["id"], f"Fellow {i}", "clinical" if i % 2 == 0 else "non_clinical"),
        )
        assert submitted.status_code == 201, submitted.text
        fellow_id = submitted.json()["id"]
        cohort.who[fellow_id] = who
        cohort.organisation[fellow_id] = organisation
        endorsed = await api.call(
            "POST", f"/api/applications/{fellow_id}/endorse", ("sam", "sponsor", organisation["id"]), {}
        )
        assert endorsed.status_code == 202, endorsed.text
        decided = await api.call(
            "POST", f"/api/applications/{fellow_id}/decision", BOARD, {"decision": "shortlist", "reason": "strong"}
        )
        assert decided.status_code == 202, decided.text
    enrolled = await api.call("POST", f"/api/cohorts/{cohort.id}/enrol", BOARD, {})
    assert enrolled.status_code == 202, enrolled.text
    requested = await api.call("POST", f"/api/cohorts/{cohort.id}/pairing", BOARD, {})
    assert requested.status_code == 202, requested.text

    async def paired() -> list[dict[str, Any]]:
        answer = await api.call("GET", f"/api/cohorts/{cohort.id}/pairs", BOARD)
        pairs = answer.json() if answer.status_code == 200 else []
        return pairs if sum(len(p["fellow_ids"]) for p in pairs) == fellows else []

    await eventually(paired, timeout_s=60, what="the pairing service to pair the cohort")
    published = await api.call("POST", f"/api/cohorts/{cohort.id}/pairs/publish", BOARD, {})
    assert published.status_code == 202, published.text

    async def all_published() -> list[dict[str, Any]]:
        pairs = await paired()
        return pairs if pairs and all(p["published"] for p in pairs) else []

    cohort.pairs = await eventually(all_published, timeout_s=60, what="the pairs to be published")
    for pair in cohort.pairs:
        await feedback_state(api, cohort, pair, lambda _: True)
    return cohort


async def complete_exchange(api: Api, cohort: Cohort, pair: dict[str, Any]) -> None:
    """Every fellow of the pair hosts a visit today; then wait until feedback has opened."""
    today = datetime.now(UTC).date().isoformat()
    for host in pair["fellow_ids"]:
        visit = await api.call(
            "POST", f"/api/pairs/{pair['id']}/visits", cohort.who[host], {"host_fellow_id": host, "date": today}
        )
        assert visit.status_code == 201, visit.text
        done = await api.call("POST", f"/api/visits/{visit.json()['id']}/complete", cohort.who[host], {})
        assert done.status_code == 202, done.text
    await feedback_open(api, cohort, pair)


async def feedback_open(api: Api, cohort: Cohort, pair: dict[str, Any]) -> dict[str, Any]:
    return await feedback_state(api, cohort, pair, lambda state: bool(state.get("due_at")))


async def feedback_state(
    api: Api, cohort: Cohort, pair: dict[str, Any], condition: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The pair as its first fellow sees it in the feedback service, once ``condition`` holds."""
    first = pair["fellow_ids"][0]

    async def probe() -> dict[str, Any] | None:
        answer = await api.call("GET", f"/api/pairs/{pair['id']}/feedback", cohort.who[first])
        state: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
        return state if state and condition(state) else None

    return await eventually(probe, timeout_s=60, what="the feedback service to reach the pair's state")


def feedback_body(to_fellow_id: str, narrative: str = "Calm, curious and kind under pressure.", **extra: Any) -> Any:
    body: dict[str, Any] = {
        "to_fellow_id": to_fellow_id,
        "strengths": {"leading_with_care": 5, "engaging_the_team": 4, "holding_to_account": 3},
        "narrative": narrative,
        "collaboration_ideas": [],
    }
    return body | extra


async def give(api: Api, cohort: Cohort, pair_id: str, giver: str, receiver: str, **extra: Any) -> dict[str, Any]:
    answer = await api.call(
        "POST", f"/api/pairs/{pair_id}/feedback", cohort.who[giver], feedback_body(receiver, **extra)
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    uuid.UUID(result["id"])
    return result

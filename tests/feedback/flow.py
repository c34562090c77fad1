"""Drive a cohort through the gateway up to feedback: applications → fellows → published pairs →
completed exchanges. Every test gets its own cohort, fellows and subjects."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests import flows
from tests.conftest import Api, eventually
from tests.flows import Cohort


async def cohort_with_pairs(api: Api, fellows: int, name: str = "Feedback", **programme: str) -> Cohort:
    """A new cohort of ``fellows`` fellows, each from a different organisation, paired and published;
    the feedback service knows every pair."""
    cohort = await flows.cohort_in_pairing(api, fellows, name, **programme)
    await flows.paired(api, cohort.id, fellows)
    await flows.publish(api, cohort.id)
    cohort.pairs = await flows.paired(api, cohort.id, fellows, published=True)
    for pair in cohort.pairs:
        await feedback_state(api, cohort, pair, lambda _: True)
    return cohort


async def exchanged_pair(api: Api, name: str) -> tuple[Cohort, dict[str, Any], str, str]:
    """A new cohort of two fellows whose one pair has completed its exchange (feedback is open): the
    cohort, the pair and its two fellows."""
    cohort = await cohort_with_pairs(api, 2, name=name)
    (pair,) = cohort.pairs
    a, b = pair["fellow_ids"]
    await complete_exchange(api, cohort, pair)
    return cohort, pair, a, b


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

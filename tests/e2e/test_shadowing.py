"""Stepping into my shoes (shadowing, seed 004) through the gateway: sharers offer places, learners are
enrolled at their sponsor's yes, each learner is placed with one sharer of another organisation within
the sharer's places, published matches stay when the round runs again as people join, and only the
sharer hosts the one visit of a match."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from tests import flows
from tests.conftest import Api, eventually

SHARERS = {"RC9": 2, "RD8": 1}
LEARNERS = ("E06000032", "RYE", "QHG", "E06000042")


async def join(api: Api, cohort_id: str, orgs: dict[str, Any], code: str, extra: dict[str, Any]) -> tuple[str, Any]:
    who = (f"shoes-{code}-{uuid.uuid4().hex[:6]}", "applicant")
    form = flows.application(cohort_id, orgs[code]["id"], f"Person {code}", f"{who[0]}@example.nhs.uk", **extra)
    application_id = await flows.apply(api, who, form)
    await flows.endorse(api, application_id, orgs[code]["id"])  # auto_enrol: enrolled at once
    return application_id, who


async def pairs_of(api: Api, cohort_id: str, count: int, published: bool = False) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]]:
        answer = await api.call("GET", f"/api/cohorts/{cohort_id}/pairs", flows.BOARD)
        pairs: list[dict[str, Any]] = answer.json() if answer.status_code == 200 else []
        ready = len(pairs) == count and (not published or all(p["published"] for p in pairs))
        return pairs if ready else []

    return await eventually(probe, timeout_s=60, what=f"{count} matches")


async def test_learners_fill_the_sharers_places_and_only_the_sharer_hosts(api: Api) -> None:
    orgs = await flows.organisations(api)
    body = {"programme": "Stepping into my shoes", "name": f"Shoes {uuid.uuid4().hex[:6]}", "capacity": 20}
    created = await api.call("POST", "/api/cohorts", flows.ADMIN, body | {"kind": "shadowing", "auto_enrol": True})
    assert created.status_code == 201, created.text
    cohort_id = created.json()["id"]
    sharer: dict[str, str] = {}
    who: dict[str, Any] = {}
    for code, places in SHARERS.items():
        offer = {"summary": f"A day with the {code} team", "tags": ["discharge"]}
        sharer[code], who[code] = await join(
            api, cohort_id, orgs, code, {"role": "sharer", "capacity": places, "offer": offer}
        )
    learner = {}
    for code in LEARNERS:
        learner[code], who[code] = await join(api, cohort_id, orgs, code, {"role": "learner", "wants": ["discharge"]})

    requested = await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", flows.BOARD, {})
    assert requested.status_code == 202, requested.text
    pairs = await pairs_of(api, cohort_id, 3)  # 4 learners, 3 places
    hosted = Counter(next(f for f, r in p["roles"].items() if r == "sharer") for p in pairs)
    assert hosted == {sharer["RC9"]: 2, sharer["RD8"]: 1}, "no sharer takes more learners than its places"
    for p in pairs:
        assert sorted(p["roles"].values()) == ["learner", "sharer"]
        a, b = p["fellow_ids"]
        assert flows_org(a, sharer, learner) != flows_org(b, sharer, learner)
    published = await api.call("POST", f"/api/cohorts/{cohort_id}/pairs/publish", flows.BOARD, {})
    assert published.status_code == 202, published.text
    first = {p["id"] for p in await pairs_of(api, cohort_id, 3, published=True)}

    # someone joins after publishing: the round runs again, the published matches stay, the places are full
    late, who["late"] = await join(api, cohort_id, orgs, "RWK", {"role": "learner"})
    again = await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", flows.BOARD, {})
    assert again.status_code == 202, again.text
    left_out = await eventually(lambda: _left_out(api, cohort_id, late), timeout_s=60, what="the second round")
    assert "full" in left_out
    pairs = await pairs_of(api, cohort_id, 3, published=True)
    assert {p["id"] for p in pairs} == first and late not in {f for p in pairs for f in p["fellow_ids"]}

    # the visit: the sharer hosts it; a learner cannot
    match = next(p for p in pairs if sharer["RD8"] in p["fellow_ids"])
    guest = next(f for f in match["fellow_ids"] if f != sharer["RD8"])
    guest_who = next(w for code, w in who.items() if learner.get(code) == guest)
    today = datetime.now(UTC).date().isoformat()
    refused = await api.call(
        "POST", f"/api/pairs/{match['id']}/visits", guest_who, {"host_fellow_id": guest, "date": today}
    )
    assert refused.status_code == 409 and "sharer hosts" in refused.text, refused.text
    visit = await api.call(
        "POST", f"/api/pairs/{match['id']}/visits", guest_who, {"host_fellow_id": sharer["RD8"], "date": today}
    )
    assert visit.status_code == 201, visit.text
    done = await api.call("POST", f"/api/visits/{visit.json()['id']}/complete", who["RD8"], {})
    assert done.status_code == 202, done.text

    async def completed() -> bool:
        answer = await api.call("GET", f"/api/cohorts/{cohort_id}/pairs", flows.BOARD)
        return any(p["id"] == match["id"] and p["completed"] for p in answer.json())

    assert await eventually(completed, what="one visit hosted by the sharer to complete the match")
    await reflection_reaches_the_sharer(api, match["id"], guest, guest_who, sharer["RD8"], who["RD8"])

    # the report: shadowing's own measures, counts only (3 places offered and used, 5 learners, 1 visit)
    report = (await api.call("GET", f"/api/cohorts/{cohort_id}/report", flows.BOARD)).json()
    shadowing = report["programme"]["shadowing"]
    assert report["programme"]["kind"] == "shadowing" and report["reflections_sent"] == "<5"
    assert shadowing["learners"] == 5 and shadowing["places_left"] == 0 and shadowing["visits_done"] == "<5"
    assert shadowing["places_offered"] == shadowing["places_used"] == "<5"
    assert REFLECTION not in str(report) and "A day with the" not in str(report), "aggregates only, never content"


REFLECTION = "What I learnt: discharge starts on admission. The idea I take back: a daily call with the ward."


async def reflection_reaches_the_sharer(
    api: Api, pair_id: str, learner: str, learner_who: Any, sharer: str, sharer_who: Any
) -> None:
    """The learner's reflection, without ratings, reaches the sharer as a thank-you; the sharer is not
    asked to write, and the learner cannot write an empty one."""

    async def opened() -> dict[str, Any] | None:
        answer = await api.call("GET", f"/api/pairs/{pair_id}/feedback", learner_who)
        state: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
        return state if state.get("due_at") else None

    state = await eventually(opened, timeout_s=60, what="the learner's reflection to be asked for")
    assert state["still_due"] == [sharer]
    sharer_state = (await api.call("GET", f"/api/pairs/{pair_id}/feedback", sharer_who)).json()
    assert sharer_state["still_due"] == [], "in shadowing the sharer is not asked to write"
    body: dict[str, Any] = {"to_fellow_id": learner, "narrative": "Thank you for coming.", "collaboration_ideas": []}
    refused = await api.call("POST", f"/api/pairs/{pair_id}/feedback", sharer_who, body)
    assert refused.status_code == 422 and "learner writes" in refused.text, refused.text
    too_few = await api.call(
        "POST",
        f"/api/pairs/{pair_id}/feedback",
        learner_who,
        {"to_fellow_id": sharer, "narrative": REFLECTION, "strengths": {"leading_with_care": 5}},
    )
    assert too_few.status_code == 422 and "at least 3" in too_few.text, "ratings given follow the usual rule"
    sent = await api.call(
        "POST", f"/api/pairs/{pair_id}/feedback", learner_who, {"to_fellow_id": sharer, "narrative": REFLECTION}
    )
    assert sent.status_code == 201, sent.text

    released = (await api.call("GET", f"/api/fellows/{sharer}/feedback", sharer_who)).json()
    assert [(r["narrative"], r["strengths"]) for r in released] == [(REFLECTION, {})], "released to the sharer at once"
    assert (await api.call("GET", f"/api/fellows/{sharer}/feedback", learner_who)).status_code == 404


def flows_org(fellow: str, sharer: dict[str, str], learner: dict[str, str]) -> str:
    return next(code for code, f in {**sharer, **learner}.items() if f == fellow)


async def _left_out(api: Api, cohort_id: str, fellow: str) -> str | None:
    """Why the round left ``fellow`` out, once a round has looked at them."""
    answer = await api.call("GET", f"/api/cohorts/{cohort_id}/pairing", flows.BOARD)
    unpaired: dict[str, str] = answer.json().get("unpaired", {}) if answer.status_code == 200 else {}
    return unpaired.get(fellow)

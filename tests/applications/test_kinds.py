"""Programme kinds through the gateway (DESIGN.md, "Programme kinds"): a cohort's kind, the role an
application takes and what it brings, refusals for what does not suit the kind, and enrolment at
endorsement (``auto_enrol``), read back from the integration topic."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared import topics
from tests import flows
from tests.conftest import Api, TopicReader, envelopes, eventually

MARKER = f"offer-{uuid.uuid4().hex[:10]}"


async def cohort(api: Api, kind: str, **extra: Any) -> str:
    body = {"programme": f"Programme {kind}", "name": f"{kind} {uuid.uuid4().hex[:6]}", "capacity": 3, "kind": kind}
    created = await api.call("POST", "/api/cohorts", flows.ADMIN, body | extra)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"kind": "shadowing", "pairing_mode": "peer"}, "pairing_mode: a shadowing cohort pairs bipartite"),
        ({"kind": "exchange", "reciprocal": True}, "reciprocal: only a mentoring cohort"),
        ({"kind": "paired_learning", "pairing_mode": "peer"}, "pairs bipartite, not peer"),
        ({"kind": "coaching"}, "kind"),
    ],
)
async def test_a_cohort_that_does_not_suit_its_kind_is_refused(api: Api, body: dict[str, Any], reason: str) -> None:
    base = {"programme": "Kinds", "name": "refused", "capacity": 4}
    answer = await api.call("POST", "/api/cohorts", flows.ADMIN, base | body)
    assert answer.status_code == 422, answer.text
    assert reason in answer.text


async def test_each_kind_keeps_its_settings_and_defaults(api: Api) -> None:
    expected = {
        "exchange": ("peer", False),
        "shadowing": ("bipartite", False),
        "mentoring": ("bipartite", True),
        "paired_learning": ("bipartite", False),
    }
    for kind, (mode, reciprocal) in expected.items():
        cohort_id = await cohort(api, kind, **({"reciprocal": True} if reciprocal else {}))
        answer = (await api.call("GET", f"/api/cohorts/{cohort_id}", flows.ADMIN)).json()
        assert (answer["kind"], answer["pairing_mode"], answer["reciprocal"]) == (kind, mode, reciprocal)


@pytest.mark.parametrize(
    ("kind", "extra", "reason"),
    [
        ("shadowing", {}, "role: a shadowing cohort takes learner or sharer, not fellow"),
        ("shadowing", {"role": "sharer", "offer": {"summary": "A day on the ward"}}, "capacity: a sharer says"),
        ("shadowing", {"role": "sharer", "capacity": 11, "offer": {"summary": "x"}}, "capacity"),
        ("shadowing", {"role": "sharer", "capacity": 2}, "offer: a sharer says what they will show"),
        ("shadowing", {"role": "learner", "capacity": 2}, "capacity: only a sharer has places"),
        ("shadowing", {"role": "learner", "offer": {"summary": "x"}}, "offer: only a sharer offers"),
        ("mentoring", {"role": "mentor", "capacity": 4}, "capacity: a mentor takes 1 to 3, not 4"),
        ("mentoring", {"role": "mentee", "wants": ["finance"]}, "wants: only a learner"),
        ("exchange", {"role": "mentor", "capacity": 1}, "role: an exchange cohort takes fellow, not mentor"),
    ],
)
async def test_an_application_whose_role_does_not_suit_the_cohort_is_refused_and_nothing_is_kept(
    api: Api, kind: str, extra: dict[str, Any], reason: str
) -> None:
    orgs = await flows.organisations(api)
    cohort_id = await cohort(api, kind)
    who = (f"refused-{uuid.uuid4().hex[:8]}", "applicant")
    form = flows.application(cohort_id, orgs["RC9"]["id"], "Refused Person", f"{who[0]}@example.nhs.uk", **extra)
    answer = await api.call("POST", "/api/applications", who, form)
    assert answer.status_code == 422, answer.text
    assert reason in answer.text
    mine = await api.call("GET", f"/api/applications?cohort_id={cohort_id}", who)
    assert mine.status_code == 200 and mine.json() == []


async def test_shadowing_enrols_endorsed_applications_at_once_with_their_roles_and_places(
    api: Api, topic_reader: Any
) -> None:
    """A sharer (3 places) and two learners apply to an ``auto_enrol`` cohort of capacity 3: each is
    enrolled when its sponsor endorses it, the fourth waits; FellowEnrolled carries role and places,
    never the offer or the wants."""
    reader: TopicReader = await topic_reader([topics.APPLICATIONS])
    orgs = await flows.organisations(api)
    cohort_id = await cohort(api, "shadowing", auto_enrol=True)
    people = [
        (
            "RC9",
            {"role": "sharer", "capacity": 3, "offer": {"summary": f"Theatre lists {MARKER}", "tags": ["surgery"]}},
        ),
        ("RD8", {"role": "learner", "wants": [f"surgery {MARKER}"]}),
        ("RYE", {"role": "learner"}),
        ("QHG", {"role": "learner"}),
    ]
    ids = []
    for code, extra in people:
        who = (f"shadow-{code}-{cohort_id}", "applicant")
        form = flows.application(cohort_id, orgs[code]["id"], f"Person {code}", f"{who[0]}@example.nhs.uk", **extra)
        application_id = await flows.apply(api, who, form)
        await flows.endorse(api, application_id, orgs[code]["id"])
        ids.append(application_id)
    states = {}
    for application_id in ids:
        answer = await api.call("GET", f"/api/applications/{application_id}", flows.ADMIN)
        states[application_id] = answer.json()["state"]
    assert [states[i] for i in ids] == ["enrolled", "enrolled", "enrolled", "waitlisted"]
    sharer = (await api.call("GET", f"/api/applications/{ids[0]}", flows.ADMIN)).json()
    assert (sharer["role"], sharer["capacity"], sharer["offer"]["tags"]) == ("sharer", 3, ["surgery"])

    async def enrolled() -> dict[str, dict[str, Any]]:
        seen = {
            e["data"]["fellow_id"]: e["data"]
            for e in envelopes(await reader.poll())
            if e["type"] == "FellowEnrolled" and e["data"]["cohort_id"] == cohort_id
        }
        return seen if len(seen) == 3 else {}

    fellows = await eventually(enrolled, what="three FellowEnrolled on the applications topic")
    assert {(f["role"], f["capacity"]) for f in fellows.values()} == {("sharer", 3), ("learner", 1)}
    assert fellows[ids[0]]["role"] == "sharer"
    opened = [
        e for e in envelopes(reader.records) if e["type"] == "CohortOpened" and e["data"]["cohort_id"] == cohort_id
    ]
    assert opened and (opened[0]["data"]["kind"], opened[0]["data"]["auto_enrol"]) == ("shadowing", True)
    raw = b"".join(r.value or b"" for r in reader.records)
    assert MARKER.encode() not in raw, "an offer or a want reached an integration topic"

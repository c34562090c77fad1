"""Every route by every kind of caller through the real gateway and services: who may, who is refused,
and that refusals of someone else's object answer 404 exactly like an object that does not exist.

The world (one cohort): Ann (organisation A) and Bob (organisation B) are enrolled fellows in a
published pair; Ann also has a withdrawn second application and hosts a scheduled visit. Eve is an
applicant with nothing of hers here. Sam sponsors A, Sue sponsors B.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from lbb.devstack import Stack
from shared.identity import Caller
from tests import flows
from tests.conftest import Api, eventually, vouch
from tests.flows import ADMIN, BOARD, WEIGHTS

# The header the gateway once sent with a fellow's ids: services now ignore it, so forging it gains nothing.
FORGED_FELLOWS = "X-Lbb-Fellows"


@dataclass
class World:
    api: Api
    cohort: str
    spare_cohort: str
    org_a: str
    org_b: str
    ann_app: str
    bob_app: str
    withdrawn_app: str
    pair: str
    visit: str
    staff_contact: str
    who: dict[str, tuple[str, ...]]


def application(cohort: str, org: str, name: str, tag: str) -> dict[str, Any]:
    """The form of Ann (clinical) or Bob, under an address of its own."""
    email = f"{name.lower()}-{tag}-{uuid.uuid4().hex[:6]}@example.nhs.uk"
    return flows.application(cohort, org, name, email, "clinical" if name == "Ann" else "non_clinical")


async def ok(answer: httpx.Response, code: int) -> Any:
    assert answer.status_code == code, answer.text
    return answer.json()


@pytest.fixture(scope="module")
async def world(gateway: httpx.AsyncClient) -> World:
    api = Api(gateway)
    orgs = {o["code"]: o["id"] for o in await ok(await api.call("GET", "/api/organisations", ADMIN), 200)}
    org_a, org_b = orgs["RC9"], orgs["E06000032"]
    body = {"programme": "Authz", "name": "Every route", "capacity": 10, "pairing_mode": "peer"}
    cohort = (await ok(await api.call("POST", "/api/cohorts", ADMIN, body), 201))["id"]
    spare = (await ok(await api.call("POST", "/api/cohorts", ADMIN, body | {"name": "Spare"}), 201))["id"]
    tag = cohort[:8]
    who: dict[str, tuple[str, ...]] = {
        "ann": (f"ann-{tag}", "applicant"),
        "bob": (f"bob-{tag}", "applicant"),
        "eve": (f"eve-{tag}", "applicant"),
        "sam": (f"sam-{tag}", "sponsor", org_a),
        "sue": (f"sue-{tag}", "sponsor", org_b),
        "board": BOARD,
        "admin": ADMIN,
    }
    ann_app = (
        await ok(await api.call("POST", "/api/applications", who["ann"], application(cohort, org_a, "Ann", tag)), 201)
    )["id"]
    bob_app = (
        await ok(await api.call("POST", "/api/applications", who["bob"], application(cohort, org_b, "Bob", tag)), 201)
    )["id"]
    withdrawn = (
        await ok(await api.call("POST", "/api/applications", who["ann"], application(spare, org_a, "Ann", tag)), 201)
    )["id"]
    await ok(await api.call("POST", f"/api/applications/{withdrawn}/withdraw", who["ann"], {}), 202)
    for app_id, sponsor in ((ann_app, "sam"), (bob_app, "sue")):
        await ok(await api.call("POST", f"/api/applications/{app_id}/endorse", who[sponsor], {}), 202)
        decision = {"decision": "shortlist", "reason": "strong"}
        await ok(await api.call("POST", f"/api/applications/{app_id}/decision", BOARD, decision), 202)
    await flows.enrol_and_request_pairing(api, cohort)
    (pair,) = await flows.paired(api, cohort, 2)
    await flows.publish(api, cohort)
    today = datetime.now(UTC).date().isoformat()
    visit = await ok(
        await api.call(
            "POST", f"/api/pairs/{pair['id']}/visits", who["ann"], {"host_fellow_id": ann_app, "date": today}
        ),
        201,
    )

    async def feedback_knows() -> bool:
        pair_view = await api.call("GET", f"/api/pairs/{pair['id']}/feedback", who["ann"])
        report = await api.call("GET", f"/api/cohorts/{cohort}/report", BOARD)
        return pair_view.status_code == 200 and report.status_code == 200

    await eventually(feedback_knows, 60, "the feedback service to know the pair")
    staff = {"role": "board", "subject": f"bea-{tag}", "name": "Bea", "email": f"bea-{tag}@example.nhs.uk"}
    contact = (await ok(await api.call("POST", "/api/notifications/staff-contacts", ADMIN, staff), 201))["id"]
    return World(api, cohort, spare, org_a, org_b, ann_app, bob_app, withdrawn, pair["id"], visit["id"], contact, who)


CALLERS = ("anonymous", "ann", "eve", "sam", "sue", "board", "admin")
ALL = {c: 200 for c in CALLERS[1:]}
RANDOM = str(uuid.UUID(int=7))


def route(
    method: str, path: str, body: Any = None, default: int = 403, **codes: int | tuple[int, ...]
) -> tuple[str, str, Any, dict[str, tuple[int, ...]]]:
    """Expected answers per caller; callers not named get ``default`` (anonymous always 401)."""
    expected = {c: (default,) for c in CALLERS} | {c: v if isinstance(v, tuple) else (v,) for c, v in codes.items()}
    expected["anonymous"] = (401,)
    return method, path, body, expected


def everyone(code: int | tuple[int, ...]) -> dict[str, int | tuple[int, ...]]:
    return {c: code for c in CALLERS[1:]}


FAR = (datetime.now(UTC).date() + timedelta(days=3000)).isoformat()
FEEDBACK = {
    "to_fellow_id": "{bob_app}",
    "strengths": {"leading_with_care": 5, "engaging_the_team": 4, "holding_to_account": 3},
    "narrative": "Kind and clear.",
}

ROUTES = [
    route("GET", "/api/organisations", **everyone(200)),
    route(
        "POST", "/api/organisations", {"code": "{code}", "name": "New", "sector": "acute", "place": "luton"}, admin=201
    ),
    route(
        "PUT",
        f"/api/organisations/{RANDOM}",
        {"code": "{code}", "name": "N", "sector": "acute", "place": "luton"},
        admin=404,
    ),
    route("POST", f"/api/organisations/{RANDOM}/retire", {}, admin=404),
    route("GET", "/api/cohorts", **everyone(200)),
    route("POST", "/api/cohorts", {"programme": "P", "name": "N", "capacity": 4, "pairing_mode": "peer"}, admin=201),
    route("GET", "/api/cohorts/{cohort}", **everyone(200)),
    route("GET", f"/api/cohorts/{RANDOM}", **everyone(404)),
    route("POST", "/api/cohorts/{spare_cohort}/close", {}, admin=(202, 409)),
    route("GET", "/api/cohorts/{cohort}/shortlisting", board=200),
    route("GET", "/api/cohorts/{cohort}/decisions", board=200, admin=200),
    route("POST", "/api/cohorts/{cohort}/enrol", {}, board=202),
    # Ann already has an open application to the cohort (enrolled): one open application per person
    route("POST", "/api/applications", "{application}", ann=409, eve=201),
    route("GET", "/api/applications", **everyone(200)),
    route("GET", "/api/applications/{ann_app}", ann=200, eve=404, sam=200, sue=404, board=200, admin=200),
    route("GET", f"/api/applications/{RANDOM}", **everyone(404)),
    route("POST", "/api/applications/{ann_app}/endorse", {}, sam=409, sue=404),
    route("POST", "/api/applications/{ann_app}/decision", {"decision": "decline", "reason": "r"}, board=409),
    route("POST", "/api/applications/{withdrawn_app}/withdraw", {}, ann=409, eve=404, board=409),
    route("POST", "/api/cohorts/{cohort}/pairing", {}, board=409),
    route("GET", "/api/cohorts/{cohort}/pairs", ann=200, eve=404, board=200, admin=200),
    route("POST", "/api/cohorts/{cohort}/pairs/swap", {"fellow_a": "{ann_app}", "fellow_b": "{bob_app}"}, board=409),
    route("POST", "/api/cohorts/{cohort}/pairs/publish", {}, board=409),
    # the board's tools: the cohort's pairs are published, so its rules no longer change
    route("POST", "/api/cohorts/{cohort}/exclusions", {"fellow_a": "{ann_app}", "fellow_b": "{bob_app}"}, board=409),
    route("POST", "/api/cohorts/{cohort}/pairs/lock", {"fellow_ids": ["{ann_app}", "{bob_app}"]}, board=409),
    route("POST", "/api/cohorts/{cohort}/pairs/unlock", {"fellow_ids": ["{ann_app}", "{bob_app}"]}, board=409),
    route("PUT", "/api/cohorts/{cohort}/weights", WEIGHTS, board=409),
    route("POST", "/api/cohorts/{cohort}/pairing/preview", {}, board=409),
    route("GET", "/api/cohorts/{cohort}/fellows/{ann_app}/alternatives", board=200),
    route("GET", "/api/cohorts/{cohort}/fellows/" + RANDOM + "/alternatives", board=404),
    route("GET", "/api/pairs/mine", ann=200, eve=200),
    route("POST", "/api/pairs/{pair}/visits", {"host_fellow_id": "{ann_app}", "date": FAR}, ann=(409, 422), eve=404),
    route("POST", f"/api/pairs/{RANDOM}/visits", {"host_fellow_id": RANDOM, "date": FAR}, ann=404, eve=404),
    route("POST", "/api/visits/{visit}/complete", {}, ann=(202, 409), eve=404),
    # a completed visit is neither moved nor cancelled; someone else's is not found
    route("POST", "/api/visits/{visit}/move", {"date": FAR}, ann=(409, 422), eve=404),
    route("POST", "/api/visits/{visit}/cancel", {}, ann=409, eve=404),
    route("POST", f"/api/visits/{RANDOM}/cancel", {}, ann=404, eve=404),
    # the shadowing reflection: this cohort is an exchange, so its pair has none (409)
    route("POST", "/api/pairs/{pair}/reflection", {"learnt": "l", "take_back": "t"}, ann=409, eve=404),
    route("GET", "/api/pairs/{pair}/reflection", ann=409, eve=404),
    route("POST", "/api/pairs/{pair}/feedback", FEEDBACK, ann=409, eve=404),
    route(
        "PUT",
        "/api/pairs/{pair}/feedback/" + RANDOM,
        {k: v for k, v in FEEDBACK.items() if k != "to_fellow_id"},
        ann=404,
        eve=404,
    ),
    route("GET", "/api/pairs/{pair}/feedback", ann=200, eve=404),
    route("GET", "/api/fellows/{ann_app}/feedback", ann=200, eve=404, board=200, admin=200),
    route("GET", "/api/fellows/{bob_app}/feedback", ann=404, eve=404, board=200, admin=200),
    route("GET", "/api/cohorts/{cohort}/report", board=200, admin=200),
    route("GET", "/api/programmes/Authz/report", board=200, admin=200),
    route("GET", "/api/programmes/No%20such%2Fprogramme/report", board=404, admin=404),
    route("GET", "/api/notifications", **everyone(200)),
    route("GET", "/api/notifications/preferences", **everyone(200)),
    route("PUT", "/api/notifications/preferences", {"mute_reminders": False}, **everyone(200)),
    route(
        "POST",
        "/api/notifications/staff-contacts",
        {"role": "board", "subject": "x", "name": "X", "email": "x@example.nhs.uk"},
        admin=201,
    ),
    route("GET", "/api/notifications/staff-contacts", admin=200),
    route("DELETE", "/api/notifications/staff-contacts/{staff_contact}", admin=202),
    # collaboration followed through: sponsors own their organisations' opportunities, the board reads
    route("GET", "/api/opportunities", sam=200, sue=200, board=200, admin=200),
    route("GET", f"/api/opportunities/{RANDOM}", sam=404, sue=404, board=404, admin=404),
    route("POST", f"/api/opportunities/{RANDOM}/update", {"status": "exploring"}, sam=404, sue=404, admin=404),
    route("GET", "/api/collaboration/map", board=200, admin=200),
    route("GET", "/api/cohorts/{cohort}/pairing", board=200, admin=200),
    # mentoring: the pair alone (this cohort is an exchange, so its pair has no mentoring: 409)
    route("POST", "/api/pairs/{pair}/agreement", {"goals": ["g"], "meet_every_weeks": 2}, ann=409, eve=404),
    route("GET", "/api/pairs/{pair}/meetings", ann=409, eve=404),
    route("POST", "/api/pairs/{pair}/meetings/planned", {"date": FAR, "starts_at": "10:00"}, ann=409, eve=404),
    route("POST", f"/api/meetings/{RANDOM}/move", {"date": FAR, "starts_at": "10:00"}, ann=404, eve=404),
    route("POST", f"/api/meetings/{RANDOM}/cancel", {}, ann=404, eve=404),
    route("POST", f"/api/pairs/{RANDOM}/close", {"reflection": "r"}, ann=404, eve=404),
    route("GET", "/api/cohorts/{cohort}/mentoring", board=200, admin=200),
    route("GET", "/api/pairs/{pair}/project", ann=409, eve=404),
    route(
        "POST",
        "/api/fellows/{ann_app}/self-assessments",
        {"stage": "after", "strengths": {"leading_with_care": 3}},
        ann=409,
        eve=404,
    ),
    # erasure: admins only (nobody applied with this address; no such erasure)
    route("POST", "/api/privacy/erase", {"email": "nobody.authz@example.nhs.uk"}, admin=404),
    route("GET", f"/api/privacy/erasures/{RANDOM}", admin=404),
    route("GET", "/api/notifications/deliveries/unconfirmed", admin=200),
    route("POST", f"/api/notifications/deliveries/{RANDOM}/resend", {}, admin=404),
]


def fill(value: Any, world: World) -> Any:
    # every id of the world by its field name ({cohort}, {ann_app}, ...), and a new organisation code
    names = {k: v for k, v in vars(world).items() if isinstance(v, str)} | {"code": f"T{uuid.uuid4().hex[:10]}"}
    if value == "{application}":
        return application(world.cohort, world.org_a, "Ann", uuid.uuid4().hex[:6])
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    return value


CASES = [
    pytest.param(method, path, body, caller, codes[caller], id=f"{method} {path} as {caller}")
    for method, path, body, codes in ROUTES
    for caller in CALLERS
]


@pytest.mark.parametrize(("method", "path", "body", "caller", "expected"), CASES)
async def test_route_by_caller(
    world: World, method: str, path: str, body: Any, caller: str, expected: tuple[int, ...]
) -> None:
    url, payload = fill(path, world), fill(body, world)
    if caller == "anonymous":
        answer = await world.api.client.request(method, url, json=payload)
    else:
        answer = await world.api.call(method, url, world.who[caller], payload)
    assert answer.status_code in expected, f"{method} {url} as {caller}: {answer.status_code} {answer.text}"


async def test_someone_elses_object_answers_exactly_like_a_missing_one(world: World) -> None:
    api = world.api
    other = await api.call("GET", f"/api/applications/{world.ann_app}", world.who["sue"])
    missing = await api.call("GET", f"/api/applications/{RANDOM}", world.who["sue"])
    assert (other.status_code, other.json()) == (missing.status_code, missing.json()) == (404, missing.json())
    for path in (f"/api/pairs/{world.pair}/feedback", f"/api/fellows/{world.ann_app}/feedback"):
        theirs = await api.call("GET", path, world.who["eve"])
        nowhere = await api.call(
            "GET", path.replace(world.pair, RANDOM).replace(world.ann_app, RANDOM), world.who["eve"]
        )
        assert (theirs.status_code, theirs.json()) == (nowhere.status_code, nowhere.json())


async def test_lists_hold_only_what_the_caller_may_see(world: World) -> None:
    api = world.api

    async def ids(who: str, query: str = "") -> set[str]:
        answer = await api.call("GET", f"/api/applications?cohort_id={world.cohort}{query}", world.who[who])
        assert answer.status_code == 200, answer.text
        return {a["id"] for a in answer.json()}

    assert world.ann_app in await ids("ann") and world.bob_app not in await ids("ann")
    assert not {world.ann_app, world.bob_app} & await ids("eve")  # only her own (she may have applied)
    assert world.ann_app in await ids("sam") and world.bob_app not in await ids("sam")
    assert world.bob_app in await ids("sue") and world.ann_app not in await ids("sue")
    assert {world.ann_app, world.bob_app} <= await ids("board", "&state=enrolled")
    assert (await api.call("GET", "/api/applications?state=bogus", world.who["board"])).status_code == 422
    (mine,) = (await api.call("GET", "/api/pairs/mine", world.who["ann"])).json()
    assert mine["id"] == world.pair and mine["fellow_id"] == world.ann_app
    assert [p["fellow_id"] for p in mine["partners"]] == [world.bob_app]
    assert mine["partners"][0]["organisation_id"] == world.org_b
    assert (await api.call("GET", "/api/pairs/mine", world.who["eve"])).json() == []


SERVICE_CHECKS = [
    ("applications", "GET", "/applications/{ann_app}", ("eve", "applicant", None, None), 404),
    ("applications", "GET", "/applications/{ann_app}", ("sue", "sponsor", "{org_b}", None), 404),
    ("applications", "POST", "/applications/{ann_app}/endorse", ("sue", "sponsor", "{org_b}", None), 404),
    ("applications", "POST", "/applications/{ann_app}/decision", ("sam", "sponsor", "{org_a}", None), 403),
    ("pairing", "GET", "/cohorts/{cohort}/pairs", ("eve", "applicant", None, None), 404),
    ("pairing", "POST", "/cohorts/{cohort}/pairs/publish", ("eve", "applicant", None, None), 403),
    ("pairing", "POST", "/pairs/{pair}/visits", ("eve", "applicant", None, RANDOM), 404),
    ("feedback", "GET", "/pairs/{pair}/feedback", ("eve", "applicant", None, None), 404),
    ("feedback", "GET", "/fellows/{ann_app}/feedback", ("eve", "applicant", None, "{bob_app}"), 404),
    ("feedback", "GET", "/cohorts/{cohort}/report", ("ann", "applicant", None, "{ann_app}"), 403),
    ("feedback", "GET", "/programmes/report?cohort_id={cohort}", ("ann", "applicant", None, "{ann_app}"), 403),
    ("pairing", "GET", "/cohorts/{cohort}/measures", ("ann", "applicant", None, "{ann_app}"), 403),
    ("notifications", "GET", "/staff-contacts", ("bea", "board", None, None), 403),
    ("notifications", "GET", "/deliveries/unconfirmed", ("bea", "board", None, None), 403),
    ("notifications", "POST", f"/deliveries/{RANDOM}/resend", ("bea", "board", None, None), 403),
]


@pytest.mark.parametrize(("service", "method", "path", "identity", "expected"), SERVICE_CHECKS)
async def test_the_owning_service_checks_again_whatever_the_gateway_did(
    world: World, stack: Stack, service: str, method: str, path: str, identity: tuple[Any, ...], expected: int
) -> None:
    """Straight to the service (as if the gateway had a bug): it refuses on its own."""
    sub, role, org, fellows = identity
    headers = vouch(stack, service, Caller(sub, role, uuid.UUID(fill(org, world)) if org else None))
    if fellows:
        headers[FORGED_FELLOWS] = fill(fellows, world)
    body: Any = {} if method == "POST" else None
    if path.endswith("/decision"):
        body = {"decision": "decline", "reason": "r"}
    if path.endswith("/visits"):
        body = {"host_fellow_id": world.ann_app, "date": datetime.now(UTC).date().isoformat()}
    async with httpx.AsyncClient(base_url=stack.processes[service].url, timeout=10) as client:
        answer = await client.request(method, fill(path, world), json=body, headers=headers)
    assert answer.status_code == expected, answer.text

"""The board's pairing tools through the gateway on the real stack (issue 19): declared conflicts (whose
e-mail addresses reach no topic), exclusions, locks, the cohort's own weights, the preview of a re-run
and each fellow's alternatives; every refusal with its reason, and nothing changed by it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from shared import topics
from tests import flows
from tests.conftest import Api, TopicReader, envelopes, eventually
from tests.flows import BOARD, WEIGHTS


async def cohort_of(
    api: Api, organisations: list[int], name: str, conflicts: dict[int, list[str]] | None = None
) -> tuple[str, list[str], list[str]]:
    """A cohort whose fellow i comes from partner organisation ``organisations[i]`` and declares the
    conflicts ``conflicts[i]`` (e-mail addresses); enrolled and its pairing requested. The cohort's id,
    the fellows' ids and their e-mail addresses, in order."""
    orgs = await flows.organisations(api)
    cohort = await flows.new_cohort(api, name)
    tag = uuid.uuid4().hex[:8]
    ids, emails = [], [f"board-{tag}-{i}@example.nhs.uk" for i in range(len(organisations))]
    for i, k in enumerate(organisations):
        organisation = orgs[flows.ORGANISATION_CODES[k]]
        extra = {"conflicts": (conflicts or {})[i]} if i in (conflicts or {}) else {}
        form = flows.application(
            cohort, organisation["id"], f"Fellow {i}", emails[i], "clinical" if i % 2 else "non_clinical", **extra
        )
        fellow = await flows.apply(api, (f"board-{tag}-{i}", "applicant"), form)
        await flows.endorse(api, fellow, organisation["id"])
        await flows.decide(api, fellow)
        ids.append(fellow)
    await flows.enrol_and_request_pairing(api, cohort)
    return cohort, ids, emails


def partner(pairs: list[dict[str, Any]], fellow: str) -> set[str]:
    return next(set(p["fellow_ids"]) - {fellow} for p in pairs if fellow in p["fellow_ids"])


async def test_declared_conflicts_are_never_paired_and_their_addresses_reach_no_topic(
    api: Api, topic_reader: Callable[[list[str]], Awaitable[TopicReader]]
) -> None:
    manager = f"line-manager-{uuid.uuid4().hex}@example.nhs.uk"  # nobody who applies: found nowhere legitimately
    tag = uuid.uuid4().hex[:8]
    # fellow 0 names fellows 1 and 2 (by their addresses, in any case) and a manager who never applies
    emails = [f"board-{tag}-{i}@example.nhs.uk" for i in range(4)]
    orgs = await flows.organisations(api)
    cohort = await flows.new_cohort(api, "Conflicts")
    ids = []
    for i in range(4):
        organisation = orgs[flows.ORGANISATION_CODES[i]]
        extra = {"conflicts": [emails[1].upper(), emails[2], manager]} if i == 0 else {}
        form = flows.application(cohort, organisation["id"], f"Fellow {i}", emails[i], **extra)
        fellow = await flows.apply(api, (f"board-{tag}-{i}", "applicant"), form)
        await flows.endorse(api, fellow, organisation["id"])
        await flows.decide(api, fellow)
        ids.append(fellow)
    await flows.enrol_and_request_pairing(api, cohort)
    pairs = await flows.paired(api, cohort, 4)
    assert partner(pairs, ids[0]) == {ids[3]}, "fellow 0 is paired with the only fellow it did not name"

    reader = await topic_reader(topics.all_topics_with_dlq())

    async def contact_of_fellow_0() -> dict[str, Any] | None:
        found = [e for e in envelopes(await reader.poll()) if e["type"] == "ContactRecorded"]
        return next((e for e in found if e["data"]["person_id"] == ids[0]), None)

    contact = await eventually(contact_of_fellow_0, what="fellow 0's ContactRecorded")
    assert len(contact["data"]["conflicts"]) == 3 and all(uuid.UUID(c) for c in contact["data"]["conflicts"])
    carried = [r.value.decode(errors="replace").lower() for r in reader.records if r.value]
    assert carried and not any(manager in value for value in carried), "a conflict's address is on a topic"
    own = [v for v in carried if ids[0] in v and "contactrecorded" in v]
    assert own and not any(emails[1] in v or emails[2] in v for v in own), "fellow 0's contact names its conflicts"


async def test_a_conflict_with_yourself_or_more_than_ten_is_refused(api: Api) -> None:
    orgs = await flows.organisations(api)
    cohort = await flows.new_cohort(api, "Conflict limits")
    organisation = orgs[flows.ORGANISATION_CODES[0]]
    me = f"me-{uuid.uuid4().hex[:8]}@example.nhs.uk"
    who = (f"me-{uuid.uuid4().hex[:8]}", "applicant")
    form = flows.application(cohort, organisation["id"], "Me", me, conflicts=[me.upper()])
    refused = await api.call("POST", "/api/applications", who, form)
    assert refused.status_code == 422 and "own e-mail" in refused.json()["detail"], refused.text
    many = [f"x{i}@example.nhs.uk" for i in range(11)]
    refused = await api.call("POST", "/api/applications", who, form | {"conflicts": many})
    assert refused.status_code == 422, refused.text
    refused = await api.call("POST", "/api/applications", who, form | {"conflicts": ["not an address"]})
    assert refused.status_code == 422, refused.text


async def test_the_boards_exclusions_locks_weights_preview_and_alternatives(api: Api) -> None:
    # fellows 0 and 1 are of one organisation; 2..5 of four others
    cohort, ids, _ = await cohort_of(api, [0, 0, 1, 2, 3, 4], "Board tools")
    pairs = await flows.paired(api, cohort, 6)
    base = f"/api/cohorts/{cohort}"
    a = ids[2]
    mate = partner(pairs, a)
    others = [f for f in ids if f != a and f not in mate]
    x = others[0]

    preview = await api.call("POST", f"{base}/pairing/preview", BOARD, {})
    assert preview.status_code == 200, preview.text
    before = preview.json()
    assert before["pairs_changed"] == 0 and before["total"] <= before["bound"] + 1e-9

    found = await api.call("GET", f"{base}/fellows/{a}/alternatives", BOARD)
    assert found.status_code == 200, found.text
    alternatives = {alt["fellow_id"]: alt for alt in found.json()}
    assert a not in alternatives and not mate & alternatives.keys() and x in alternatives
    assert all(alt["loss"] >= 0 and alt["reasons"] and alt["exact"] for alt in alternatives.values())

    def lock(*fellows: str, path: str = "lock") -> Awaitable[Any]:
        return api.call("POST", f"{base}/pairs/{path}", BOARD, {"fellow_ids": list(fellows)})

    same_organisation = await lock(ids[0], ids[1])
    assert same_organisation.status_code == 409 and "same organisation" in same_organisation.json()["detail"]
    assert (await lock(a, x)).status_code == 202
    assert (await lock(a, x)).status_code == 202  # again: nothing new
    twice = await lock(a, next(f for f in others if f != x))
    assert twice.status_code == 409 and "two locked pairs" in twice.json()["detail"], twice.text
    contradicts = await api.call("POST", f"{base}/exclusions", BOARD, {"fellow_a": x, "fellow_b": a})
    assert contradicts.status_code == 409 and "locked pair" in contradicts.json()["detail"], contradicts.text

    # forcing (a, x) costs exactly what the alternatives said
    forced = (await api.call("POST", f"{base}/pairing/preview", BOARD, {})).json()
    assert forced["total"] == round(before["total"] - alternatives[x]["loss"], 2), (before, forced, alternatives[x])
    assert forced["pairs_changed"] >= 2

    out_of_range = await api.call("PUT", f"{base}/weights", BOARD, WEIGHTS | {"different_sector": 21})
    assert out_of_range.status_code == 422 and "different_sector" in out_of_range.json()["detail"]
    missing = await api.call("PUT", f"{base}/weights", BOARD, {"different_sector": 4})
    assert missing.status_code == 422
    assert (await api.call("POST", f"{base}/pairing/preview", BOARD, {})).json() == forced  # nothing changed
    assert (await api.call("GET", f"{base}/pairing", BOARD)).json()["weights"] == WEIGHTS  # the configured ones
    heavier = await api.call("PUT", f"{base}/weights", BOARD, WEIGHTS | {"not_paired_before": 20})
    assert heavier.status_code == 200, heavier.text
    assert (await api.call("GET", f"{base}/pairing", BOARD)).json()["weights"] == WEIGHTS | {"not_paired_before": 20}
    reweighed = (await api.call("POST", f"{base}/pairing/preview", BOARD, {})).json()
    assert reweighed["total"] == forced["total"] + 15 * 3  # three pairs, each 15 more

    # a re-run keeps the locked pair and scores with the cohort's weights
    assert (await api.call("POST", f"{base}/pairing", BOARD, {})).status_code == 202

    async def rerun() -> list[dict[str, Any]] | None:
        now = await flows.paired(api, cohort, 6)
        return now if partner(now, a) == {x} else None

    again = await eventually(rerun, timeout_s=60, what="the re-run to keep the locked pair")
    assert round(sum(p["score"] for p in again), 2) == reweighed["total"]
    assert [p["locked"] for p in again] == [set(p["fellow_ids"]) == {a, x} for p in again]  # the board sees its lock
    assert (await api.call("POST", f"{base}/pairing/preview", BOARD, {})).json()["pairs_changed"] == 0

    assert (await lock(a, x, path="unlock")).status_code == 202
    gone = await lock(a, x, path="unlock")
    assert gone.status_code == 404, gone.text
    assert (await api.call("POST", f"{base}/exclusions", BOARD, {"fellow_a": a, "fellow_b": x})).status_code == 201
    ruled_out = await lock(a, x)
    assert ruled_out.status_code == 409 and "ruled this pair out" in ruled_out.json()["detail"], ruled_out.text
    stranger = await api.call("POST", f"{base}/exclusions", BOARD, {"fellow_a": a, "fellow_b": str(uuid.uuid4())})
    assert stranger.status_code == 422, stranger.text
    alone = await api.call("GET", f"{base}/fellows/{a}/alternatives", BOARD)
    assert x not in {alt["fellow_id"] for alt in alone.json()}

    # the pairs of the last run still hold the pair ruled out since: publishing waits for a re-run
    stale = await api.call("POST", f"{base}/pairs/publish", BOARD, {})
    assert stale.status_code == 409 and "exclusion" in stale.json()["detail"], stale.text
    assert (await api.call("POST", f"{base}/pairing", BOARD, {})).status_code == 202

    async def without_the_pair() -> list[dict[str, Any]] | None:
        now = await flows.paired(api, cohort, 6)
        return now if partner(now, a) != {x} else None

    await eventually(without_the_pair, timeout_s=60, what="the re-run to drop the excluded pair")
    await flows.publish(api, cohort)
    late = await api.call("PUT", f"{base}/weights", BOARD, WEIGHTS)
    assert late.status_code == 409 and "published" in late.json()["detail"], late.text

"""/openapi.json describes what the gateway serves: every route of the contract, with real bodies."""

from __future__ import annotations

from typing import Any

from tests.gateway.inprocess import gateway, settings

# DESIGN.md, "Gateway HTTP contract", plus the routes later issues added
CONTRACT = [
    ("get", "/api/health"),
    ("get", "/api/organisations"),
    ("post", "/api/organisations"),
    ("put", "/api/organisations/{organisation_id}"),
    ("post", "/api/organisations/{organisation_id}/retire"),
    ("post", "/api/cohorts"),
    ("get", "/api/cohorts"),
    ("get", "/api/cohorts/{cohort_id}"),
    ("post", "/api/cohorts/{cohort_id}/close"),
    ("get", "/api/cohorts/{cohort_id}/shortlisting"),
    ("get", "/api/cohorts/{cohort_id}/decisions"),
    ("post", "/api/applications"),
    ("get", "/api/applications"),
    ("get", "/api/applications/{application_id}"),
    ("post", "/api/applications/{application_id}/endorse"),
    ("post", "/api/applications/{application_id}/decision"),
    ("post", "/api/applications/{application_id}/withdraw"),
    ("post", "/api/cohorts/{cohort_id}/enrol"),
    ("post", "/api/cohorts/{cohort_id}/pairing"),
    ("get", "/api/cohorts/{cohort_id}/pairs"),
    ("post", "/api/cohorts/{cohort_id}/pairs/swap"),
    ("post", "/api/cohorts/{cohort_id}/pairs/publish"),
    ("post", "/api/cohorts/{cohort_id}/exclusions"),
    ("post", "/api/cohorts/{cohort_id}/pairs/lock"),
    ("post", "/api/cohorts/{cohort_id}/pairs/unlock"),
    ("put", "/api/cohorts/{cohort_id}/weights"),
    ("post", "/api/cohorts/{cohort_id}/pairing/preview"),
    ("get", "/api/cohorts/{cohort_id}/fellows/{fellow_id}/alternatives"),
    ("get", "/api/pairs/mine"),
    ("post", "/api/pairs/{pair_id}/visits"),
    ("post", "/api/visits/{visit_id}/complete"),
    ("post", "/api/visits/{visit_id}/move"),
    ("post", "/api/visits/{visit_id}/cancel"),
    ("post", "/api/pairs/{pair_id}/reflection"),
    ("get", "/api/pairs/{pair_id}/reflection"),
    ("post", "/api/pairs/{pair_id}/feedback"),
    ("put", "/api/pairs/{pair_id}/feedback/{feedback_id}"),
    ("get", "/api/pairs/{pair_id}/feedback"),
    ("get", "/api/fellows/{fellow_id}/feedback"),
    ("get", "/api/cohorts/{cohort_id}/report"),
    ("get", "/api/programmes/{programme}/report"),
    ("get", "/api/notifications"),
    ("get", "/api/notifications/preferences"),
    ("put", "/api/notifications/preferences"),
    ("post", "/api/notifications/staff-contacts"),
    ("get", "/api/notifications/staff-contacts"),
    ("delete", "/api/notifications/staff-contacts/{staff_id}"),
    ("get", "/api/notifications/deliveries/unconfirmed"),
    ("post", "/api/notifications/deliveries/{delivery_id}/resend"),
    ("post", "/api/privacy/export"),
    ("post", "/api/privacy/erase"),
    ("get", "/api/privacy/erasures/{erasure_id}"),
    ("get", "/api/opportunities"),
    ("get", "/api/opportunities/{opportunity_id}"),
    ("post", "/api/opportunities/{opportunity_id}/update"),
    ("get", "/api/collaboration/map"),
    ("get", "/api/cohorts/{cohort_id}/pairing"),
    ("post", "/api/pairs/{pair_id}/agreement"),
    ("post", "/api/pairs/{pair_id}/meetings"),
    ("get", "/api/pairs/{pair_id}/meetings"),
    ("post", "/api/pairs/{pair_id}/meetings/planned"),
    ("post", "/api/meetings/{meeting_id}/move"),
    ("post", "/api/meetings/{meeting_id}/cancel"),
    ("post", "/api/pairs/{pair_id}/check-ins"),
    ("post", "/api/pairs/{pair_id}/close"),
    ("get", "/api/cohorts/{cohort_id}/mentoring"),
    ("post", "/api/pairs/{pair_id}/project"),
    ("get", "/api/pairs/{pair_id}/project"),
    ("post", "/api/pairs/{pair_id}/project/milestones"),
    ("post", "/api/pairs/{pair_id}/project/milestones/{milestone_id}/done"),
    ("post", "/api/pairs/{pair_id}/project/presentation"),
    ("post", "/api/fellows/{fellow_id}/self-assessments"),
    ("get", "/api/fellows/{fellow_id}/self-assessments"),
]

BODIES = {
    ("post", "/api/cohorts"): {"programme", "name", "capacity", "pairing_mode", "opens_at", "auto_publish"},
    ("post", "/api/applications"): {"cohort_id", "email", "staff_group", "band", "statement", "equality", "conflicts"},
    ("post", "/api/applications/{application_id}/decision"): {"decision", "reason"},
    ("post", "/api/cohorts/{cohort_id}/pairs/swap"): {"fellow_a", "fellow_b"},
    ("post", "/api/cohorts/{cohort_id}/exclusions"): {"fellow_a", "fellow_b"},
    ("post", "/api/cohorts/{cohort_id}/pairs/lock"): {"fellow_ids"},
    ("put", "/api/cohorts/{cohort_id}/weights"): {"different_sector", "not_paired_before"},
    ("post", "/api/pairs/{pair_id}/visits"): {"host_fellow_id", "date"},
    ("post", "/api/visits/{visit_id}/move"): {"date"},
    ("post", "/api/pairs/{pair_id}/meetings/planned"): {"date", "starts_at", "minutes"},
    ("post", "/api/meetings/{meeting_id}/move"): {"date", "starts_at"},
    ("post", "/api/pairs/{pair_id}/reflection"): {"learnt", "take_back"},
    ("post", "/api/pairs/{pair_id}/feedback"): {"to_fellow_id", "strengths", "narrative", "collaboration_ideas"},
    ("put", "/api/notifications/preferences"): {"mute_reminders"},
    ("post", "/api/notifications/staff-contacts"): {"role", "subject", "name", "email", "organisation_id"},
    ("post", "/api/privacy/export"): {"email"},
    ("post", "/api/privacy/erase"): {"email"},
    ("post", "/api/opportunities/{opportunity_id}/update"): {"status", "next_step", "reason", "update"},
}


def body_schema(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    content = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    ref = content.get("$ref") or next(s["$ref"] for s in content.get("anyOf", []) if "$ref" in s)
    schema: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


async def test_openapi_lists_every_route_of_the_contract_and_nothing_unlisted() -> None:
    async with gateway(settings()) as client:
        spec = (await client.get("/openapi.json")).json()
    served = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert served == set(CONTRACT)


async def test_openapi_documents_the_real_bodies_and_the_readable_422() -> None:
    async with gateway(settings()) as client:
        spec = (await client.get("/openapi.json")).json()
        for (method, path), fields in BODIES.items():
            schema = body_schema(spec, method, path)
            assert fields <= set(schema["properties"]), (path, schema["properties"].keys())
            assert schema.get("additionalProperties") is False
        strengths = body_schema(spec, "post", "/api/pairs/{pair_id}/feedback")["properties"]["strengths"]
        assert len(strengths["propertyNames"]["enum"]) == 9
        problem = spec["paths"]["/api/cohorts"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
        assert problem["$ref"].endswith("/Problem")


async def test_bad_input_is_refused_with_one_readable_line_and_the_field_errors() -> None:
    async with gateway(settings(dev_mode=True)) as client:
        bad = await client.post("/api/dev/token", json={"sub": "x", "role": "queen", "extra": 1})
        assert bad.status_code == 422
        assert bad.json()["detail"].startswith("role: Input should be 'applicant', 'sponsor', 'board' or 'admin'")
        assert "extra: Extra inputs are not permitted" in bad.json()["detail"]
        assert [e["loc"] for e in bad.json()["errors"]] == [["body", "role"], ["body", "extra"]]
        token = (await client.post("/api/dev/token", json={"sub": "ada", "role": "admin"})).json()["token"]
        small = await client.post(
            "/api/cohorts",
            headers={"Authorization": f"Bearer {token}"},
            json={"programme": "P", "name": "N", "capacity": 1, "pairing_mode": "peer"},
        )
        assert small.status_code == 422
        assert small.json()["detail"] == "capacity: Input should be greater than or equal to 2"
        nul = await client.post(
            "/api/cohorts",
            headers={"Authorization": f"Bearer {token}"},
            json={"programme": "P\u0000", "name": "N", "capacity": 4, "pairing_mode": "peer"},
        )
        assert nul.status_code == 422 and "NUL" in nul.json()["detail"]


def test_the_pages_templates_and_static_files_ship_in_the_wheel() -> None:
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    gateway_patterns = patterns["services.gateway"]
    base = root / "services" / "gateway"
    templates = [p for p in (base / "templates").rglob("*") if p.is_file()]  # pages in folders too
    files = [p.relative_to(base).as_posix() for p in (*templates, *(base / "static").iterdir())]
    assert files and all(any(fnmatch.fnmatch(f, pattern) for pattern in gateway_patterns) for f in files), files

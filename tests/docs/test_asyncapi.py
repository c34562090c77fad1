"""The committed event documentation is exactly what the code generates."""

from __future__ import annotations

from pathlib import Path

from lbb.asyncapi import documents

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


def test_committed_asyncapi_and_schemas_match_the_code() -> None:
    generated = documents()
    committed = {str(p.relative_to(DOCS)): p.read_text() for p in DOCS.rglob("*.json")}
    stale = sorted(k for k in generated if committed.get(k) != generated[k])
    extra = sorted(set(committed) - set(generated))
    assert not stale and not extra, f"run `lbb asyncapi --out docs/asyncapi`; stale: {stale}, extra: {extra}"


def test_every_service_documents_the_events_it_publishes() -> None:
    generated = documents()
    assert '"pairing:PairAssigned"' in generated["pairing.asyncapi.json"]
    assert '"applications:FellowEnrolled"' in generated["applications.asyncapi.json"]
    assert '"lbb/FeedbackReleased/v1"' in generated["schemas/FeedbackReleased.json"]

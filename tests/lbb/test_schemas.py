"""`lbb schemas check`: a change that would break a subscriber of any committed revision fails, an
added optional field passes; and the real tree passes (so `make test` runs the check in CI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import pytest
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

from lbb.cli import app
from lbb.schemas import HISTORY, check, record


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Visit(_Base):
    """The committed revision the fixtures change: one of each kind of field."""

    visit_id: UUID
    host: UUID
    attempts: int
    mode: Literal["onsite", "remote"]
    fellow_ids: list[UUID]
    code: str
    note: str | None = None


def schema(model: type[BaseModel], *, topic: str = "lbb.pairing.v1", key: str = "visit_id") -> dict[str, Any]:
    """What lbb.asyncapi.event_schema makes of an event."""
    out = model.model_json_schema()
    out.update({"$id": "lbb/Visit/v1", "title": "Visit", "x-lbb-topic": topic, "x-lbb-key": key})
    return out


def history(tmp_path: Path, *revisions: dict[str, Any]) -> Path:
    for n, revision in enumerate(revisions, start=1):
        path = tmp_path / "Visit" / "v1" / f"{n}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(revision))
    return tmp_path


def without(field: str, model: type[BaseModel] = Visit) -> dict[str, Any]:
    """The schema of ``model`` as if ``field`` had been dropped from it."""
    out = schema(model)
    del out["properties"][field]
    out["required"] = [name for name in out["required"] if name != field]
    return out


class Renamed(Visit):
    host_fellow_id: UUID


class TypeChanged(Visit):
    attempts: str  # type: ignore[assignment]


class Nullable(Visit):
    host: UUID | None  # type: ignore[assignment]


class FormatChanged(Visit):
    host: str  # type: ignore[assignment]


class ItemsChanged(Visit):
    fellow_ids: list[int]  # type: ignore[assignment]


class NewRequired(Visit):
    room: str


class BecameRequired(Visit):
    note: str  # type: ignore[assignment]


class BecameOptional(Visit):
    code: str | None = None  # type: ignore[assignment]


class EnumNarrowed(Visit):
    mode: Literal["onsite"]  # type: ignore[assignment]


class EnumImposed(Visit):
    code: Literal["a", "b"]  # type: ignore[assignment]


BREAKING = [
    (without("host"), "host", "field removed"),
    (without("host", Renamed), "host", "field removed (or renamed)"),
    (schema(TypeChanged), "attempts", "type changed: integer → string"),
    (schema(Nullable), "host", "type changed: string → null | string"),
    (schema(FormatChanged), "host", "format changed: uuid → none"),
    (schema(ItemsChanged), "fellow_ids[]", "type changed: string → integer"),
    (schema(NewRequired), "room", "new required field"),
    (schema(BecameRequired), "note", "became required"),
    (schema(BecameOptional), "code", "no longer required"),
    (schema(EnumNarrowed), "mode", "enum narrowed: no longer allows remote"),
    (schema(EnumImposed), "code", "enum narrowed"),
    (schema(Visit, topic="lbb.pairing.v2"), "(event)", "topic changed"),
    (schema(Visit, key="host"), "(event)", "key changed"),
]


@pytest.mark.parametrize(("new", "field", "why"), BREAKING, ids=[b[2].split(":")[0] + "-" + b[1] for b in BREAKING])
def test_a_change_that_breaks_a_subscriber_fails_naming_the_event_field_and_why(
    tmp_path: Path, new: dict[str, Any], field: str, why: str
) -> None:
    report = check(history(tmp_path, schema(Visit)), {"Visit/v1": new})
    assert not report.ok
    assert [(p.event, p.version, p.field) for p in report.problems if why in p.why] == [("Visit", "v1/1", field)]
    with pytest.raises(ValueError, match="breaking"):
        record(tmp_path, {"Visit/v1": new})
    assert not (tmp_path / "Visit" / "v1" / "2.json").exists()


class OptionalAdded(Visit):
    room: str | None = Field(default=None, description="Added later: old events lack it")


class EnumWidened(Visit):
    mode: Literal["onsite", "remote", "hybrid"]  # type: ignore[assignment]


@pytest.mark.parametrize("model", [OptionalAdded, EnumWidened])
def test_an_added_optional_field_or_enum_value_passes_once_recorded(tmp_path: Path, model: type[BaseModel]) -> None:
    new = {"Visit/v1": schema(model)}
    report = check(history(tmp_path, schema(Visit)), new)
    assert not report.problems and report.unrecorded == ["Visit/v1"]  # compatible, but kept first
    assert record(tmp_path, new) == [tmp_path / "Visit" / "v1" / "2.json"]
    assert check(tmp_path, new).ok


def test_a_description_alone_is_no_new_revision(tmp_path: Path) -> None:
    described = schema(Visit)
    described["properties"]["code"]["description"] = "Words for people"
    assert check(history(tmp_path, schema(Visit)), {"Visit/v1": described}).ok


def test_every_committed_revision_is_checked_not_only_the_latest(tmp_path: Path) -> None:
    """Transitive: a revision committed by hand without `note` does not make dropping `note` safe for
    the subscribers of revision 1."""
    without_note = without("note")
    report = check(history(tmp_path, schema(Visit), without_note), {"Visit/v1": without_note})
    assert [(p.version, p.field) for p in report.problems] == [("v1/1", "note")]


def test_a_removed_event_type_fails(tmp_path: Path) -> None:
    report = check(history(tmp_path, schema(Visit)), {})
    assert [(p.event, p.field) for p in report.problems] == [("Visit", "(event)")]
    assert "event type removed" in report.problems[0].why


def test_the_committed_tree_is_compatible_and_recorded() -> None:
    """CI: the code's schemas against every committed revision in docs/schemas (`lbb schemas check`)."""
    result = CliRunner().invoke(app, ["schemas", "check"])
    assert result.exit_code == 0, result.output
    assert "schemas compatible" in result.output


def test_the_command_prints_which_event_which_field_and_why(tmp_path: Path) -> None:
    shutil.copytree(HISTORY, tmp_path, dirs_exist_ok=True)
    committed = tmp_path / "PairAssigned" / "v1" / "1.json"
    old = json.loads(committed.read_text())
    old["properties"]["room"] = {"type": "string"}  # as if the code had since dropped `room`
    committed.write_text(json.dumps(old))
    result = CliRunner().invoke(app, ["schemas", "check", "--history", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "PairAssigned" in result.output and "room" in result.output and "field removed" in result.output
    assert "v2" in result.output  # the way out: a new type and topic

"""Schema compatibility: may an event's schema as the code now generates it reach every subscriber?

Every version of an event's ``data`` schema that was ever committed is kept, under
``docs/schemas/<Event>/v<major>/<revision>.json`` (the major version is the one in the event's
``dataschema``, ``lbb/<Event>/v1``). ``check`` compares the generated schema with *each* of them, the
way a schema registry's BACKWARD_TRANSITIVE rule does, and reports what would break a subscriber that
was written against any of them:

- a field removed (a renamed field is a removed one and a new one),
- a field's type or format changed (``string`` → ``integer``, nullable or not, ``uuid`` → plain),
- a field that became required, a new required field, or a required field that became optional,
- an enum that lost a value (or a field that gained an enum),
- the event's topic or key changed, or the event type removed.

A new optional field passes, and so does a new enum value (subscribers ignore what they do not know:
docs/events.md, "Compatibility"). ``record`` adds the generated schema as the next revision when it
differs from the latest in anything but its titles and descriptions, and refuses a breaking one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbb.asyncapi import dump, event_schema
from shared.events import contract_events

HISTORY = Path(__file__).resolve().parents[1] / "docs" / "schemas"

# Words for people, not structure: a change to these alone is not a new revision.
_ANNOTATIONS = {"title", "description", "examples", "default", "$comment"}


@dataclass(frozen=True)
class Problem:
    """One way a new schema breaks subscribers of an old one."""

    event: str
    version: str  # the committed revision it breaks: "v1/2"
    field: str  # a path such as ``reasons[]`` or ``(event)``
    why: str


def _major(schema: dict[str, Any]) -> str:
    """``v1`` from ``$id`` ``lbb/PairAssigned/v1``."""
    return str(schema.get("$id", "")).rsplit("/", 1)[-1] or "v1"


def generated() -> dict[str, dict[str, Any]]:
    """``<Event>/v<major>`` → the schema the code generates now."""
    out = {}
    for event_type in contract_events():
        schema = event_schema(event_type)
        out[f"{event_type.type_name()}/{_major(schema)}"] = schema
    return out


def committed(history: Path = HISTORY) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """``<Event>/v<major>`` → every committed revision, oldest first."""
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for path in sorted(history.glob("*/v*/*.json")):
        key = f"{path.parent.parent.name}/{path.parent.name}"
        out.setdefault(key, []).append((int(path.stem), json.loads(path.read_text())))
    for revisions in out.values():
        revisions.sort(key=lambda r: r[0])
    return out


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (pydantic puts nested models under ``$defs``)."""
    seen = 0
    while "$ref" in node and seen < 32:
        path = str(node["$ref"]).removeprefix("#/").split("/")
        target: Any = root
        for part in path:
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = {**{k: v for k, v in node.items() if k != "$ref"}, **target}
        seen += 1
    return node


def _variants(node: dict[str, Any], root: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A schema as its alternatives by JSON type (``anyOf``/``oneOf`` of ``X | None`` → string, null)."""
    node = _resolve(node, root)
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives:
        out: dict[str, dict[str, Any]] = {}
        for alternative in alternatives:
            out.update(_variants(alternative, root))
        return out
    kind = node.get("type")
    if kind is None and "const" in node:
        kind = type(node["const"]).__name__.replace("str", "string").replace("int", "integer")
    kinds = kind if isinstance(kind, list) else [kind or "any"]
    return {str(k): node for k in kinds}


def _enum(node: dict[str, Any]) -> set[Any] | None:
    if "enum" in node:
        return set(node["enum"])
    if "const" in node:
        return {node["const"]}
    return None


def _compare(old: dict[str, Any], new: dict[str, Any], path: str, roots: tuple[Any, Any]) -> Iterator[tuple[str, str]]:
    """(field, why) for each way ``new`` breaks a reader of ``old``."""
    old_v, new_v = _variants(old, roots[0]), _variants(new, roots[1])
    if set(old_v) != set(new_v):
        yield path, f"type changed: {' | '.join(sorted(old_v))} → {' | '.join(sorted(new_v))}"
        return
    for kind, before in old_v.items():
        after = new_v[kind]
        if before.get("format") != after.get("format"):
            yield path, f"format changed: {before.get('format') or 'none'} → {after.get('format') or 'none'}"
        was, now = _enum(before), _enum(after)
        if now is not None and (was is None or was - now):
            lost = sorted(map(str, was - now)) if was is not None else ["any value"]
            yield path, f"enum narrowed: no longer allows {', '.join(lost)}"
        if kind == "array":
            yield from _compare(before.get("items", {}), after.get("items", {}), f"{path}[]", roots)
        if kind == "object":
            yield from _compare_object(before, after, path, roots)


def _compare_object(
    old: dict[str, Any], new: dict[str, Any], path: str, roots: tuple[Any, Any]
) -> Iterator[tuple[str, str]]:
    prefix = f"{path}." if path else ""
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    for name, before in old_props.items():
        field = prefix + name
        if name not in new_props:
            yield field, "field removed (or renamed): subscribers that read it break"
            continue
        if name in old_req and name not in new_req:
            yield field, "no longer required: subscribers that rely on it break when it is missing"
        elif name in new_req and name not in old_req:
            yield field, "became required: events published under the old schema lack it"
        yield from _compare(before, new_props[name], field, roots)
    for name in sorted(set(new_props) - set(old_props)):
        if name in new_req:
            yield prefix + name, "new required field: events published under the old schema lack it"


def breaking(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, why) for each way a subscriber written against ``old`` breaks on ``new``."""
    found = list(_compare_object(old, new, "", (old, new)))
    for key, what in (("x-lbb-topic", "topic"), ("x-lbb-key", "key")):
        if old.get(key) != new.get(key):
            found.append(("(event)", f"{what} changed: {old.get(key)} → {new.get(key)}"))
    return found


def _shape(node: Any) -> Any:
    """A schema without its annotations: what a revision is compared on."""
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items() if k not in _ANNOTATIONS}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return node


@dataclass(frozen=True)
class Report:
    problems: list[Problem]
    unrecorded: list[str]  # compatible changes not yet kept as a revision: `lbb schemas record`
    checked: int  # (event, committed revision) comparisons made

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unrecorded


def check(history: Path = HISTORY, current: dict[str, dict[str, Any]] | None = None) -> Report:
    """Compare each generated schema with every committed revision of its event and major version."""
    current = generated() if current is None else current
    kept = committed(history)
    problems: list[Problem] = []
    unrecorded: list[str] = []
    checked = 0
    for key, revisions in kept.items():
        event = key.split("/")[0]
        if key not in current:
            problems.append(
                Problem(
                    event,
                    f"{key.split('/')[1]}/{revisions[-1][0]}",
                    "(event)",
                    "event type removed: "
                    "subscribers of it get nothing more (retiring a type is deleting its history, reviewed)",
                )
            )
            continue
        for revision, schema in revisions:
            checked += 1
            for field, why in breaking(schema, current[key]):
                problems.append(Problem(event, f"{key.split('/')[1]}/{revision}", field, why))
    for key, schema in current.items():
        revisions = kept.get(key, [])
        if not revisions or _shape(revisions[-1][1]) != _shape(schema):
            unrecorded.append(key)
    return Report(problems, unrecorded, checked)


def record(history: Path = HISTORY, current: dict[str, dict[str, Any]] | None = None) -> list[Path]:
    """Write each compatible, changed schema as its event's next revision; refuse if any change breaks."""
    current = generated() if current is None else current
    report = check(history, current)
    if report.problems:
        raise ValueError(f"{len(report.problems)} breaking change(s): nothing recorded")
    written = []
    kept = committed(history)
    for key in report.unrecorded:
        revisions = kept.get(key, [])
        path = history / key / f"{(revisions[-1][0] if revisions else 0) + 1}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(current[key]))
        written.append(path)
    return written

"""Generate the event documentation from the code: AsyncAPI per service, JSON Schema per event."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from shared.events import Event, contract_events
from shared.registry import SERVICES


def documents() -> dict[str, str]:
    """File name (relative to the output folder) → content, deterministic."""
    out: dict[str, str] = {}
    for service in SERVICES:
        module = importlib.import_module(service.module)
        spec = module.app.schema.to_specification().to_jsonable()
        # The document describes the contract, not one deployment's broker address.
        spec["servers"] = {
            "production": {"host": "kafka:9092", "protocol": "kafka", "protocolVersion": "auto", "pathname": ""}
        }
        out[f"{service.name}.asyncapi.json"] = json.dumps(spec, indent=2, sort_keys=True) + "\n"
    for event_type in contract_events():
        out[f"schemas/{event_type.type_name()}.json"] = dump(event_schema(event_type))
    return out


def event_schema(event_type: type[Event]) -> dict[str, Any]:
    """The JSON Schema of an event's ``data``, with its ``dataschema`` as ``$id``, its topic and key."""
    schema = event_type.model_json_schema()
    schema["$id"] = event_type.dataschema()
    schema["x-lbb-topic"] = event_type.topic
    schema["x-lbb-key"] = event_type.key_field
    return schema


def dump(schema: dict[str, Any]) -> str:
    """A schema as committed: sorted keys, two-space indent, a final newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(out_dir: Path) -> list[Path]:
    written = []
    for relative, content in documents().items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    return written

"""``lbb privacy export``: everything the system holds about one person, as JSON and a readable page.
``lbb privacy erase``: erase them in every service.

The gateway's ``POST /api/privacy/export`` (admins) assembles the export, each service answering for
its own schema; this writes ``export.json`` and ``index.html`` (one table per service and table) to a
folder. ``POST /api/privacy/erase`` starts an erasure; ``GET /api/privacy/erasures/{id}`` follows it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment, select_autoescape

from lbb.gateway import ask, bearer

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Subject access export</title>
<style>body{font-family:Arial,sans-serif;margin:2rem;color:#212b32} table{border-collapse:collapse;margin:0 0 1.5rem}
th,td{border:1px solid #d8dde0;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#f0f4f5}</style></head>
<body><h1>What Beyond Boundaries holds about {{ data.email }}</h1>
<p>Generated {{ data.generated_at }}. Applications: {{ data.person.application_ids | join(", ") or "none" }}.
Token subjects: {{ data.person.subjects | join(", ") or "none" }}.</p>
{% for service, tables in data.services.items() %}<h2>The {{ service }} service</h2>
{% for name, rows in tables.items() %}<h3>{{ name }} ({{ rows | length }})</h3>
{% if rows %}<table><thead><tr>{% for key in rows[0] %}<th scope="col">{{ key }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr>{% for value in row.values() %}<td>{{ value }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% else %}<p>Nothing.</p>{% endif %}
{% endfor %}{% if not tables %}<p>Nothing.</p>{% endif %}{% endfor %}
</body></html>
"""


def fetch(gateway_url: str, email: str, token: str | None = None, timeout_s: float = 60) -> dict[str, Any]:
    """The export from the gateway; without a token, a dev-mode admin token is asked for."""
    return ask(gateway_url, "POST", "/api/privacy/export", ("lbb-privacy", "admin"), token, {"email": email}, timeout_s)


def erase(
    gateway_url: str, email: str, token: str | None = None, wait_s: float = 60, timeout_s: float = 30
) -> dict[str, Any]:
    """Ask for the erasure, then follow it until every service has confirmed or ``wait_s`` passed;
    its last status."""
    try:
        with httpx.Client(base_url=gateway_url, timeout=timeout_s) as client:
            headers = bearer(client, token, "lbb-privacy", "admin")
            answer = client.post("/api/privacy/erase", json={"email": email}, headers=headers)
            if answer.status_code != 202:
                raise RuntimeError(f"the gateway answered {answer.status_code}: {answer.text[:500]}")
            erasure_id = answer.json()["id"]
            deadline = time.monotonic() + wait_s
            while True:
                answer = client.get(f"/api/privacy/erasures/{erasure_id}", headers=headers)
                if answer.status_code != 200:
                    raise RuntimeError(f"the gateway answered {answer.status_code}: {answer.text[:500]}")
                status: dict[str, Any] = answer.json()
                if status["complete"] or time.monotonic() >= deadline:
                    return status
                time.sleep(0.5)  # polling a person's erasure, by hand: no event to wait on from here
    except httpx.HTTPError as exc:
        raise RuntimeError(f"could not reach the gateway at {gateway_url}: {exc.__class__.__name__}") from exc


def write(data: dict[str, Any], out: Path) -> Path:
    """``export.json`` and ``index.html`` in ``out``; the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "export.json").write_text(json.dumps(data, indent=2, sort_keys=True))
    page = out / "index.html"
    page.write_text(Environment(autoescape=select_autoescape(default=True)).from_string(PAGE).render(data=data))
    return page

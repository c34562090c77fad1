"""``lbb deliveries``: the e-mails whose outcome is unknown, and sending one again on an operator's word.

A delivery is ``unconfirmed`` when its sender stopped while handing it to the SMTP server: the server
may have it, so it is never sent again by itself (at most once). The operator asks the mail system
by its Message-ID (``<delivery id>@<message id domain>``) and, if it never arrived, resends it: it
goes out with the same Message-ID, so a mail system that did get it can tell. Both go through the
gateway's admin routes (``GET /api/notifications/deliveries/unconfirmed``, ``POST
/api/notifications/deliveries/{id}/resend``), like every other ``lbb`` command.
"""

from __future__ import annotations

from typing import Any

import httpx
from rich.table import Table

from lbb.gateway import bearer

COLUMNS = (("id", "delivery"), ("template", "template"), ("attempts", "attempts"), ("last_attempt_at", "last tried"))


def _ask(gateway_url: str, token: str | None, method: str, path: str, timeout_s: float) -> httpx.Response:
    try:
        with httpx.Client(base_url=gateway_url, timeout=timeout_s) as client:
            headers = bearer(client, token, "lbb-deliveries", "admin")
            return client.request(method, path, headers=headers)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"could not reach the gateway at {gateway_url}: {exc.__class__.__name__}") from exc


def unconfirmed(gateway_url: str, token: str | None = None, timeout_s: float = 30) -> list[dict[str, Any]]:
    """The unconfirmed deliveries, oldest first; without a token, a dev-mode admin token is asked for."""
    answer = _ask(gateway_url, token, "GET", "/api/notifications/deliveries/unconfirmed", timeout_s)
    if answer.status_code != 200:
        raise RuntimeError(f"the gateway answered {answer.status_code}: {answer.text[:500]}")
    rows: list[dict[str, Any]] = answer.json()
    return rows


def resend(gateway_url: str, delivery_id: str, token: str | None = None, timeout_s: float = 30) -> None:
    """Put an unconfirmed delivery back in the queue (the service answers 409 for any other state)."""
    answer = _ask(gateway_url, token, "POST", f"/api/notifications/deliveries/{delivery_id}/resend", timeout_s)
    if answer.status_code != 202:
        detail = (
            answer.json().get("detail")
            if answer.headers.get("content-type", "").startswith("application/json")
            else None
        )
        raise RuntimeError(f"the gateway answered {answer.status_code}: {detail or answer.text[:500]}")


def table(rows: list[dict[str, Any]]) -> Table:
    """The rows as a rich table: id, template, attempts and when, nothing personal."""
    out = Table(title=f"{len(rows)} unconfirmed deliveries", title_justify="left")
    for _, heading in COLUMNS:
        out.add_column(heading, justify="right" if heading == "attempts" else "left")
    for row in rows:
        out.add_row(*(str(row.get(key) or "") for key, _ in COLUMNS))
    return out

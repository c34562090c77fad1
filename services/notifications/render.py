"""Renders a message's plain-text and HTML e-mail from the Jinja2 templates in ``templates/``.

Each template ``<name>`` has ``<name>.txt.j2`` and ``<name>.html.j2`` (HTML auto-escaped, text not).
Undefined variables are errors, so a template that asks for something its message lacks fails
loudly in its rendering test, not silently in someone's inbox.
"""

from __future__ import annotations

import uuid
from binascii import b2a_qp
from dataclasses import dataclass, field
from datetime import date, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Person:
    """What an e-mail may say about a person: from the contact projection or the staff directory."""

    name: str
    job_title: str = ""
    organisation_name: str = ""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Page:
    """Everything a template sees."""

    title: str
    recipient: Person
    facts: dict[str, Any] = field(default_factory=dict)
    about: Person | None = None
    partners: list[Person] = field(default_factory=list)
    inbox_url: str = "http://127.0.0.1:8000/api/notifications"
    site_url: str = "http://127.0.0.1:8000"  # where the staff pages are (links in the e-mails)


def _day(value: str | date | datetime) -> str:
    """7 December 2026."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    return f"{value.day} {value:%B %Y}"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=lambda name: bool(name and name.endswith(".html.j2")),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
environment.filters["day"] = _day


def template_names() -> list[str]:
    """Every template of the folder (a name has both a .txt.j2 and an .html.j2 file)."""
    return sorted(p.name.removesuffix(".txt.j2") for p in TEMPLATES_DIR.glob("*.txt.j2") if not p.name.startswith("_"))


def render(template: str, page: Page) -> Rendered:
    values = {
        "title": page.title,
        "recipient": page.recipient,
        "facts": page.facts,
        "about": page.about,
        "partners": page.partners,
        "inbox_url": page.inbox_url,
        "site_url": page.site_url,
    }
    text = environment.get_template(f"{template}.txt.j2").render(values)
    html = environment.get_template(f"{template}.html.j2").render(values)
    return Rendered(subject=page.title, text=_tidy(text), html=html)


def _tidy(text: str) -> str:
    """At most one blank line in a row, so optional blocks leave no holes."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


def email(
    rendered: Rendered,
    *,
    sender: str | tuple[str, str],
    to: str | tuple[str, str],
    message_id: str,
    when: datetime,
    headers: dict[str, str] | None = None,
    calendar: list[str] | None = None,
) -> bytes:
    """A multipart/alternative e-mail (text first, HTML preferred by clients that can), as bytes; with
    ``calendar`` (the lines of a ``text/calendar`` part, ``invitation.mime_part``) a third alternative
    that calendar programs show as an invitation (iMIP, RFC 6047).

    Written out directly rather than through ``email.message.EmailMessage``, whose header parsing
    cost more than everything else about a message: the layout is fixed, and what varies goes
    through the standard library's encoders (RFC 2047 for non-ASCII header text, quoted-printable
    for the bodies). ``sender`` and ``to`` are an address, or (display name, address).
    """
    boundary = f"=_lbb_{uuid.uuid4().hex}"
    lines = [
        f"From: {_address(sender)}",
        f"To: {_address(to)}",
        f"Subject: {_text_header('Subject', rendered.subject)}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: {_one_line(message_id)}",
        "Auto-Submitted: auto-generated",
        *(f"{name}: {_text_header(name, value)}" for name, value in (headers or {}).items()),
        "MIME-Version: 1.0",
        "Content-Type: multipart/alternative;",
        f' boundary="{boundary}"',
        "",
        f"--{boundary}",
        *_part("plain", rendered.text),
        f"--{boundary}",
        *_part("html", rendered.html),
        *([f"--{boundary}", *calendar] if calendar else []),
        f"--{boundary}--",
        "",
    ]
    return "\n".join(lines).encode("ascii")


def _one_line(value: str) -> str:
    """Header text on one line: a line break in a value must never start a header of its own."""
    return " ".join(value.split()) if ("\n" in value or "\r" in value) else value


def _text_header(name: str, value: str) -> str:
    value = _one_line(value)
    if value.isascii() and len(name) + len(value) < 76:
        return value
    return Header(value, "us-ascii" if value.isascii() else "utf-8", header_name=name).encode(linesep="\n")


def _address(value: str | tuple[str, str]) -> str:
    name, address = value if isinstance(value, tuple) else parseaddr(_one_line(value))
    if not address:
        raise ValueError(f"not an e-mail address: {value!r}")
    return formataddr((_one_line(name), address), charset="utf-8")


def _part(subtype: str, content: str) -> list[str]:
    body = b2a_qp(content.encode("utf-8"), istext=True).decode("ascii")
    return [
        f'Content-Type: text/{subtype}; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        body if body.endswith("\n") else body + "\n",
    ]


def delivery_message_id(delivery_id: Any, domain: str) -> str:
    """The same Message-ID on every attempt of one delivery, so mail systems can drop a repeat."""
    return f"<{delivery_id}@{domain}>"

"""Every e-mail template renders, in plain text and HTML, with the facts its message carries."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from markupsafe import escape

from services.notifications import domain
from services.notifications.render import Page, Person, delivery_message_id, email, render, template_names

ADA = Person("Ada Lovelace", "Head of Nursing", "Bedfordshire Hospitals NHS Foundation Trust")
BOB = Person("Bob O'Neil", "Housing Manager", "Luton Borough Council & Partners")
SAM = Person("Sam Sponsor", "", "Bedfordshire Hospitals NHS Foundation Trust")

APPLICATION = {"application_id": "6f1c1c9e-0000-4000-8000-000000000001", "organisation_code": "RC9"}

# template → (what the page holds, what the plain text must say)
SAMPLES: dict[str, tuple[Page, list[str]]] = {
    "application_submitted": (Page("t", ADA, APPLICATION), ["Thank you for applying", "sponsor"]),
    "endorsement_requested": (
        Page("t", SAM, APPLICATION, about=ADA),
        ["Ada Lovelace (Head of Nursing, Bedfordshire Hospitals", APPLICATION["application_id"]],
    ),
    "application_endorsed": (Page("t", ADA, APPLICATION), ["put you forward", "Programme Board"]),
    "decision_requested": (
        Page("t", Person("Bea Board"), APPLICATION, about=ADA),
        ["awaits the Programme Board's decision", "Ada Lovelace, Head of Nursing", "(RC9)"],
    ),
    "application_shortlisted": (Page("t", ADA), ["shortlisted you"]),
    "application_waitlisted": (Page("t", ADA), ["waiting list"]),
    "application_declined": (Page("t", ADA), ["not been able to offer you a place"]),
    "application_withdrawn": (Page("t", ADA), ["withdrawn"]),
    "waitlist_promoted": (Page("t", ADA), ["moved from the waiting list onto the programme"]),
    "collaboration_check_in": (
        Page("t", Person("Sam Sponsor"), {"opportunity_id": "opp-1", "month": 6, "status": "exploring"}),
        ["6 months ago", "exploring", "opp-1"],
    ),
    "fellow_enrolled": (Page("t", ADA), ["you are now a fellow"]),
    "pair_assigned": (
        Page("t", ADA, {"partner_ids": ["x"], "reasons": ["different sector", "different place"]}, partners=[BOB]),
        [
            "introduce your partner:",
            "Bob O'Neil, Housing Manager at Luton Borough Council & Partners",
            "Why you were paired: different sector; different place.",
        ],
    ),
    "visit_scheduled": (
        Page("t", ADA, {"date": "2027-03-04", "hosting": False, "about_id": "x"}, about=BOB),
        ["Bob O'Neil (Luton Borough Council & Partners) hosts your Leadership Exchange visit on 4 March 2027"],
    ),
    "visit_moved": (
        Page("t", ADA, {"date": "2027-03-11", "hosting": False, "about_id": "x"}, about=BOB),
        ["visit Bob O'Neil (Luton Borough Council & Partners) hosts has moved to 11 March 2027", "replaces"],
    ),
    "visit_cancelled": (
        Page("t", ADA, {"date": "2027-03-11", "hosting": True, "about_id": "x"}, about=BOB),
        ["visit you were to host on 11 March 2027 is cancelled", "schedule the visit again"],
    ),
    "meeting_planned": (
        Page("t", ADA, {"date": "2027-03-11", "starts_at": "10:30", "partner_ids": ["x"]}, partners=[BOB]),
        ["mentoring meeting with Bob O'Neil is in the diary: 11 March 2027 at 10:30", "invitation"],
    ),
    "meeting_moved": (
        Page("t", ADA, {"date": "2027-03-12", "starts_at": "09:00", "partner_ids": ["x"]}, partners=[BOB]),
        ["meeting with Bob O'Neil has moved to 12 March 2027 at 09:00", "replaces"],
    ),
    "meeting_cancelled": (
        Page("t", ADA, {"date": "2027-03-12", "starts_at": "09:00", "partner_ids": ["x"]}, partners=[BOB]),
        ["meeting with Bob O'Neil on 12 March 2027 at 09:00 is cancelled"],
    ),
    "reflection_shared": (
        Page("t", BOB, {"about_id": "x", "pair_id": "p"}, about=ADA),
        ["Ada Lovelace (Bedfordshire Hospitals NHS Foundation Trust), the learner you hosted, has thanked you"],
    ),
    "reminder_mentoring_check_in": (
        Page("t", ADA, {"month": 3, "partner_ids": ["x"]}, partners=[BOB]),
        ["3 months into your mentoring with Bob O'Neil: is it working?", "stays private", "turn off reminders"],
    ),
    "reminder_milestone_due": (
        Page("t", ADA, {"due": "2027-04-08", "partner_ids": ["x"]}, partners=[BOB]),
        ["project you share with Bob O'Neil is due by 8 April 2027", "turn off reminders"],
    ),
    "exchange_completed": (Page("t", ADA, partners=[BOB]), ["give Bob O'Neil feedback"]),
    "feedback_requested": (
        Page("t", ADA, {"due_at": "2027-05-01T12:00:00+00:00", "about_id": "x"}, about=BOB),
        ["Please give Bob O'Neil feedback", "by 1 May 2027"],
    ),
    "feedback_released": (Page("t", ADA, {"fellow_id": "x"}), ["feedback on your leadership strengths is ready"]),
    "reminder_schedule_visit": (
        Page("t", ADA, {"partner_ids": ["x"]}, partners=[BOB]),
        ["not yet scheduled the Leadership Exchange visit you host for", "Bob O'Neil", "turn off reminders"],
    ),
    "reminder_complete_visit": (
        Page("t", ADA, {"date": "2027-03-04", "about_id": "x"}, about=BOB),
        ["hosted by Bob O'Neil on 4 March 2027 has not", "turn off reminders"],
    ),
    "reminder_feedback_due": (
        Page("t", ADA, {"due_at": "2027-05-01T12:00:00+00:00", "about_id": "x"}, about=BOB),
        ["your feedback for Bob O'Neil is due by 1 May 2027", "turn off reminders"],
    ),
}


def test_every_template_in_the_folder_has_a_rendering_sample_and_a_message_definition() -> None:
    assert sorted(SAMPLES) == template_names()
    assert sorted(domain.TEMPLATES) == template_names()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_template_renders_plain_text_and_html_that_say_what_the_message_is_about(name: str) -> None:
    page, phrases = SAMPLES[name]
    title = domain.TEMPLATES[name].title
    rendered = render(name, Page(title, page.recipient, page.facts, page.about, page.partners))

    assert rendered.subject == title
    assert rendered.text.startswith(f"Dear {page.recipient.name},\n")
    flat_text = " ".join(rendered.text.split())
    for phrase in phrases:
        assert phrase in flat_text, f"{name}.txt.j2 lacks {phrase!r}:\n{rendered.text}"
    assert "\n\n\n" not in rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>") and f"<title>{escape(title)}</title>" in rendered.html
    shown = " ".join(html.unescape(re.sub(r"<[^>]+>", "", rendered.html)).split())
    for phrase in phrases:
        assert phrase in shown, f"{name}.html.j2 lacks {phrase!r}:\n{rendered.html}"


def test_html_escapes_what_people_typed_but_plain_text_keeps_it_verbatim() -> None:
    evil = Person("<script>alert(1)</script>", "Lead & Co", "Org")
    rendered = render("pair_assigned", Page("Meet", ADA, {"reasons": []}, partners=[evil]))
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>alert(1)</script>, Lead & Co at Org" in rendered.text
    assert "Why you were paired" not in rendered.text


def test_a_trio_introduces_both_partners() -> None:
    carol = Person("Carol", "Paramedic", "East of England Ambulance Service")
    rendered = render("pair_assigned", Page("Meet", ADA, {"reasons": []}, partners=[BOB, carol]))
    assert "introduce your partners:" in rendered.text
    assert "Carol, Paramedic at East of England Ambulance Service" in rendered.text


def test_a_template_missing_a_fact_fails_instead_of_sending_a_hole() -> None:
    with pytest.raises(Exception, match="due_at"):
        render("feedback_requested", Page("t", ADA, {}, about=BOB))


def test_the_email_is_multipart_text_and_html_with_a_stable_message_id() -> None:
    rendered = render("application_shortlisted", Page("You are shortlisted", ADA))
    message_id = delivery_message_id("d-1", "lbb.example")
    message = email(
        rendered, sender="lbb@example.nhs.uk", to="ada@example.nhs.uk", message_id=message_id, when=datetime.now(UTC)
    )
    parsed = message_from_bytes(message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Message-ID"] == "<d-1@lbb.example>" == delivery_message_id("d-1", "lbb.example")
    assert parsed["Subject"] == "You are shortlisted"
    assert parsed.get_content_type() == "multipart/alternative"
    text_part, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text_part is not None and "shortlisted you" in text_part.get_content()
    assert html_part is not None and "<h1" in html_part.get_content()


def _parsed(message: bytes) -> EmailMessage:
    parsed = message_from_bytes(message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects and all(not part.defects for part in parsed.walk())
    return parsed


def test_names_and_subjects_beyond_ascii_and_line_length_arrive_intact() -> None:
    zoe = Person("Zoë Ó Dálaigh, RN", "Ward Sister", "Trust")
    title = "Your application — a long subject line that goes on " + "and on " * 20 + "ü"
    rendered = render("application_submitted", Page(title, zoe, APPLICATION))
    message = email(
        rendered,
        sender="Beyond Boundaries <no-reply@example.nhs.uk>",
        to=(zoe.name, "zoe@example.nhs.uk"),
        message_id="<d-2@lbb.example>",
        when=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
        headers={"X-Lbb-Delivery": "d-2"},
    )
    assert message.isascii() and max(len(line) for line in message.split(b"\n")) <= 78
    parsed = _parsed(message)
    assert parsed["To"].addresses[0].display_name == "Zoë Ó Dálaigh, RN"  # one address, not two at the comma
    assert parsed["To"].addresses[0].addr_spec == "zoe@example.nhs.uk"
    assert parsed["From"].addresses[0].display_name == "Beyond Boundaries"
    assert parsed["Subject"] == title
    assert parsed["Date"].datetime == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert parsed["X-Lbb-Delivery"] == "d-2" and parsed["Auto-Submitted"] == "auto-generated"
    text_part, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text_part is not None and text_part.get_content() == rendered.text
    assert html_part is not None and html_part.get_content() == rendered.html
    assert "Zoë Ó Dálaigh, RN" in text_part.get_content()


def test_a_line_break_in_a_header_value_cannot_start_a_header_of_its_own() -> None:
    rendered = render("application_shortlisted", Page("Shortlisted\r\nBcc: eve@example.com", ADA))
    message = email(
        rendered,
        sender="lbb@example.nhs.uk",
        to=("Ada\nBcc: eve@example.com", "ada@example.nhs.uk"),
        message_id="<d-3@lbb.example>",
        when=datetime.now(UTC),
    )
    parsed = _parsed(message)
    assert parsed["Bcc"] is None and "eve@example.com" not in [a.addr_spec for a in parsed["To"].addresses]
    assert parsed["Subject"] == "Shortlisted Bcc: eve@example.com"

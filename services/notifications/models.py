"""Tables of the notifications service, all in the ``notifications`` schema."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Index, Integer, String, Text, Time, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Json, schema_metadata
from shared.inbox import Inbox
from shared.outbox import Outbox

SCHEMA = "notifications"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


metadata = Base.metadata
outbox, inbox = Outbox(metadata, service="notifications"), Inbox(metadata)


class Contact(Base):
    """Projection of ContactRecorded (internal topic): how to reach a person."""

    __tablename__ = "contact"

    person_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    job_title: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[uuid.UUID]
    organisation_name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PairMember(Base):
    """Projection of PairAssigned: who is in which pair, to notify pair-level events."""

    __tablename__ = "pair_member"

    pair_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    person_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class Delivery(Base):
    """One message to one person about one event (or reminder): recorded once per (event, recipient).

    Life cycle: ``pending`` → ``sending`` (claimed, attempt counted, committed before any SMTP
    traffic) → ``handing_over`` (committed just before the SMTP DATA command: from here on the
    server may have the message) → ``sent`` | back to ``pending`` (retry later) | ``failed``.
    ``unconfirmed``: the sender died while handing over; never sent again (at most once).
    ``muted``: a non-essential message the person asked not to be e-mailed (in-app only).
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient_id"),
        Index("ix_delivery_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_delivery_in_flight", "claimed_at", postgresql_where=text("status IN ('sending', 'handing_over')")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(100))
    recipient_id: Mapped[uuid.UUID] = mapped_column(index=True)
    template: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    recipient_kind: Mapped[str] = mapped_column(String(10), server_default="person")
    essential: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    email: Mapped[str | None] = mapped_column(String(320))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    # With tracing on: the W3C trace context it was recorded in, which the SMTP span continues.
    traceparent: Mapped[str | None] = mapped_column(String(55))
    tracestate: Mapped[str | None] = mapped_column(String(512))


class StaffContact(Base):
    """The notifications-owned directory of people who are not applicants: sponsors and board members.

    Registered by an admin (no other service knows their e-mail addresses). A sponsor acts for one
    organisation; a board member for the whole programme (``organisation_id`` empty).
    """

    __tablename__ = "staff_contact"
    __table_args__ = (UniqueConstraint("role", "subject", "organisation_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    role: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    organisation_id: Mapped[uuid.UUID | None]
    # organisation_id, or "" for the board: part of the unique key (NULLs never collide in SQL)
    organisation_key: Mapped[str] = mapped_column(String(36))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Preference(Base):
    """What a person (token subject) wants: muting non-essential reminders."""

    __tablename__ = "preference"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    mute_reminders: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Reminder(Base):
    """A reminder that fires at ``due_at`` unless what it asks for happened first.

    One row per (kind, subject, recipient): the id is derived from that key and becomes the
    ``event_id`` of the delivery it fires, so neither two instances nor a restart can remind twice.
    """

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", "recipient_id"),
        Index("ix_reminder_due", "due_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[uuid.UUID]
    recipient_id: Mapped[uuid.UUID]
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    context: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CalendarEntry(Base):
    """The calendar entry of a visit or a mentoring meeting as the invitations sent so far stand: its
    revision (RFC 5545 ``SEQUENCE``: 0 when put in the diary, one more at each move or the cancellation)
    and when it is. One pair's events arrive in order (keyed by the pair), so each update goes out with a
    higher SEQUENCE."""

    __tablename__ = "calendar_entry"

    uid: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the visit's or the meeting's id
    sequence: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[time | None] = mapped_column(Time)  # a meeting's local start; a visit lasts the day
    minutes: Mapped[int | None] = mapped_column(Integer)
    cancelled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

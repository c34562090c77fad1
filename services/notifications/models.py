"""Tables of the notifications service, all in the ``notifications`` schema."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import schema_metadata
from shared.inbox import Inbox
from shared.outbox import Outbox

SCHEMA = "notifications"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


metadata = Base.metadata
outbox = Outbox(metadata, service="notifications")
inbox = Inbox(metadata)

Json = JSON().with_variant(JSONB(), "postgresql")


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
    """One message to one person about one event: recorded once per (event, recipient)."""

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("event_id", "recipient_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(100))
    recipient_id: Mapped[uuid.UUID] = mapped_column(index=True)
    template: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    context: Mapped[dict[str, str]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

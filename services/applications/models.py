"""Tables of the applications service, all in the ``applications`` schema."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, false, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Json, schema_metadata
from shared.inbox import Inbox
from shared.outbox import Outbox

SCHEMA = "applications"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


metadata = Base.metadata
# tombstones: erasure forgets a person's contact on the compacted contacts topic
outbox, inbox = Outbox(metadata, service="applications", tombstones=True), Inbox(metadata)


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(40))
    place: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # takes no new applications


class Programme(Base):
    __tablename__ = "programme"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Cohort(Base):
    __tablename__ = "cohort"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("programme.id"))
    name: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer)
    pairing_mode: Mapped[str] = mapped_column(String(20))
    opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    exchange_starts: Mapped[date] = mapped_column(Date)
    exchange_ends: Mapped[date] = mapped_column(Date)
    auto_publish: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str] = mapped_column(String(20), server_default="exchange")  # shared/programmes.py
    reciprocal: Mapped[bool] = mapped_column(server_default=false())
    auto_enrol: Mapped[bool] = mapped_column(server_default=false())
    # How many places one organisation may hold in the cohort, where the programme caps them (null: no cap).
    places_per_organisation: Mapped[int | None] = mapped_column(Integer)
    # When pairing published the cohort's pairs (its first PairAssigned): no pairing round after that.
    pairs_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Application(Base):
    __tablename__ = "application"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    cohort_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cohort.id"), index=True)
    owner_sub: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    job_title: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    staff_group: Mapped[str] = mapped_column(String(20))
    band: Mapped[str] = mapped_column(String(20))
    statement: Mapped[str] = mapped_column(Text)
    availability: Mapped[list[str]] = mapped_column(Json)
    interests: Mapped[list[str]] = mapped_column(Json)
    equality: Mapped[dict[str, Any] | None] = mapped_column(Json)
    role: Mapped[str] = mapped_column(String(10), server_default="fellow")  # must suit the cohort's kind
    capacity: Mapped[int] = mapped_column(Integer, server_default="1")  # a sharer's or mentor's places
    offer: Mapped[dict[str, Any] | None] = mapped_column(Json)  # a sharer's: summary and tags
    wants: Mapped[list[str]] = mapped_column(Json, server_default=text("'[]'"))  # a learner's
    state: Mapped[str] = mapped_column(String(20), index=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when the personal details were erased or anonymised (retention, or the person's request).
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# One open application per person and cohort (by e-mail, whatever the letter case, and by token
# subject); a withdrawn or declined one does not count, so its applicant may apply again (migration 0005).
OPEN = text("state IN ('submitted', 'endorsed', 'shortlisted', 'waitlisted', 'enrolled')")  # domain.OPEN_STATES
Index(
    "uq_application_open_email",
    Application.cohort_id,
    func.lower(Application.email),
    unique=True,
    postgresql_where=OPEN,
)
Index("uq_application_open_owner", Application.cohort_id, Application.owner_sub, unique=True, postgresql_where=OPEN)


class Decision(Base):
    """Every state change of an application: who, when, why. Board decisions carry a reason."""

    __tablename__ = "decision"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("application.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Erasure(Base):
    """An admin's request to erase a person: which applications (and fellows) it covers. The person
    is known afterwards by their pseudonym alone (``person_id``, as FellowEnrolled's), so asking again
    with the same e-mail address finds this request once the address itself is gone."""

    __tablename__ = "erasure"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    person_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    application_ids: Mapped[list[str]] = mapped_column(Json)
    fellow_ids: Mapped[list[str]] = mapped_column(Json)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ErasureConfirmation(Base):
    """A service confirmed it erased the person of an erasure (PersonErased)."""

    __tablename__ = "erasure_confirmation"

    erasure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("erasure.id"), primary_key=True)
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

"""Tables of the pairing service, all in the ``pairing`` schema."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, String, Text, Time, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.applicants import Applicants
from shared.db import Json, schema_metadata
from shared.inbox import Inbox
from shared.outbox import Outbox

SCHEMA = "pairing"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


metadata = Base.metadata
outbox, inbox = Outbox(metadata, service="pairing"), Inbox(metadata)
# which subject made which application, its interests (ContactRecorded: pairing scores shared ones) and
# the people (person pseudonyms) it declared it must never be matched with
applicants = Applicants(metadata, interests=True, conflicts=True)


class Fellow(Base):
    """Projection of FellowEnrolled / ApplicationWithdrawn."""

    __tablename__ = "fellow"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    cohort_id: Mapped[uuid.UUID] = mapped_column(index=True)
    organisation_id: Mapped[uuid.UUID]
    organisation_code: Mapped[str] = mapped_column(String(20))
    sector: Mapped[str] = mapped_column(String(40))
    place: Mapped[str] = mapped_column(String(40))
    staff_group: Mapped[str] = mapped_column(String(20))
    band: Mapped[str] = mapped_column(String(20))
    availability: Mapped[list[str]] = mapped_column(Json)
    withdrawn: Mapped[bool] = mapped_column(default=False)
    person_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # FellowEnrolled.person_id (pseudonymous)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    role: Mapped[str] = mapped_column(String(10), server_default="fellow")  # shared/programmes.py
    capacity: Mapped[int] = mapped_column(Integer, server_default="1")  # a sharer's or mentor's places


class PairingRound(Base):
    """The latest pairing request of a cohort: waiting for fellows, paired, or published."""

    __tablename__ = "pairing_round"

    cohort_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    fellow_ids: Mapped[list[str]] = mapped_column(Json)
    pairing_mode: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), server_default="exchange")  # the cohort's programme kind
    auto_publish: Mapped[bool]
    exchange_starts: Mapped[date] = mapped_column(Date)
    exchange_ends: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    unpaired: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Pair(Base):
    __tablename__ = "pair"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    cohort_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pairing_round.cohort_id"), index=True)
    fellow_ids: Mapped[list[str]] = mapped_column(Json)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(Json)
    roles: Mapped[dict[str, str]] = mapped_column(Json, server_default=text("'{}'"))  # fellow id -> role
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EarlierPairing(Base):
    """Two people (person ids, the smaller first) were in one published pair: history across cohorts."""

    __tablename__ = "earlier_pairing"

    person_a: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    person_b: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    pair_id: Mapped[uuid.UUID]
    paired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _CohortPair:
    """Two fellows of a cohort, the smaller id first, and who said so when."""

    cohort_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    fellow_a: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    fellow_b: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Exclusion(_CohortPair, Base):
    """The board: never match these two fellows."""

    __tablename__ = "exclusion"


class PairLock(_CohortPair, Base):
    """The board keeps this pair through a re-run."""

    __tablename__ = "pair_lock"


class CohortWeights(Base):
    """The board's own weights for a cohort (domain.Weights); a round uses them instead of the settings'."""

    __tablename__ = "cohort_weights"

    cohort_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    weights: Mapped[dict[str, float]] = mapped_column(Json)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Visit(Base):
    __tablename__ = "visit"
    __table_args__ = (UniqueConstraint("pair_id", "host_fellow_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pair.id"), index=True)
    host_fellow_id: Mapped[uuid.UUID]
    date: Mapped[date] = mapped_column(Date)
    scheduled_by: Mapped[str] = mapped_column(String(200))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- mentoring: a relationship over months (mentoring.py) ---------------------------------------


class Agreement(Base):
    """What mentor and mentee agreed: their goals and how often they meet (the latest word stands)."""

    __tablename__ = "mentoring_agreement"

    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pair.id"), primary_key=True)
    goals: Mapped[list[str]] = mapped_column(Json)
    meet_every_weeks: Mapped[int] = mapped_column(Integer)
    agreed_by: Mapped[str] = mapped_column(String(200))
    agreed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Meeting(Base):
    """A meeting either of the pair logged; its notes are the pair's alone."""

    __tablename__ = "mentoring_meeting"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pair.id"), index=True)
    date: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    logged_by: Mapped[uuid.UUID]  # the fellow who logged it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CheckIn(Base):
    """One fellow's answer at 3 or 6 months: is it working (1-5), and a private comment."""

    __tablename__ = "mentoring_check_in"

    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pair.id"), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    fellow_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    working: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Closure(Base):
    """One fellow closed the relationship, with a reflection; it closes when both have."""

    __tablename__ = "mentoring_closure"

    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pair.id"), primary_key=True)
    fellow_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reflection: Mapped[str] = mapped_column(Text)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- paired learning: a joint improvement project (projects.py) ---------------------------------


class Project(Base):
    """A paired-learning pair's joint improvement project (one per pair) and its presentation."""

    __tablename__ = "project"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pair.id"), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    aim: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(Text)
    presented_on: Mapped[date | None] = mapped_column(Date)
    presentation_summary: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Milestone(Base):
    __tablename__ = "project_milestone"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    due: Mapped[date] = mapped_column(Date)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- shadowing: the learner's reflection, a thank-you to the sharer (reflections.py) ----------------


class Reflection(Base):
    """A learner's reflection after their visit: what they learnt and one idea to take back. Free text:
    it stays here, read by the learner and the sharer alone (never the board, never a topic)."""

    __tablename__ = "shadowing_reflection"

    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pair.id"), primary_key=True)
    learner_id: Mapped[uuid.UUID]
    sharer_id: Mapped[uuid.UUID]
    learnt: Mapped[str] = mapped_column(Text)
    take_back: Mapped[str] = mapped_column(Text)
    shared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MeetingPlan(Base):
    """A mentoring meeting in the diary (when, how long): the calendar invitation's source. Logged as a
    ``Meeting`` once it has happened; removed when cancelled."""

    __tablename__ = "mentoring_meeting_plan"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pair.id"), index=True)
    date: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[time] = mapped_column(Time)
    minutes: Mapped[int] = mapped_column(Integer)
    planned_by: Mapped[uuid.UUID]  # the fellow who planned it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

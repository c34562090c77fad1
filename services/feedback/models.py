"""Tables of the feedback service, all in the ``feedback`` schema."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from shared.applicants import Applicants
from shared.db import Json, schema_metadata
from shared.inbox import Inbox
from shared.outbox import Outbox

SCHEMA = "feedback"


class Base(DeclarativeBase):
    metadata = schema_metadata(SCHEMA)


metadata = Base.metadata
outbox, inbox = Outbox(metadata, service="feedback"), Inbox(metadata)
applicants = Applicants(metadata)  # which subject made which application (ContactRecorded)


class ExchangePair(Base):
    """Projection of PairAssigned / ExchangeCompleted."""

    __tablename__ = "exchange_pair"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    cohort_id: Mapped[uuid.UUID] = mapped_column(index=True)
    fellow_ids: Mapped[list[str]] = mapped_column(Json)
    organisation_codes: Mapped[list[str]] = mapped_column(Json)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    exchange_completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When feedback is due (set on ExchangeCompleted) and when the pair's feedback was released.
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release_reason: Mapped[str | None] = mapped_column(String(20))


class Fellow(Base):
    """Projection of FellowEnrolled / ApplicationWithdrawn: which organisation, sector and place a
    fellow comes from, and when their application was withdrawn (cleared when enrolled again)."""

    __tablename__ = "fellow"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    cohort_id: Mapped[uuid.UUID] = mapped_column(index=True)
    organisation_id: Mapped[uuid.UUID]
    organisation_code: Mapped[str] = mapped_column(String(50))
    sector: Mapped[str] = mapped_column(String(50))
    place: Mapped[str] = mapped_column(String(50))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Their role in the cohort's kind (FellowEnrolled.role): a learner's reflection to a sharer needs no ratings.
    role: Mapped[str] = mapped_column(String(20), server_default="fellow")
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The person was erased: what they wrote for others is shown as from "a former fellow".
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class _FromFellowToFellow:
    """What feedback and the request for it share: in an exchange pair, from one fellow to the other."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        return (UniqueConstraint("pair_id", "from_fellow_id", "to_fellow_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, sort_order=-3)
    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exchange_pair.id"), index=True, sort_order=-2)
    from_fellow_id: Mapped[uuid.UUID] = mapped_column(sort_order=-1)


class FeedbackRequest(_FromFellowToFellow, Base):
    __tablename__ = "feedback_request"

    to_fellow_id: Mapped[uuid.UUID]
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Recorded when the due date passed without this fellow's feedback.
    missing_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Feedback(_FromFellowToFellow, Base):
    __tablename__ = "feedback"

    to_fellow_id: Mapped[uuid.UUID] = mapped_column(index=True)
    strengths: Mapped[dict[str, int]] = mapped_column(Json)
    top_strengths: Mapped[list[str]] = mapped_column(Json, server_default="[]")
    narrative: Mapped[str] = mapped_column(Text)
    collaboration_ideas: Mapped[list[str]] = mapped_column(Json)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    corrected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CollaborationOpportunity(Base):
    __tablename__ = "collaboration_opportunity"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    pair_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exchange_pair.id"), index=True)
    feedback_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("feedback.id"))
    idea: Mapped[str] = mapped_column(Text)
    organisation_codes: Mapped[list[str]] = mapped_column(Json)
    organisation_ids: Mapped[list[str]] = mapped_column(Json, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Followed through by the two organisations' sponsors (collaboration.py)
    status: Mapped[str] = mapped_column(String(20), server_default="idea", index=True)
    next_step: Mapped[str | None] = mapped_column(Text)
    dropped_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str | None] = mapped_column(String(200))


class CollaborationCheckIn(Base):
    """An opportunity's check-in 3, 6 or 12 months after its exchange: reminded once when due, answered
    by the owners' next update (its status then and what they wrote)."""

    __tablename__ = "collaboration_check_in"

    opportunity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("collaboration_opportunity.id"), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str | None] = mapped_column(String(20))
    update: Mapped[str | None] = mapped_column(Text)


class SelfAssessment(Base):
    """A fellow's view of themselves on the leadership dimensions, before and after (paired learning):
    private to the fellow, reported only as the cohort's mean change (assessment.py)."""

    __tablename__ = "self_assessment"

    fellow_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(10), primary_key=True)
    cohort_id: Mapped[uuid.UUID] = mapped_column(index=True)
    strengths: Mapped[dict[str, int]] = mapped_column(Json)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

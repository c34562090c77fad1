"""The event contracts: one pydantic model per event of DESIGN.md, with its topic and key.

Each event's ``data`` on the wire is exactly its model's JSON. The type name is the class name,
the topic and the aggregate (the message key and the envelope's ``subject``) are class variables.
Integration events carry identifiers, codes, states, dates, counts and scores only (DESIGN.md, "What
may travel where"): names, e-mail addresses and free text (interests) travel on the internal contacts
topic; equality data, ratings of a person and feedback narrative never travel at all.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared import topics

PairingMode = Literal["peer", "bipartite"]
ProgrammeKind = Literal["exchange", "shadowing", "mentoring", "paired_learning"]  # shared/programmes.py
Role = Literal["fellow", "learner", "sharer", "mentor", "mentee"]
CollaborationStatus = Literal["idea", "exploring", "started", "delivered", "dropped"]
StaffGroup = Literal["clinical", "non_clinical"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

SECTORS = (
    "acute",
    "community",
    "mental_health",
    "ambulance",
    "primary_care",
    "icb",
    "local_authority",
    "social_care",
    "fire_rescue",
    "police",
    "vcse",
    "education",
    "healthwatch",
)
# Why a pair was made (PairAssigned.reasons): codes on the topic, words only in pairing's answers.
PAIR_REASONS = (
    "different_sector",
    "different_place",
    "clinical_mix",
    "shared_availability",
    "shared_interests",
    "not_paired_before",
    "trio",
    "swapped_by_board",
)
# Why a delivery failed (NotificationFailed.error).
DeliveryError = Literal[
    "refused", "timeout", "unreachable", "unconfirmed", "no_contact", "render_failed", "interrupted"
]
PLACES = ("bedford_borough", "central_bedfordshire", "luton", "milton_keynes", "other")
LEADERSHIP_DIMENSIONS = (
    "inspiring_shared_purpose",
    "leading_with_care",
    "evaluating_information",
    "connecting_our_service",
    "sharing_the_vision",
    "engaging_the_team",
    "holding_to_account",
    "developing_capability",
    "influencing_for_results",
)

REGISTRY: dict[str, type[Event]] = {}


def contract_events() -> list[type[Event]]:
    """The events of the contract (defined here), in name order."""
    return [cls for name, cls in sorted(REGISTRY.items()) if cls.__module__ == __name__]


class Event(BaseModel):
    """Base of every contract event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: ClassVar[str]
    key_field: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            REGISTRY[cls.__name__] = cls

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__

    @classmethod
    def dataschema(cls) -> str:
        return f"lbb/{cls.__name__}/v1"

    @property
    def key(self) -> str:
        """The aggregate id: message key and envelope subject."""
        return str(getattr(self, self.key_field))


# --- lbb.applications.v1 -------------------------------------------------------------------


class _CohortEvent(Event):
    topic = topics.APPLICATIONS
    key_field = "cohort_id"
    cohort_id: UUID


class _ApplicationEvent(Event):
    topic = topics.APPLICATIONS
    key_field = "application_id"
    application_id: UUID
    cohort_id: UUID


class CohortOpened(_CohortEvent):
    programme: str
    name: str
    capacity: int
    pairing_mode: PairingMode
    opens_at: datetime
    closes_at: datetime | None
    exchange_starts: date
    exchange_ends: date
    auto_publish: bool
    kind: ProgrammeKind = Field(default="exchange", description="The programme kind (DESIGN.md, Programme kinds)")
    reciprocal: bool = Field(default=False, description="Mentoring: mentor and mentee learn from each other")
    auto_enrol: bool = Field(default=False, description="An endorsed application is enrolled at once")


class CohortClosed(_CohortEvent):
    closed_at: datetime


class ApplicationSubmitted(_ApplicationEvent):
    organisation_id: UUID
    organisation_code: str
    staff_group: StaffGroup
    band: str
    submitted_at: datetime


class ApplicationEndorsed(_ApplicationEvent):
    organisation_code: str
    endorsed_at: datetime


class _BoardDecision(_ApplicationEvent):
    organisation_code: str
    decided_at: datetime


class ApplicationShortlisted(_BoardDecision):
    # Set when a withdrawal freed a place and this waitlisted application moved up into it.
    promoted_after_withdrawal_of: UUID | None = None


class ApplicationWaitlisted(_BoardDecision):
    pass


class ApplicationDeclined(_BoardDecision):
    pass


class ApplicationWithdrawn(_ApplicationEvent):
    previous_state: str
    withdrawn_at: datetime


class FellowEnrolled(Event):
    """A shortlisted applicant became a fellow; carries what pairing needs."""

    topic = topics.APPLICATIONS
    key_field = "fellow_id"
    fellow_id: UUID = Field(description="The id of the application that enrolled the fellow")
    cohort_id: UUID
    organisation_id: UUID
    organisation_code: str
    sector: str
    place: str
    staff_group: StaffGroup
    band: str
    availability: list[Weekday]
    enrolled_at: datetime
    person_id: UUID | None = Field(
        default=None,
        description="Stable pseudonymous id of the person across cohorts: a keyed HMAC-SHA256 of the "
        "normalised e-mail address under a key only the applications service holds (a UUIDv8), so it "
        "cannot be recomputed from the address; lets pairing avoid repeating an earlier pairing",
    )
    role: Role = Field(default="fellow", description="The fellow's role in the cohort's kind")
    capacity: int = Field(default=1, ge=1, description="How many a sharer or mentor takes (1 for other roles)")


class PairingRequested(_CohortEvent):
    """The board asked for a pairing round of a cohort over exactly these fellows."""

    fellow_ids: list[UUID]
    pairing_mode: PairingMode
    kind: ProgrammeKind = "exchange"
    auto_publish: bool
    exchange_starts: date
    exchange_ends: date
    requested_at: datetime


# --- lbb.internal.contacts.v1 (internal only: personal data) -------------------------------


class ContactRecorded(Event):
    """Who a person is and how to reach them. Internal topic only."""

    topic = topics.CONTACTS
    key_field = "person_id"
    person_id: UUID = Field(description="Application id (a fellow's id once enrolled)")
    subject: str = Field(description="Token subject of the person")
    name: str
    email: str
    job_title: str
    organisation_id: UUID
    organisation_name: str
    interests: list[str] = Field(
        default_factory=list,
        description="The applicant's interests (free text), with a sharer's offer tags or a learner's wants: "
        "pairing scores shared ones",
    )
    offer: str | None = Field(default=None, description="A sharer's offer: what they will show (free text)")
    conflicts: list[UUID] = Field(
        default_factory=list,
        description="People the applicant must never be matched with, as their person pseudonyms (the keyed "
        "HMAC of FellowEnrolled.person_id), never their e-mail addresses: pairing forbids those pairs",
    )


# --- lbb.pairing.v1 ------------------------------------------------------------------------


class _KeyedByPair(Event):
    """An event about a pair: keyed by the pair, so one pair's events stay in order."""

    key_field = "pair_id"
    pair_id: UUID


class _PairEvent(_KeyedByPair):
    topic = topics.PAIRING


class PairAssigned(_PairEvent):
    cohort_id: UUID
    fellow_ids: list[UUID]
    organisation_codes: list[str]
    score: float
    reasons: list[str] = Field(
        description="Why the pair was made, as codes (" + ", ".join(PAIR_REASONS) + "): never words"
    )
    assigned_at: datetime
    kind: ProgrammeKind = Field(default="exchange", description="The cohort's kind (what the pair does together)")
    roles: dict[UUID, Role] = Field(
        default_factory=dict, description="Each fellow's role (a sharer and a learner, a mentor and a mentee…)"
    )


class ExchangeVisitScheduled(_PairEvent):
    visit_id: UUID
    host_fellow_id: UUID
    date: date


class ExchangeVisitMoved(_PairEvent):
    """A scheduled visit moved to another day (its calendar invitation is updated)."""

    visit_id: UUID
    host_fellow_id: UUID
    date: date
    moved_at: datetime


class ExchangeVisitCancelled(_PairEvent):
    """A scheduled visit that will not happen (its calendar invitation is cancelled); the pair may
    schedule the host's visit again."""

    visit_id: UUID
    host_fellow_id: UUID
    cancelled_at: datetime


class ExchangeVisitCompleted(_PairEvent):
    visit_id: UUID
    host_fellow_id: UUID
    completed_at: datetime


class ExchangeCompleted(_PairEvent):
    cohort_id: UUID
    fellow_ids: list[UUID]
    completed_at: datetime


class MentoringAgreed(_PairEvent):
    """Mentor and mentee agreed how often they meet (their goals are free text and stay with pairing)."""

    meet_every_weeks: int
    agreed_at: datetime


class MentoringMeetingLogged(_PairEvent):
    """A mentoring meeting happened: its date and length only, never the notes."""

    meeting_id: UUID
    date: date
    minutes: int


class MentoringMeetingPlanned(_PairEvent):
    """Mentor and mentee put a meeting in the diary (its calendar invitation goes to both): when, never why."""

    meeting_id: UUID
    date: date
    starts_at: time = Field(description="Local time (Europe/London) the meeting starts")
    minutes: int


class MentoringMeetingMoved(_PairEvent):
    """A planned meeting moved (its calendar invitation is updated)."""

    meeting_id: UUID
    date: date
    starts_at: time = Field(description="Local time (Europe/London) the meeting starts")
    minutes: int
    moved_at: datetime


class MentoringMeetingCancelled(_PairEvent):
    """A planned meeting that will not happen (its calendar invitation is cancelled)."""

    meeting_id: UUID
    cancelled_at: datetime


class MentoringCheckInAnswered(_PairEvent):
    """A fellow of a mentoring pair answered its 3- or 6-month check-in (the answer stays with pairing)."""

    month: int
    fellow_id: UUID
    answered_at: datetime


class MentoringClosed(_PairEvent):
    """Both fellows closed the relationship (each with a reflection, which stays with pairing)."""

    cohort_id: UUID
    closed_at: datetime


class ProjectStarted(_PairEvent):
    """A paired-learning pair started its joint improvement project (its title and aim stay with pairing)."""

    project_id: UUID
    started_at: datetime


class ProjectMilestoneSet(_PairEvent):
    """A milestone of a pair's project, with its due date (its title stays with pairing)."""

    project_id: UUID
    milestone_id: UUID
    due: date
    set_at: datetime


class ProjectMilestoneDone(_PairEvent):
    project_id: UUID
    milestone_id: UUID
    due: date
    done_at: datetime


class ProjectPresented(_PairEvent):
    """The pair presented its project (the summary stays with pairing)."""

    project_id: UUID
    presented_on: date


class ShadowingReflectionShared(_PairEvent):
    """A learner thanked their sharer with a reflection on the visit: that it was shared, never its
    words (what they learnt and the idea they take back stay with pairing; the sharer reads them there)."""

    learner_id: UUID
    sharer_id: UUID
    shared_at: datetime


# --- lbb.feedback.v1 -----------------------------------------------------------------------


class _FeedbackEvent(_KeyedByPair):
    topic = topics.FEEDBACK


class _GivenFeedback(_FeedbackEvent):
    """The fact that a feedback was given (or released): its content (ratings, narrative, ideas) stays
    with the feedback service."""

    feedback_id: UUID
    to_fellow_id: UUID


class FeedbackRequested(_FeedbackEvent):
    request_id: UUID
    from_fellow_id: UUID
    to_fellow_id: UUID
    due_at: datetime


class FeedbackSubmitted(_GivenFeedback):
    from_fellow_id: UUID
    submitted_at: datetime
    corrected_at: datetime | None = Field(
        default=None, description="Set when this re-states a feedback corrected within its edit window"
    )


class FeedbackReleased(_GivenFeedback):
    released_at: datetime


class CollaborationOpportunityIdentified(_FeedbackEvent):
    opportunity_id: UUID
    organisation_ids: list[UUID]
    identified_at: datetime


class CollaborationOpportunityUpdated(_FeedbackEvent):
    """The owners moved an opportunity on. Its organisations and status only: the idea, the next step
    and a reason for dropping it are free text and stay with the feedback service."""

    opportunity_id: UUID
    organisation_ids: list[UUID]
    status: CollaborationStatus
    updated_at: datetime


class CollaborationCheckInDue(_FeedbackEvent):
    """An opportunity's check-in (3, 6 or 12 months after its exchange) fell due: its owners are asked
    what came of it."""

    opportunity_id: UUID
    organisation_ids: list[UUID]
    month: int = Field(description="3, 6 or 12: months after the exchange")
    status: CollaborationStatus
    due_at: datetime


# --- lbb.notifications.v1 ------------------------------------------------------------------


class _DeliveryEvent(Event):
    topic = topics.NOTIFICATIONS
    key_field = "delivery_id"
    delivery_id: UUID
    event_id: UUID
    recipient_id: UUID
    template: str


class NotificationSent(_DeliveryEvent):
    sent_at: datetime


class NotificationFailed(_DeliveryEvent):
    error: DeliveryError = Field(
        description="The class of the failure, never the SMTP server's reply (which can hold the address)"
    )
    attempts: int


# --- lbb.internal.privacy.v1 (internal only: erasure) ------------------------------------------


class PersonErasureRequested(Event):
    """An admin asked for a person's data to be erased: every service erases or anonymises what it
    holds about these applications (fellows) in its own schema, then confirms with PersonErased.
    Ids and a pseudonym only: no e-mail address travels, each service finds its rows by id."""

    topic = topics.PRIVACY
    key_field = "erasure_id"
    erasure_id: UUID
    application_ids: list[UUID] = Field(description="Every application the person made (with that e-mail address)")
    fellow_ids: list[UUID] = Field(description="Those that enrolled: a fellow's id is its application's")
    person_id: UUID | None = Field(
        default=None,
        description="The person's pseudonym (FellowEnrolled.person_id), so pairing forgets their earlier pairings",
    )
    requested_at: datetime


class PersonErased(Event):
    """A service finished erasing a person (``service`` is its name in shared/registry.py)."""

    topic = topics.PRIVACY
    key_field = "erasure_id"
    erasure_id: UUID
    service: str
    erased_at: datetime

"""The request bodies of the HTTP contract (DESIGN.md, "Gateway HTTP contract"), declared once.

The gateway validates every body with these models (so /openapi.json describes the real bodies and
bad input is refused with a readable 422 before it reaches a service) and forwards the fields the
caller gave; the owning service validates the same model again and applies its own rules and
defaults (the gateway decides nothing).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from shared import events as ev
from shared.fields import BAND_PATTERN, OrganisationCode, Text

Dimension = Literal[ev.LEADERSHIP_DIMENSIONS]  # type: ignore[valid-type]
Rating = Annotated[int, Field(ge=1, le=5)]
Idea = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
STATEMENT_MIN, STATEMENT_MAX = 20, 3000
MAX_CONFLICTS = 10
PAIRING_WEIGHT_MAX = 20
DEFAULT_AVAILABILITY: tuple[ev.Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class Body(BaseModel):
    """A request body: unknown fields are refused, so a typo is a 422 and not a silent default."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """PostgreSQL text cannot hold NUL characters: refuse them here, readably."""
        if _has_nul(value):
            raise ValueError("text must not contain NUL characters")
        return value

    def forwarded(self) -> dict[str, Any]:
        """What goes to the owning service: the fields the caller gave, as JSON values."""
        return self.model_dump(mode="json", exclude_unset=True)


class Empty(Body):
    """No fields: `{}` (an absent body counts as `{}`)."""


class Created(BaseModel):
    id: uuid.UUID


class CreateOrganisation(Body):
    code: OrganisationCode
    name: Text
    sector: Literal[ev.SECTORS]  # type: ignore[valid-type]
    place: Literal[ev.PLACES]  # type: ignore[valid-type]


class CreateCohort(Body):
    programme: Text
    name: Text
    capacity: int = Field(ge=2, le=100_000)
    kind: ev.ProgrammeKind = Field(default="exchange", description="exchange, shadowing, mentoring or paired_learning")
    pairing_mode: ev.PairingMode | None = Field(
        default=None, description="Default: peer for an exchange; bipartite for the other kinds (the only choice)"
    )
    reciprocal: bool = Field(default=False, description="Mentoring only: mentor and mentee learn from each other")
    auto_enrol: bool = Field(default=False, description="Enrol an endorsed application at once, no board decision")
    places_per_organisation: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Where the programme caps them: how many places one organisation may hold (1 to capacity); "
        "default no cap",
    )
    opens_at: datetime | None = Field(default=None, description="Default: now")
    closes_at: datetime | None = Field(default=None, description="Default: open until closed")
    exchange_starts: date | None = Field(default=None, description="Default: today")
    exchange_ends: date | None = Field(default=None, description="Default: 12 months after exchange_starts")
    auto_publish: bool = False


Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Offer(Body):
    """What a sharer will show a learner."""

    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class SubmitApplication(Body):
    cohort_id: uuid.UUID
    role: ev.Role = Field(default="fellow", description="Must suit the cohort's kind (DESIGN.md, Programme kinds)")
    capacity: int | None = Field(default=None, ge=1, le=10, description="A sharer's places (1-10), a mentor's (1-3)")
    offer: Offer | None = Field(default=None, description="A sharer's offer (required for a sharer)")
    wants: list[Tag] | None = Field(default=None, max_length=20, description="What a learner wants to see")
    name: Text
    email: EmailStr | None = Field(
        default=None,
        description="Your sign-in's e-mail when its token carries one (a different one is refused); required otherwise",
    )
    job_title: Text
    organisation_id: uuid.UUID
    staff_group: ev.StaffGroup
    band: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] = Field(
        description="Agenda for Change band 2-9 or 8a-8d, FY1, FY2, CT1-3, ST1-8, SAS, consultant, GP or other",
        json_schema_extra={"pattern": BAND_PATTERN.pattern},  # documented; checked by ``_band``, readably
    )
    statement: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=STATEMENT_MIN, max_length=STATEMENT_MAX)
    ]
    availability: list[ev.Weekday] | None = Field(default=None, min_length=1, description="Default: Monday to Friday")
    interests: list[Tag] | None = Field(default=None, max_length=20)
    equality: dict[str, str | int | bool | None] | None = Field(
        default=None, description='Kept only with consent: include `"consent": true`'
    )
    conflicts: list[EmailStr] | None = Field(
        default=None,
        max_length=MAX_CONFLICTS,
        description="E-mail addresses of people you must never be matched with (your line manager, someone in "
        "your team); kept only as keyed pseudonyms, never sent anywhere",
    )

    @field_validator("band")
    @classmethod
    def _band(cls, band: str) -> str:
        if not BAND_PATTERN.match(band):
            raise ValueError(
                "band must be an Agenda for Change band 2-9 or 8a-8d, "
                "FY1, FY2, CT1-3, ST1-8, SAS, consultant, GP or other"
            )
        return band

    @field_validator("equality")
    @classmethod
    def _consent(cls, equality: dict[str, Any] | None) -> dict[str, Any] | None:
        if equality is not None and equality.get("consent") is not True:
            raise ValueError("equality data is kept only with consent: set equality.consent to true")
        return equality


class BoardDecision(Body):
    decision: Literal["shortlist", "waitlist", "decline"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Swap(Body):
    fellow_a: uuid.UUID
    fellow_b: uuid.UUID


class Exclusion(Body):
    """The board: never match these two fellows."""

    fellow_a: uuid.UUID
    fellow_b: uuid.UUID


class Lock(Body):
    """The board keeps this pair through a re-run (``…/pairs/lock``) or lets it go (``…/unlock``)."""

    fellow_ids: list[uuid.UUID] = Field(min_length=2, max_length=2, description="The two fellows of the pair")


Weight = Annotated[float, Field(ge=0, le=PAIRING_WEIGHT_MAX)]


class PairingWeights(Body):
    """The board's own weights for a cohort: what each preference counts, 0-20 each (to the hundredth)."""

    different_sector: Weight
    different_place: Weight
    clinical_mix: Weight
    shared_availability: Weight = Field(description="per shared weekday, up to 5")
    shared_interest: Weight = Field(description="per shared interest, up to 3")
    not_paired_before: Weight


class ScheduleVisit(Body):
    host_fellow_id: uuid.UUID
    date: date


class MoveVisit(Body):
    """The visit's new day, inside the cohort's exchange window."""

    date: date


class Correction(Body):
    strengths: dict[Dimension, Rating] = Field(
        default_factory=dict,
        description="Ratings 1-5 of at least three of the nine Healthcare Leadership Model dimensions; optional "
        "only in a shadowing learner's reflection to the sharer, where any ratings given follow the same rule",
    )
    top_strengths: list[Dimension] | None = Field(
        default=None, min_length=1, max_length=3, description="One to three of the rated dimensions"
    )
    narrative: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
    collaboration_ideas: list[Idea] | None = Field(default=None, max_length=20)


class GiveFeedback(Correction):
    to_fellow_id: uuid.UUID


class Preferences(Body):
    mute_reminders: bool = Field(
        description="Do not e-mail non-essential reminders. Essential messages (decisions, pair assignment) always go."
    )


class StaffContactIn(Body):
    role: Literal["sponsor", "board"]
    subject: Text = Field(description="The person's token subject")
    name: Text
    email: EmailStr
    organisation_id: uuid.UUID | None = Field(default=None, description="Required for a sponsor")


Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class MentoringAgreement(Body):
    goals: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]] = Field(
        min_length=1, max_length=10
    )
    meet_every_weeks: int = Field(ge=1, le=12)


class MentoringMeeting(Body):
    date: date
    minutes: int = Field(ge=5, le=600)
    notes: Note | None = Field(default=None, description="Seen by the pair alone: never the board, never a topic")


class PlanMeeting(Body):
    """A mentoring meeting in the diary: both of the pair get a calendar invitation."""

    date: date
    starts_at: time = Field(description="Local time (Europe/London), HH:MM")
    minutes: int = Field(default=60, ge=5, le=600)


class MoveMeeting(Body):
    date: date
    starts_at: time = Field(description="Local time (Europe/London), HH:MM")


class MentoringCheckIn(Body):
    month: Literal[3, 6]
    working: Rating = Field(description="Is it working? 1 (not at all) to 5 (very well)")
    comment: Note | None = None


class CloseMentoring(Body):
    reflection: Note


Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Paragraph = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class StartProject(Body):
    title: Line
    aim: Paragraph
    measure: Paragraph = Field(description="How the pair will know it worked")


class AddMilestone(Body):
    title: Line
    due: date = Field(description="Inside the cohort's dates")


class Presentation(Body):
    date: date
    summary: Paragraph


class SelfAssessment(Body):
    stage: Literal["before", "after"]
    strengths: dict[Dimension, Rating] = Field(
        min_length=1, description="Your own view of yourself on the leadership dimensions, 1-5: private to you"
    )


class UpdateOpportunity(Body):
    """The owners move a collaboration opportunity on (and so answer a check-in that is due)."""

    status: ev.CollaborationStatus
    next_step: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)] | None = Field(
        default=None, description="Required when dropped"
    )
    update: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] | None = Field(
        default=None, description="What came of it since the last update (the answer to a check-in)"
    )


class SubjectAccess(Body):
    """Whose data: the e-mail address the person applied with."""

    email: EmailStr


class ShadowingReflection(Body):
    """A learner's thank-you to the sharer after the visit: read by the two of them alone, never a topic."""

    learnt: Paragraph = Field(description="What I learnt")
    take_back: Paragraph = Field(description="One idea to take back to my organisation")

"""What the gateway alone documents: its dev token, the answers and the refusals. The request bodies
are the contract's, declared once in shared/contract.py (re-exported here for the routes) and
validated again by the owning service."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from shared.contract import (
    BoardDecision,
    Body,
    Correction,
    CreateCohort,
    Created,
    CreateOrganisation,
    Empty,
    Exclusion,
    GiveFeedback,
    Lock,
    PairingWeights,
    Preferences,
    ScheduleVisit,
    StaffContactIn,
    SubmitApplication,
    Swap,
)
from shared.fields import Text

__all__ = [
    "BoardDecision",
    "Correction",
    "CreateCohort",
    "CreateOrganisation",
    "Created",
    "Empty",
    "Exclusion",
    "GiveFeedback",
    "Lock",
    "PairingWeights",
    "Preferences",
    "ScheduleVisit",
    "StaffContactIn",
    "SubmitApplication",
    "Swap",
]

Role = Literal["applicant", "sponsor", "board", "admin"]


class DevTokenRequest(Body):
    sub: Text = Field(description="The subject the token names (who the caller is)")
    role: Role
    organisation_id: uuid.UUID | None = Field(default=None, description="Required for a sponsor; ignored otherwise")
    email: EmailStr | None = Field(
        default=None, description="The token's `email` claim: an application's e-mail is then this address"
    )


class Token(BaseModel):
    token: str


class Organisation(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    sector: str
    place: str
    retired: bool = Field(default=False, description="Takes no new applications (listed to the board and admins only)")


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """Every refusal: a readable ``detail``; for bad input also ``errors``, one per field."""

    detail: str
    errors: list[FieldProblem] | None = None


class ServiceHealth(BaseModel):
    status: str
    services: dict[str, str]

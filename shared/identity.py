"""Who is calling a service: the gateway verifies the token and forwards its claims as headers.

Services listen on an internal network only; they trust these headers and decide object-level
access themselves (which fellows a subject is, they know from the events they consume).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header

from shared.errors import Forbidden

ROLES = ("applicant", "sponsor", "board", "admin")

HEADER_SUB = "X-Lbb-Sub"
HEADER_ROLE = "X-Lbb-Role"
HEADER_ORG = "X-Lbb-Organisation"


@dataclass(frozen=True)
class Caller:
    sub: str
    role: str
    organisation_id: UUID | None = None

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"this needs the role {' or '.join(roles)}; you are {self.role}")

    def headers(self) -> dict[str, str]:
        headers = {HEADER_SUB: self.sub, HEADER_ROLE: self.role}
        if self.organisation_id:
            headers[HEADER_ORG] = str(self.organisation_id)
        return headers


async def _caller(  # async: a sync dependency would run in a worker thread on every request
    x_lbb_sub: Annotated[str, Header()] = "",
    x_lbb_role: Annotated[str, Header()] = "",
    x_lbb_organisation: Annotated[str | None, Header()] = None,
) -> Caller:
    if not x_lbb_sub or x_lbb_role not in ROLES:
        raise Forbidden("no caller identity")
    return Caller(
        sub=x_lbb_sub,
        role=x_lbb_role,
        organisation_id=UUID(x_lbb_organisation) if x_lbb_organisation else None,
    )


CallerDep = Annotated[Caller, Depends(_caller)]

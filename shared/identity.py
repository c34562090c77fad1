"""Who is calling a service: the gateway verifies the token and forwards its claims as headers.

Services listen on an internal network only; they trust these headers and check object-level
access again themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header

from shared.errors import Forbidden

ROLES = ("applicant", "sponsor", "board", "admin")

HEADER_SUB = "X-Lbb-Sub"
HEADER_ROLE = "X-Lbb-Role"
HEADER_ORG = "X-Lbb-Organisation"
HEADER_FELLOWS = "X-Lbb-Fellows"


@dataclass(frozen=True)
class Caller:
    sub: str
    role: str
    organisation_id: UUID | None = None
    fellow_ids: frozenset[UUID] = field(default_factory=frozenset)

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"this needs the role {' or '.join(roles)}; you are {self.role}")

    def headers(self) -> dict[str, str]:
        headers = {HEADER_SUB: self.sub, HEADER_ROLE: self.role}
        if self.organisation_id:
            headers[HEADER_ORG] = str(self.organisation_id)
        if self.fellow_ids:
            headers[HEADER_FELLOWS] = ",".join(sorted(str(f) for f in self.fellow_ids))
        return headers


async def _caller(  # async: a sync dependency would run in a worker thread on every request
    x_lbb_sub: Annotated[str, Header()] = "",
    x_lbb_role: Annotated[str, Header()] = "",
    x_lbb_organisation: Annotated[str | None, Header()] = None,
    x_lbb_fellows: Annotated[str | None, Header()] = None,
) -> Caller:
    if not x_lbb_sub or x_lbb_role not in ROLES:
        raise Forbidden("no caller identity")
    fellows = frozenset(UUID(f) for f in x_lbb_fellows.split(",") if f) if x_lbb_fellows else frozenset()
    return Caller(
        sub=x_lbb_sub,
        role=x_lbb_role,
        organisation_id=UUID(x_lbb_organisation) if x_lbb_organisation else None,
        fellow_ids=fellows,
    )


CallerDep = Annotated[Caller, Depends(_caller)]

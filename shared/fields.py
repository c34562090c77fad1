"""Constrained field types of request bodies that the gateway and the owning service both validate."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OrganisationCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=20, pattern=r"^[A-Za-z0-9-]+$")
]
BAND_PATTERN = re.compile(r"^([2-7]|8[a-d]|9|FY[12]|CT[1-3]|ST[1-8]|SAS|consultant|GP|other)$")

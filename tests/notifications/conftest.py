"""Fixtures of the notifications tests."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.notifications.flow import Cohort, new_cohort


@pytest.fixture
async def cohort(api: Api, request: pytest.FixtureRequest) -> Cohort:
    """A new cohort of the test's own, named after the test; its ``uid`` makes the test's people new too."""
    return await new_cohort(api, request.node.name)

"""The one clock of the system: the time now, in UTC. Code that must be testable at another time
takes a clock (a function like this one) as a parameter instead of calling it directly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)

"""The release worker: sweeps for pairs past their due date every few seconds inside the service.

Its state lives in the database (``exchange_pair.due_at`` / ``released_at``), so a restarted
service simply carries on, and several instances never release a pair twice (the sweep,
``commands.release_overdue``, claims rows with ``FOR UPDATE SKIP LOCKED``). Time comes from an
injectable clock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.commands import (
    CHECK_IN_BATCH,
    RELEASE_BATCH,
    release_overdue,
    remind_due_check_ins,
    system_clock,
)
from shared.clock import Clock
from shared.worker import Worker


def release_worker(
    transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    *,
    clock: Clock = system_clock,
    interval_s: float = 30.0,
) -> Worker:
    """Sweeps for overdue pairs every ``interval_s`` seconds (at once again while a sweep fills)."""

    async def sweep() -> bool:
        async with transaction() as s:
            released = await release_overdue(s, clock())
        return len(released) >= RELEASE_BATCH

    return Worker("feedback-release", sweep, poll_interval_s=interval_s)


def check_in_worker(
    transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    *,
    clock: Clock = system_clock,
    interval_s: float = 300.0,
) -> Worker:
    """Reminds the owners of each collaboration check-in that fell due (3, 6, 12 months after the
    exchange), once; several instances never remind twice (``FOR UPDATE SKIP LOCKED``)."""

    async def sweep() -> bool:
        async with transaction() as s:
            reminded = await remind_due_check_ins(s, clock())
        return reminded >= CHECK_IN_BATCH

    return Worker("feedback-check-ins", sweep, poll_interval_s=interval_s)

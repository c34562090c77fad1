"""Retention: personal data is kept for a set time per data class, then erased or anonymised by a
scheduled purge in the service that owns it (README, "Privacy", lists the classes and defaults).

A service names its purge (``commands.purge_expired(session, now)``: one batch, how many rows it
erased) and ``retention_worker`` runs it on the shared ``Worker``: again at once while batches come
back full, otherwise every ``RETENTION_SWEEP_INTERVAL_S``. Time comes from the clock given, so
tests purge "a year later" without waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.worker import Worker

log = logging.getLogger(__name__)

BATCH = 500  # rows erased per transaction
Purge = Callable[[AsyncSession, datetime], Awaitable[int]]


def retention_worker(
    name: str,
    transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    purge: Purge,
    *,
    interval_s: float,
    clock: Callable[[], datetime] = utcnow,
) -> Worker:
    async def sweep() -> bool:
        async with transaction() as s:
            erased = await purge(s, clock())
        if erased:
            log.info("%s: erased or anonymised %d rows past their retention", name, erased)
        return erased >= BATCH

    return Worker(f"{name}-retention", sweep, poll_interval_s=interval_s)

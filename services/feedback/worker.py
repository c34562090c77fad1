"""The release worker: sweeps for pairs past their due date every few seconds inside the service.

Its state lives in the database (``exchange_pair.due_at`` / ``released_at``), so a restarted
service simply carries on, and several instances never release a pair twice (the sweep,
``commands.release_overdue``, claims rows with ``FOR UPDATE SKIP LOCKED``). Time comes from an
injectable clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.commands import Clock, release_overdue, system_clock

log = logging.getLogger(__name__)


class ReleaseScheduler:
    """Sweeps for overdue pairs every ``interval_s`` seconds until stopped."""

    def __init__(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]],
        *,
        clock: Clock = system_clock,
        interval_s: float = 30.0,
    ) -> None:
        self.transaction = transaction
        self.clock = clock
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def sweep(self) -> list[uuid.UUID]:
        async with self.transaction() as s:
            return await release_overdue(s, self.clock())

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("the feedback release sweep failed; trying again in %.0fs", self.interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="feedback-release-scheduler")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.start()
        try:
            yield
        finally:
            await self.stop()

"""The outbox relay's lease: which relay of a schema publishes, and until when (a ``relay_lease`` row
with the holder and an expiry in the database's clock, shared by every instance).

Taking it answers who held it before: a relay that takes over a lease another relay let run out
(killed, frozen, cut off) rather than released may find that relay's last sends on the topics
without their rows marked sent (``taken_over``; ``Relay`` then reads the topics back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import Interval, Table, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

RELEASED = ""  # the holder of a lease given up cleanly
ONE_SECOND = literal(timedelta(seconds=1), Interval())


class Lease:
    """One relay's view of its schema's lease."""

    def __init__(self, table: Table, name: str, holder: str, lease_s: float) -> None:
        self.name = name
        self.holder = holder
        self.lease_s = lease_s
        self.taken_over = False  # taken from a holder that did not release it, not yet reconciled
        self._table = table
        self._held_until = 0.0  # loop time before which the lease is surely ours (0: not held)
        now = func.clock_timestamp()  # the database's clock: one clock for every instance
        before = select(table.c.holder).where(table.c.name == name).cte("before")
        stmt = insert(table).values(
            name=name, holder=holder, expires_at=now + literal(timedelta(seconds=lease_s), Interval())
        )
        self._take = (
            stmt.on_conflict_do_update(
                index_elements=[table.c.name],
                set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
                where=(table.c.holder == stmt.excluded.holder) | (table.c.expires_at < now),
            )
            .returning(table.c.holder, select(before.c.holder).scalar_subquery())
            .add_cte(before)
        )

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    @property
    def holding(self) -> bool:
        """Whether the lease is ours for sure (this process's clock, started before the lease was taken)."""
        return self._now() < self._held_until

    def may_write(self) -> bool:
        """Held for sure for a tenth of the lease more: a write now reaches the broker before another
        relay can take the lease over (the producer's fence, ``shared.relay_kafka``)."""
        return self._now() < self._held_until - self.lease_s / 10

    @property
    def due(self) -> bool:
        """Half of the lease has gone: renew it with the next poll."""
        return self._held_until - self._now() < self.lease_s / 2

    async def take(self, session: AsyncSession) -> bool:
        """Take the lease, or renew it; False when another relay holds it."""
        started = self._now()
        row = (await session.execute(self._take)).first()
        if row is None:
            self._held_until = 0.0
            return False
        if row[1] not in (None, RELEASED, self.holder):
            self.taken_over = True
            log.warning("%s took the relay lease of %s over from %s (run out)", self.holder, self.name, row[1])
        self._held_until = started + self.lease_s
        return True

    async def keep(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """While a batch is out: renew the lease every third of its length (a frozen process does not).
        Once it has run out (the process was frozen or starved past it), this stops rather than take it
        again: the batch is stopping, and another relay may be taking over; the next batch asks anew."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            if not self.holding:
                return
            try:
                async with sessions() as session, session.begin():
                    held = await self.take(session)
            except Exception as exc:  # the database is away: the lease runs out, the batch stops
                log.warning("renewing the relay lease of %s failed: %s", self.name, type(exc).__name__)
                continue
            if not held:
                return

    async def release(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Give the lease up (a clean stop): another instance takes over at once, not when it expires."""
        if not self._held_until:
            return
        self._held_until = 0.0
        table = self._table
        with contextlib.suppress(Exception):
            async with sessions() as session, session.begin():
                await session.execute(
                    update(table)
                    .where(table.c.name == self.name, table.c.holder == self.holder)
                    .values(holder=RELEASED, expires_at=func.clock_timestamp() - ONE_SECOND)
                )

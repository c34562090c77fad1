"""Background work, one way for every service: a loop that starts, stops, drains, backs off, and
wakes when a commit made work for it, in this process or in any other.

A ``Worker`` calls its ``step`` over and over. A step does one unit of work (publish a batch, claim
deliveries, sweep for due rows) and answers whether more may be waiting at once; when it is not,
the worker waits for a wake-up or its poll interval, whichever comes first. A step that raises is
logged and tried again after a back-off that doubles up to a ceiling and resets on the next
success. ``stop`` lets the step in flight finish (drain), then ends the loop.

Wake-ups (``Wakeups``): a transaction that makes work calls ``wake_on_commit(session, channel)``;
when it commits, the workers of that channel in this process wake at once, and a statement-level
trigger on the table (``shared.migrations.notify_on_insert``) sends ``NOTIFY channel`` at the same
commit, which a ``Listener`` in every other process (another replica, a second instance) turns into
the same wake-up (a notification of this process's own commit is skipped: it has woken them already,
and a second wake-up would only run an empty step). The poll interval stays as the fallback, so a
lost notification costs latency, never work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from shared.db import OWN_BACKENDS

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[bool]]


def backoff_after(backoff: float, ceiling: float) -> float:
    """The pause after one more failure: doubled, up to the ceiling."""
    return min(backoff * 2, ceiling)


@dataclass(eq=False)
class Worker:
    """One background loop of a service (the outbox relay, e-mail delivery, a scheduler)."""

    name: str
    step: Step
    poll_interval_s: float = field(kw_only=True)
    linger_s: float = field(default=0.0, kw_only=True)
    backoff_max_s: float = field(default=10.0, kw_only=True)
    channels: tuple[str, ...] = field(default=(), kw_only=True)
    failures: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def wake(self) -> None:
        """Run the next step now instead of at the end of the poll interval."""
        self._wake.set()

    @property
    def woken(self) -> bool:
        """Whether a wake-up came since this step began (the next step will run at once)."""
        return self._wake.is_set()

    async def _pause(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a wake-up or a stop; True when woken."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
            return True
        return False

    async def run(self) -> None:
        backoff = self.poll_interval_s
        while not self.stopping:
            self._wake.clear()
            try:
                more = await self.step()
                backoff = self.poll_interval_s
                self.failures = 0
            except Exception:  # the database or a server is away, or a bug: keep the work, try again
                self.failures += 1
                log.exception("%s failed; trying again in %.1fs", self.name, backoff)
                await self._stoppable_sleep(backoff)
                backoff = backoff_after(backoff, self.backoff_max_s)
                continue
            if more or self.woken:  # woken while the step ran: that commit has waited enough
                continue
            if await self._pause(self.poll_interval_s) and self.linger_s and not self.stopping:
                await asyncio.sleep(self.linger_s)  # woken by a commit: let a few more arrive

    async def _stoppable_sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def start(self) -> None:
        if self._task is not None:
            return
        self._stopping.clear()
        for channel in self.channels:
            WAKEUPS.register(channel, self.wake)
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        """Let the step in flight finish, then end the loop."""
        self._stopping.set()
        self._wake.set()
        for channel in self.channels:
            WAKEUPS.unregister(channel, self.wake)
        if self._task is not None:
            await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Worker]:
        self.start()
        try:
            yield self
        finally:
            await self.stop()


# --- wake-ups ---------------------------------------------------------------------------------

_WAKE_KEY = "lbb_wake_channels"


class Wakeups:
    """Which workers a channel wakes, in this process."""

    def __init__(self) -> None:
        self._workers: dict[str, list[Callable[[], None]]] = defaultdict(list)

    def register(self, channel: str, wake: Callable[[], None]) -> None:
        self._workers[channel].append(wake)

    def unregister(self, channel: str, wake: Callable[[], None]) -> None:
        with contextlib.suppress(ValueError):
            self._workers[channel].remove(wake)
        if not self._workers.get(channel):
            self._workers.pop(channel, None)

    def channels(self) -> list[str]:
        return sorted(self._workers)

    def wake(self, channel: str) -> None:
        for wake in self._workers.get(channel, ()):
            wake()


WAKEUPS = Wakeups()


def wake_on_commit(session: AsyncSession | Session, channel: str) -> None:
    """Wake the workers of ``channel`` in this process once the session's transaction commits (other
    processes hear of it through the table's NOTIFY trigger)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_WAKE_KEY, set()).add(channel)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for channel in session.info.pop(_WAKE_KEY, ()):
        WAKEUPS.wake(channel)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WAKE_KEY, None)


def channel_name(schema: str, table: str) -> str:
    """The NOTIFY channel of a table's new rows."""
    return f"lbb_{schema}_{table}"


class Listener:
    """LISTENs on the channels of this process's workers, on a connection of its own, and wakes them
    when another process commits work. Reconnects with back-off when the database goes away."""

    def __init__(self, engine: AsyncEngine, wakeups: Wakeups = WAKEUPS, *, name: str = "listener") -> None:
        self.engine = engine
        self.wakeups = wakeups
        self.notified = 0  # notifications from other processes, each a wake-up
        self.own = 0  # notifications of this process's own commits, skipped
        self.connected = asyncio.Event()
        self.worker = Worker(f"{name}-notify-listener", self._listen, poll_interval_s=1.0, backoff_max_s=5.0)
        self._lost = asyncio.Event()

    def _on_notify(self, _connection: Any, pid: int, channel: str, _payload: str) -> None:
        if pid in OWN_BACKENDS:  # this process's commit: it woke the workers already, after its commit
            self.own += 1
            return
        self.notified += 1
        self.wakeups.wake(channel)

    async def _listen(self) -> bool:
        """One connection's life: LISTEN, then wait until it is lost or the worker stops."""
        channels = self.wakeups.channels()
        if not channels:
            await self.worker._stoppable_sleep(3600)
            return False
        self._lost.clear()
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            pg = raw.driver_connection
            assert pg is not None
            pg.add_termination_listener(lambda _c: self._lost.set())
            for channel in channels:
                await pg.add_listener(channel, self._on_notify)
            self.connected.set()
            # Work committed while nobody listened is found by the next step of every worker.
            for channel in channels:
                self.wakeups.wake(channel)
            try:
                stop = asyncio.create_task(self.worker._stopping.wait())
                lost = asyncio.create_task(self._lost.wait())
                await asyncio.wait({stop, lost}, return_when=asyncio.FIRST_COMPLETED)
                for task in (stop, lost):
                    task.cancel()
            finally:
                self.connected.clear()
                if not self._lost.is_set():
                    with contextlib.suppress(Exception):
                        for channel in channels:
                            await pg.remove_listener(channel, self._on_notify)
        if self._lost.is_set() and not self.worker.stopping:
            raise ConnectionError("the LISTEN connection was lost")
        return False

    def start(self) -> None:
        self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()

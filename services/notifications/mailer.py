"""SMTP delivery with aiosmtplib, step by step, so the caller knows how far a message got.

The SMTP conversation is driven command by command (MAIL FROM, RCPT TO, then DATA) and
``before_data`` runs between RCPT TO and DATA: the delivery worker commits "handing over" there.
Until DATA starts the server cannot have the message, so a failure is ``NotDelivered`` (safe to
retry). A refusal of DATA with an SMTP reply is also ``NotDelivered``. A connection that breaks or
times out during DATA is ``Uncertain``: the server may have taken the message.

Connections are kept open and reused (one SMTP transaction after another on the same connection):
connecting and EHLO cost more than a message. At most ``max_idle`` connections wait in the pool,
each for at most ``idle_s``; a connection that failed in a way that leaves its state unknown is
closed, never reused. A reused connection may have been closed by the server while it waited: if
it fails at MAIL FROM (disconnected, or 421 "closing"), the message is tried once more on a fresh
connection. That is still before DATA, so it changes nothing about at most once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parseaddr

import aiosmtplib

log = logging.getLogger(__name__)


class NotDelivered(Exception):
    """The server certainly does not have the message. Its text is ``<class>: <safe detail>`` (see
    ``_describe``), never the server's reply."""


class Uncertain(Exception):
    """The server may or may not have the message."""


class Abandoned(Exception):
    """Our claim on the delivery was lost before DATA (another instance took it over): not sent."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    timeout_s: float = 10.0
    use_tls: bool = False
    start_tls: bool = False
    username: str = ""
    password: str = ""
    max_idle: int = 8  # connections kept open between messages (the delivery concurrency)
    idle_s: float = 30.0  # an idle connection is closed after this long (servers drop them after minutes)


def _describe(exc: BaseException) -> str:
    """``<class>: <detail>`` of a failure, with the class one of NotificationFailed's (refused, timeout,
    unreachable) and the detail the reply code or the exception's type: never the server's reply text
    or the exception's message, which real servers fill with the recipient's address."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"refused: SMTP {exc.code}"
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return f"timeout: {exc.__class__.__name__}"
    return f"unreachable: {exc.__class__.__name__}"


def _stale(exc: BaseException) -> bool:
    """Whether a failure at MAIL FROM on a reused connection says the connection itself is gone."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == 421  # the server is closing the channel (an idle timeout, say)
    return isinstance(exc, (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError))


class Mailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.envelope_sender = parseaddr(config.sender)[1] or config.sender
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # most recently used last
        self._local_hostname: str | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self.connections_opened = 0

    # --- the pool ------------------------------------------------------------------------------

    async def _connect(self) -> aiosmtplib.SMTP:
        c = self.config
        if self._local_hostname is None:  # aiosmtplib would look it up on every connection
            self._local_hostname = await asyncio.get_running_loop().run_in_executor(None, socket.getfqdn)
        smtp = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            timeout=c.timeout_s,
            use_tls=c.use_tls,
            start_tls=c.start_tls,
            username=c.username or None,
            password=c.password or None,
            local_hostname=self._local_hostname,
        )
        self.connections_opened += 1
        try:
            await smtp.connect()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        deadline = time.monotonic() - self.config.idle_s
        while self._idle:
            smtp, since = self._idle.pop()
            if since >= deadline and smtp.is_connected:
                return smtp
            self._discard(smtp)
        return None

    def _release(self, smtp: aiosmtplib.SMTP) -> None:
        if not smtp.is_connected or len(self._idle) >= self.config.max_idle:
            self._discard(smtp)
            return
        self._idle.append((smtp, time.monotonic()))
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap(), name="smtp-idle-reaper")

    def _discard(self, smtp: aiosmtplib.SMTP) -> None:
        """Close a connection politely (QUIT) in the background; never reused."""
        task = asyncio.create_task(self._quit(smtp))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _quit(smtp: aiosmtplib.SMTP) -> None:
        with contextlib.suppress(Exception):
            if smtp.is_connected:
                await smtp.quit()
        smtp.close()

    async def _reap(self) -> None:
        """Close connections that stayed idle for ``idle_s``, until the pool is empty."""
        while self._idle:
            oldest = self._idle[0][1]
            await asyncio.sleep(max(0.0, oldest + self.config.idle_s - time.monotonic()) + 0.01)
            deadline = time.monotonic() - self.config.idle_s
            keep = []
            for smtp, since in self._idle:
                if since > deadline and smtp.is_connected:
                    keep.append((smtp, since))
                else:
                    self._discard(smtp)
            self._idle = keep

    async def close(self) -> None:
        """Close every idle connection (QUIT) and wait for the closing ones."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            self._discard(smtp)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    # --- one message ---------------------------------------------------------------------------

    async def _open_transaction(self, recipient: str) -> aiosmtplib.SMTP:
        """A connection on which MAIL FROM and RCPT TO for ``recipient`` succeeded."""
        smtp = self._take_idle()
        if smtp is not None:
            try:
                await smtp.mail(self.envelope_sender)
            except BaseException as exc:
                if not isinstance(exc, (aiosmtplib.SMTPException, OSError)):
                    self._discard(smtp)
                    raise
                if not _stale(exc):
                    await self._reset_or_discard(smtp)
                    raise NotDelivered(_describe(exc)) from exc
                log.info("SMTP connection went stale while idle (%s); using a fresh one", _describe(exc))
                self._discard(smtp)
                smtp = None
        try:
            if smtp is None:
                smtp = await self._connect()
                await smtp.mail(self.envelope_sender)
            await smtp.rcpt(recipient)
        except (aiosmtplib.SMTPException, OSError) as exc:
            if smtp is not None:
                await self._reset_or_discard(smtp)
            raise NotDelivered(_describe(exc)) from exc
        except BaseException:  # cancelled half-way: the connection's state is unknown
            if smtp is not None:
                self._discard(smtp)
            raise
        return smtp

    async def _reset_or_discard(self, smtp: aiosmtplib.SMTP) -> None:
        """After a transaction that did not finish: RSET and keep the connection, or close it."""
        try:
            if not smtp.is_connected:
                raise aiosmtplib.SMTPServerDisconnected("connection lost")
            await smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._discard(smtp)
        else:
            self._release(smtp)

    async def send(self, message: bytes, recipient: str, before_data: Callable[[], Awaitable[bool]]) -> None:
        """Send ``message`` to ``recipient``; ``before_data`` returning False abandons the send."""
        smtp = await self._open_transaction(recipient)
        try:
            handed_over = await before_data()
        except BaseException:
            await self._reset_or_discard(smtp)
            raise
        if not handed_over:
            await self._reset_or_discard(smtp)
            raise Abandoned("the delivery was claimed by another sender")
        try:
            await smtp.data(message)
        except aiosmtplib.SMTPResponseException as exc:  # the server answered: it refused the message
            await self._reset_or_discard(smtp)
            raise NotDelivered(_describe(exc)) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:  # no answer: it may have the message
            self._discard(smtp)
            raise Uncertain(_describe(exc)) from exc
        except BaseException:  # cancelled mid-DATA: the connection's state is unknown
            self._discard(smtp)
            raise
        self._release(smtp)

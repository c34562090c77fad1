"""A real local SMTP server (aiosmtpd) that keeps every message: `lbb dev` and the tests use it.

It speaks SMTP for real, so the notifications service's aiosmtplib client is exercised end to end.
Tests reach into it: ``messages`` (parsed e-mails), ``refuse`` (addresses answered with 550 at
RCPT TO), ``refuse_with`` (address → the reply to refuse it with at RCPT TO, such as a real server's
"550 5.1.1 <ann@example.org>: Recipient address rejected"), ``hold`` (addresses whose DATA is
received but not answered until released: the moment a sender could be killed between handing a
message over and recording it), ``hold_untaken`` (addresses whose DATA is not answered until released,
and taken only then: a sender killed meanwhile leaves nothing, as with a server that takes a message
only once it has answered) and ``hold_rcpt`` (addresses whose RCPT TO is not answered until
released: killed before handing anything over).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MailSink:
    """What the sink received, and what tests ask it to refuse or hold; ``Hooks`` answers SMTP with it."""

    def __init__(self, spool: Path | None = None) -> None:
        self.spool = spool
        self.received: list[bytes] = []  # as they arrived; parsed only when someone reads them
        self._parsed: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.refuse_with: dict[str, str] = {}
        self.hold: set[str] = set()
        self.hold_untaken: set[str] = set()
        self.hold_rcpt: set[str] = set()
        self.refused: list[str] = []  # one entry per refused RCPT TO
        self._lock = threading.Lock()

    def keep(self, raw: bytes) -> None:
        """A message the server accepted: kept raw (and written to the spool folder, if there is one)."""
        with self._lock:
            self.received.append(raw)
            count = len(self.received)
        if self.spool is not None:
            self.spool.mkdir(parents=True, exist_ok=True)
            (self.spool / f"{time.time():.6f}-{count}.eml").write_bytes(raw)

    def note_refused(self, address: str) -> None:
        with self._lock:
            self.refused.append(address.lower())

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message received, parsed, oldest first (parsing waits for a reader: it costs more
        CPU than receiving, and the benchmarks' sink shares the machine with what it measures)."""
        with self._lock:
            for raw in self.received[len(self._parsed) :]:
                message = message_from_bytes(raw, policy=policy.default)
                assert isinstance(message, EmailMessage)
                self._parsed.append(message)
            return list(self._parsed)

    def to(self, address: str) -> list[EmailMessage]:
        """Messages received for ``address``, oldest first."""
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]


class Hooks:
    """The aiosmtpd handler: accepts everything except what the sink says to refuse or hold.

    Apart from the sink, so that aiosmtpd, which inspects every member of its handler on each new
    connection, never reads ``MailSink.messages`` (that parsed every e-mail received so far: a stall
    of seconds per connection once thousands had arrived).
    """

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        reply = self.sink.refuse_with.get(address.lower())
        if reply is not None or address.lower() in self.sink.refuse:
            self.sink.note_refused(address)
            return reply or "550 5.1.1 mailbox unavailable (refused by the test sink)"
        await self._wait_while(lambda: address.lower() in self.sink.hold_rcpt)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        to = {a.lower() for a in envelope.rcpt_tos}
        # a sender that goes away meanwhile cancels this (aiosmtpd): the message is never kept
        await self._wait_while(lambda: bool(to & self.sink.hold_untaken))
        self.sink.keep(envelope.original_content or envelope.content)
        await self._wait_while(lambda: bool(to & self.sink.hold))
        return "250 Message accepted for delivery"

    @staticmethod
    async def _wait_while(held: Callable[[], bool], timeout_s: float = 120) -> None:
        # released from the test's thread, so a plain poll rather than an asyncio.Event of this loop
        deadline = time.monotonic() + timeout_s
        while held() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


class SmtpServer:
    """aiosmtpd's Controller on 127.0.0.1 and a free port (port 0 fails its readiness probe)."""

    def __init__(self, port: int, spool: Path | None = None) -> None:
        self.port = port
        self.sink = MailSink(spool)
        self.controller = Controller(Hooks(self.sink), hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

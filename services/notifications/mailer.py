"""SMTP delivery with aiosmtplib, step by step, so the caller knows how far a message got.

The SMTP conversation is driven command by command (connect, MAIL FROM, RCPT TO, then DATA) and
``before_data`` runs between RCPT TO and DATA: the delivery worker commits "handing over" there.
Until DATA starts the server cannot have the message, so a failure is ``NotDelivered`` (safe to
retry). A refusal of DATA with an SMTP reply is also ``NotDelivered``. A connection that breaks or
times out during DATA is ``Uncertain``: the server may have taken the message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib


class NotDelivered(Exception):
    """The server certainly does not have the message."""


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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"SMTP {exc.code}: {exc.message}"
    return f"{exc.__class__.__name__}: {exc}"


class Mailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.envelope_sender = parseaddr(config.sender)[1] or config.sender

    async def send(self, message: EmailMessage, recipient: str, before_data: Callable[[], Awaitable[bool]]) -> None:
        """Send ``message`` to ``recipient``; ``before_data`` returning False abandons the send."""
        c = self.config
        smtp = aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            timeout=c.timeout_s,
            use_tls=c.use_tls,
            start_tls=c.start_tls,
            username=c.username or None,
            password=c.password or None,
        )
        try:
            try:
                await smtp.connect()
                await smtp.mail(self.envelope_sender)
                await smtp.rcpt(recipient)
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise NotDelivered(_describe(exc)) from exc
            if not await before_data():
                raise Abandoned("the delivery was claimed by another sender")
            try:
                await smtp.data(message.as_bytes())
            except aiosmtplib.SMTPResponseException as exc:  # the server answered: it refused the message
                raise NotDelivered(_describe(exc)) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:  # no answer: it may have the message
                raise Uncertain(_describe(exc)) from exc
        finally:
            with contextlib.suppress(Exception):
                if smtp.is_connected:
                    await smtp.quit()
            smtp.close()

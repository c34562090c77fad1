"""The fault tests run on a stack of their own and leave it healthy; a ledger prints what they found.

Killing services, freezing the broker and restarting PostgreSQL would disturb tests that share
the session's stack, so every test under tests/faults/ gets ``stack`` (and ``engine``,
``gateway``, ``mail``) from a second stack started once for this folder. Each fault test records
what it sent and what it found in ``ledger``; the table is printed at the end of the run.

LBB_FAULT_N sets how many applications stream through each scenario (default 100; 500 by hand);
LBB_FAULT_KEEP_LOGS=1 keeps the fault stack's home (logs, data) after the run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lbb.devstack import Stack, wait_until
from lbb.mailsink import MailSink
from tests.conftest import GATEWAY_TEST_ENV, NOTIFICATIONS_TEST_ENV, database, gateway_client, started

if TYPE_CHECKING:
    from tests.faults.stream import Mailbox, Sources


def fault_n() -> int:
    return int(os.environ.get("LBB_FAULT_N", "100"))


@dataclass
class Count:
    """What a scenario expected of one effect and what it found."""

    expected: int
    found: int  # rows, e-mails received, or distinct events (envelope ids) on a topic
    distinct: int  # different effects among them, by business key
    repeats: int | None = None  # topics only: records repeating an envelope id (at least once; inboxes drop them)
    out_of_order: int | None = None  # topics only: records after a later event of their key (per partition)
    keyed: bool = False  # a primary key or unique index keeps found == distinct: only a loss can show

    @property
    def exact(self) -> bool:
        return self.found == self.distinct == self.expected and not self.out_of_order


@dataclass
class Row:
    scenario: str
    effect: str
    sent: int
    found: int
    lost: int
    duplicated: int | None  # None: a key makes a duplicate impossible to count
    repeated: int | None  # None: not a topic
    out_of_order: int | None  # None: not a topic


@dataclass
class Ledger:
    rows: list[Row] = field(default_factory=list)

    def record(self, scenario: str, effect: str, c: Count) -> Row:
        row = Row(
            scenario,
            effect,
            c.expected,
            c.found,
            max(c.expected - c.distinct, 0),
            None if c.keyed else c.found - c.distinct,
            c.repeats,
            c.out_of_order,
        )
        self.rows.append(row)
        return row

    def table(self) -> str:
        head = ("scenario", "effect", "expected", "found", "lost", "duplicated", "redelivered", "out of order")

        def cell(value: int | None, absent: str) -> str:
            return absent if value is None else str(value)

        cells = [head] + [
            (
                r.scenario,
                r.effect,
                str(r.sent),
                str(r.found),
                str(r.lost),
                cell(r.duplicated, "(key)"),
                cell(r.repeated, ""),
                cell(r.out_of_order, ""),
            )
            for r in self.rows
        ]
        widths = [max(len(c[i]) for c in cells) for i in range(len(head))]

        def line(row: tuple[str, ...]) -> str:
            # names to the left, numbers to the right
            return "  ".join(
                x.ljust(w) if i < 2 else x.rjust(w) for i, (x, w) in enumerate(zip(row, widths, strict=True))
            )

        return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *(line(c) for c in cells[1:])])


LEDGER = Ledger()
KEY = (
    "duplicated: the same effect twice by its business key; (key): a primary key or unique index makes a\n"
    "duplicate impossible there, so only a loss can show. redelivered (topics): records repeating an envelope\n"
    "id, which the relay may publish more than once (at least once) and every consumer's inbox drops.\n"
    "out of order (topics): records of a key that came after a later event of that key on its partition.\n"
    "README.md, 'Fault tests', says what each row counts and why it could show a duplicate."
)


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return LEDGER


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LEDGER.rows:
        terminalreporter.section("fault tests: nothing lost, nothing doubled")
        terminalreporter.write_line(LEDGER.table())
        terminalreporter.write_line(KEY)


def recover(stack: Stack, timeout_s: float = 90) -> None:
    """Leave the stack whole after a fault: broker running, PostgreSQL up, every process back, and
    the gateway reporting every service's database and broker ok."""
    if stack.kafka is not None and stack.kafka.process is not None:
        stack.kafka.resume()  # harmless when it was not paused
    if stack.postgres is not None and stack.postgres.server is not None:
        stack.postgres.resume()  # a no-op when it is running
    for key in [k for k in stack.processes if "#" in k]:
        stack.remove_instance(key)
    for name, proc in stack.processes.items():
        if proc.process is None or proc.process.poll() is not None:
            proc.start()
            wait_until(lambda proc=proc: proc.healthy(), timeout_s, f"the {name} service to come back")  # type: ignore[misc]
    wait_until(stack.processes["gateway"].healthy, timeout_s, "the gateway to report every service ok")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """A stack only the fault tests use (real broker and PostgreSQL always: faults need the processes)."""
    home = Path(tempfile.mkdtemp(prefix="lbb-faults-"))
    running = Stack(home=home, extra_env=NOTIFICATIONS_TEST_ENV | GATEWAY_TEST_ENV)
    try:
        with started(running):
            yield running
    finally:
        if os.environ.get("LBB_FAULT_KEEP_LOGS"):
            print(f"fault stack logs kept in {home / 'logs'}")
        else:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def mail(stack: Stack) -> MailSink:
    assert stack.smtp is not None
    return stack.smtp.sink


@pytest.fixture(scope="session")
def mailbox(mail: MailSink) -> Mailbox:
    from tests.faults.stream import Mailbox

    return Mailbox(mail)


@pytest.fixture
async def sources(stack: Stack, engine: Any, topic_reader: Any, mailbox: Mailbox) -> Sources:
    """Where a scenario counts: the schemas, the stream's topics read from their beginning, the SMTP server."""
    from tests.faults.stream import STREAM_TOPICS, Sources, Topics

    return Sources(engine, Topics(await topic_reader(list(STREAM_TOPICS))), mailbox, stack.gateway_url)


# Made again here, not taken from tests/conftest.py: a session fixture keeps what it first made, and
# these must be of the fault stack above, not of the stack the other tests share.
engine = pytest.fixture(scope="session", name="engine")(database)
gateway = pytest.fixture(scope="session", name="gateway")(gateway_client)

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

import pytest

from lbb.devstack import Stack, wait_until
from lbb.mailsink import MailSink
from tests.conftest import GATEWAY_TEST_ENV, NOTIFICATIONS_TEST_ENV, database, gateway_client, started


def fault_n() -> int:
    return int(os.environ.get("LBB_FAULT_N", "100"))


@dataclass
class Row:
    scenario: str
    effect: str
    sent: int
    found: int
    lost: int
    duplicated: int


@dataclass
class Ledger:
    rows: list[Row] = field(default_factory=list)

    def record(self, scenario: str, effect: str, sent: int, found: int, distinct: int) -> Row:
        """``found`` rows/records of which ``distinct`` are different effects; ``sent`` expected."""
        row = Row(scenario, effect, sent, found, max(sent - distinct, 0), found - distinct)
        self.rows.append(row)
        return row

    def table(self) -> str:
        head = ("scenario", "effect", "events sent", "effects found", "lost", "duplicated")
        cells = [head] + [
            (r.scenario, r.effect, str(r.sent), str(r.found), str(r.lost), str(r.duplicated)) for r in self.rows
        ]
        widths = [max(len(c[i]) for c in cells) for i in range(len(head))]

        def line(row: tuple[str, ...]) -> str:
            # names to the left, numbers to the right
            return "  ".join(
                x.ljust(w) if i < 2 else x.rjust(w) for i, (x, w) in enumerate(zip(row, widths, strict=True))
            )

        return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *(line(c) for c in cells[1:])])


LEDGER = Ledger()


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    return LEDGER


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LEDGER.rows:
        terminalreporter.section("fault tests: nothing lost, nothing doubled")
        terminalreporter.write_line(LEDGER.table())


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


# Made again here, not taken from tests/conftest.py: a session fixture keeps what it first made, and
# these must be of the fault stack above, not of the stack the other tests share.
engine = pytest.fixture(scope="session", name="engine")(database)
gateway = pytest.fixture(scope="session", name="gateway")(gateway_client)

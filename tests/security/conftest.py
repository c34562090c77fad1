"""The security tests try each attack of issue 17 and record it: the attack, the answer expected and
the answer got. The table is printed at the end of the run; a row that does not hold fails its test."""

from __future__ import annotations

from collections.abc import Callable

import pytest

ROWS: list[tuple[str, str, str]] = []

Attack = Callable[[str, object, object], None]


@pytest.fixture
def attack() -> Attack:
    """``attack(what, expected, got)``: record the row, and fail the test when got is not expected."""

    def record(what: str, expected: object, got: object) -> None:
        ROWS.append((what, str(expected), str(got)))
        assert got == expected, f"{what}: expected {expected}, got {got}"

    return record


def table() -> str:
    widths = [max(len(row[i]) for row in [("attack", "expected", "got"), *ROWS]) for i in range(3)]
    lines = [f"{'attack':<{widths[0]}}  {'expected':<{widths[1]}}  got", "-" * (sum(widths) + 4)]
    lines += [f"{a:<{widths[0]}}  {e:<{widths[1]}}  {g}" for a, e, g in ROWS]
    held = sum(e == g for _, e, g in ROWS)
    return "\n".join([*lines, f"{held} of {len(ROWS)} held"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ROWS:
        terminalreporter.section("security: attacks tried")
        terminalreporter.write_line(table())

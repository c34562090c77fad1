"""The privacy canary prints what it read and what it found at the end of the run (like the security
tests' table), so the proof is in every `make test` output, not only with ``-s``."""

from __future__ import annotations

import pytest

LINES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LINES:
        terminalreporter.section("privacy canary: what was read and what was found")
        for line in LINES:
            terminalreporter.write_line(line)

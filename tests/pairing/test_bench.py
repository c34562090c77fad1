"""The benchmark still runs (its figures are for people: see bench/pairing.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_pairing_benchmark_runs_and_matches_rustworkx_at_28() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "pairing.py"),
            "--sizes",
            "28",
            "--quick",
            "--alternatives",
            "28",
            "--mix-sizes",
            "200",
            "--mixes",
            "55%",
            "--mix-modes",
            "peer",
        ],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("28 |"))
    cells = [c.strip() for c in row.split("|")]
    assert cells[7] == "yes"  # proven optimal
    assert cells[9].endswith("=")  # the same total as rustworkx on the full graph
    alternatives = next(line for line in done.stdout.splitlines() if line.startswith("alternatives | 28 |"))
    cells = [c.strip() for c in alternatives.split("|")]
    assert cells[2] == "28" and int(cells[3]) > 0 and cells[5] == "yes"  # every fellow timed, losses found, exact
    mixes = [line.split("|") for line in done.stdout.splitlines() if line.startswith("mix |")]
    assert len(mixes) == 1  # one organisation has 55 %: some are left alone, with the reason
    for cells in mixes:
        assert cells[10].strip() == "yes"  # proven optimal
        assert cells[15].strip().endswith("=")  # the same total as rustworkx on the full graph
    assert any(
        "alone: every fellow from another organisation is already paired" in line for line in done.stdout.splitlines()
    )

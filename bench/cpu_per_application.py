"""CPU milliseconds per application, per process: a closed loop through the whole stack.

    .venv/bin/python bench/cpu_per_application.py            # 1,500 applications, two rounds
    .venv/bin/python bench/cpu_per_application.py --n 300 --rounds 1

Starts the embedded stack as bench/pipeline.py does, creates the applicants' tokens outside the measured
window, then POSTs applications through the gateway (32 in flight) until notifications has consumed them,
and prints each process's CPU seconds divided by the applications, and PostgreSQL's divided again by
whose connection its backend served (each service names its connections). Rounds run on the same stack; quote
figures of one run together (the machine is noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path

from rich.progress import Progress
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline as p  # the sibling benchmark: its stack, load and monitor


async def main(n: int, rounds: int) -> None:
    async with p.running("lbb-cpu-") as system:
        for i in range(n):  # tokens outside the measured window
            await system.token(f"bench-c{i}", "applicant")
        for r in range(rounds):
            monitor = system.monitor()
            figures = p.Figures()
            with Progress(console=p.console, transient=True) as progress:
                monitor.start()
                started = time.perf_counter()
                await p.closed_loop(system, n, 32, figures, progress)
                await monitor.stop()
            p.console.print(
                f"round {r + 1}: {figures.consumed_per_s:.1f} applications/s consumed by notifications,"
                f" {figures.emailed_per_s:.1f} e-mailed, {time.perf_counter() - started:.1f} s"
            )
            per_app = ", ".join(f"{w.name} {w.cpu() / n * 1000:.1f}" for w in monitor.watched)
            p.console.print(f"  CPU ms per application: {per_app}")
            by_client = await postgres_by_client(system, monitor)
            pg = ", ".join(f"{name} {cpu / n * 1000:.2f}" for name, cpu in by_client.items())
            p.console.print(f"  PostgreSQL's CPU ms per application, by whose connection: {pg}")


async def postgres_by_client(system: p.System, monitor: p.Monitor) -> dict[str, float]:
    """PostgreSQL's CPU seconds over the round by the connection's ``application_name`` (each service
    names its own), or by the kind of server process for the rest; a backend gone before the end of
    the round counts as "ended"."""
    async with system.engine.connect() as c:
        rows = await c.execute(text("SELECT pid, application_name, backend_type FROM pg_stat_activity"))
        names = {pid: app or ("this benchmark" if kind == "client backend" else kind) for pid, app, kind in rows}
    found: dict[str, float] = defaultdict(float)
    for watched in monitor.watched:
        if watched.name == "PostgreSQL":
            for pid, (first, last) in watched.cpu_seen.items():
                found[names.get(pid, "postmaster or ended")] += last - first
    return dict(sorted(found.items(), key=lambda item: -item[1]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_500, help="applications per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rounds))

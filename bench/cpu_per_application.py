"""CPU milliseconds per application, per process: a closed loop through the whole stack.

    .venv/bin/python bench/cpu_per_application.py            # 1,500 applications, two rounds
    .venv/bin/python bench/cpu_per_application.py --n 300 --rounds 1

Starts the embedded stack as bench/pipeline.py does, creates the applicants' tokens outside the measured
window, then POSTs applications through the gateway (32 in flight) until notifications has consumed them,
and prints each process's CPU seconds divided by the applications. Rounds run on the same stack; quote
figures of one run together (the machine is noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.progress import Progress
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline as p  # the sibling benchmark: its stack, load and monitor

from lbb.devstack import Stack, free_port, port_open, wait_until
from services.gateway.upstream import Upstream


async def main(n: int, rounds: int, sink: subprocess.Popen[bytes], port: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="lbb-cpu-"))
    limits = {"RATE_LIMIT_WRITES": "100000/minute", "RATE_LIMIT_WRITES_PER_IP": "1000000/minute"}
    stack = Stack(home=home, smtp_host="127.0.0.1", smtp_port=port, extra_env=limits)
    try:
        with p.console.status("starting the embedded stack…"):
            await asyncio.to_thread(stack.start, lambda line: None)
        assert stack.database_url
        engine = create_async_engine(stack.database_url)
        client = Upstream(60.0, max_connections=400, keepalive_s=2.0)
        try:
            system = p.System(stack, client, engine)
            for i in range(n):  # tokens outside the measured window
                await system.token(f"bench-c{i}", "applicant")
            for r in range(rounds):
                monitor = p.Monitor.of(stack)
                monitor.watched += [
                    p.Watched("SMTP sink", p.fixed(sink.pid)),
                    p.Watched("load generator", p.fixed(os.getpid())),
                ]
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
        finally:
            await client.close()
            await engine.dispose()
    finally:
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_500, help="applications per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    smtp_port = free_port()
    smtp_sink = subprocess.Popen([sys.executable, "-c", p.SINK, str(smtp_port)])
    try:
        wait_until(lambda: port_open(smtp_port), 20, "the SMTP sink")
        asyncio.run(main(args.n, args.rounds, smtp_sink, smtp_port))
    finally:
        smtp_sink.terminate()
        smtp_sink.wait()

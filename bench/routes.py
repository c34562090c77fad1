"""Route matching: the gateway's routers included (``include_router``) against put on as they are
(``shared.routing.add_routes``, what the gateway and the services do): CPU per request through the
app's routes alone (no middleware, no network), for requests answered before any upstream call.

    .venv/bin/python bench/routes.py             # 3 rounds of 3,000 requests a path
    .venv/bin/python bench/routes.py --n 10000

docs/decisions/0015 quotes its figures. A benchmark, not a test: quote the figures of one run together.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.gateway import main as gateway
from services.gateway import pages
from shared.routing import add_routes

ROUTERS = (*gateway.ROUTERS, *pages.ROUTERS)  # in the order the gateway matches them
# Answered by the gateway itself: no bearer token (401) or no staff session (a redirect), and a miss.
PATHS = (
    ("POST", "/api/applications"),
    ("GET", "/api/cohorts/00000000-0000-0000-0000-000000000000/pairs"),
    ("GET", "/staff/cohorts/00000000-0000-0000-0000-000000000000"),
    ("GET", "/nowhere"),
)


def app(included: bool) -> FastAPI:
    made = FastAPI()
    if included:
        for router in ROUTERS:
            made.include_router(router)
    else:
        add_routes(made, *ROUTERS)
    return made


async def per_request_us(made: FastAPI, method: str, path: str, n: int) -> tuple[float, int]:
    transport = httpx.ASGITransport(app=made)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        status = (await client.request(method, path)).status_code
        started = time.process_time()
        for _ in range(n):
            await client.request(method, path)
        return (time.process_time() - started) / n * 1e6, status


async def main(args: argparse.Namespace) -> None:
    apps = {"included": app(True), "added": app(False)}
    table = Table(title=f"CPU µs per request through the gateway's routes ({args.n:,} a path, best of {args.rounds})")
    for column in ("request", "answer", "include_router", "add_routes", "ratio"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for method, path in PATHS:
        best: dict[str, float] = {}
        status = 0
        for _ in range(args.rounds):
            for name, made in apps.items():  # alternately, so a slow spell hits both
                us, status = await per_request_us(made, method, path, args.n)
                best[name] = min(best.get(name, us), us)
        ratio = best["included"] / best["added"]
        table.add_row(
            f"{method} {path}", str(status), f"{best['included']:.0f}", f"{best['added']:.0f}", f"{ratio:.2f}x"
        )
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="requests a path and a round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (the best is kept)")
    asyncio.run(main(parser.parse_args()))

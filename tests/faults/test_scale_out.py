"""Two instances of a service in one consumer group share the work (the topics have several
partitions) and no effect is doubled."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import ServiceProcess, Stack
from shared import topics
from tests.conftest import eventually
from tests.faults.conftest import Ledger, recover
from tests.faults.stream import Burst, Count

WAVE = 50


async def applied(http: httpx.AsyncClient, proc: ServiceProcess) -> int:
    """Events this instance applied so far, from its /metrics."""
    answer = await http.get(f"{proc.url}/metrics")
    total = 0.0
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == "lbb_events_consumed_total" and sample.labels.get("outcome") == "applied":
                total += sample.value
    return int(total)


@pytest.mark.parametrize("service", ["notifications", "pairing"])
async def test_two_instances_in_one_group_share_the_work_and_double_nothing(
    service: str, stack: Stack, engine: AsyncEngine, ledger: Ledger
) -> None:
    assert topics.PARTITIONS > 1, "one partition would leave the second instance idle"
    assert stack.kafka_bootstrap_servers
    first = stack.processes[service]
    bursts: list[Burst] = []
    try:
        second = await asyncio.get_running_loop().run_in_executor(None, stack.add_instance, service)
        async with httpx.AsyncClient(timeout=10) as http:
            before = {p.url: await applied(http, p) for p in (first, second)}

            async def both_worked() -> bool:
                # waves of events until the group has rebalanced and each instance has applied some
                burst = Burst(WAVE)
                bursts.append(burst)
                await burst.send(str(stack.kafka_bootstrap_servers))
                now = {p.url: await applied(http, p) for p in (first, second)}
                return all(now[url] > before[url] for url in before)

            await eventually(both_worked, 90, f"both {service} instances to apply events")
            shares = {p.url: await applied(http, p) - before[p.url] for p in (first, second)}

        async def counted() -> dict[str, Count] | None:
            totals: dict[str, Count] = {}
            for burst in bursts:
                for effect, c in (await burst.count(engine)).items():
                    t = totals.setdefault(effect, Count(0, 0, 0))
                    t.expected, t.found, t.distinct = (
                        t.expected + c.expected,
                        t.found + c.found,
                        t.distinct + c.distinct,
                    )
            return totals if all(c.found >= c.expected for c in totals.values()) else None

        totals = await eventually(counted, 90, "every effect of the waves")
        for effect, c in totals.items():
            ledger.record(f"two {service} instances", effect, c.expected, c.found, c.distinct)
        assert all(c.exact for c in totals.values()), totals
        assert all(share > 0 for share in shares.values()), shares
    finally:
        recover(stack)

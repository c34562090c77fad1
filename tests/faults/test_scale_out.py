"""Two instances of a service in one consumer group share the work (the topics have several
partitions) and no effect is doubled: the events the two instances applied add up to the events
sent, each instance applied some, and every effect (e-mails at the SMTP server too) is there once."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lbb.devstack import ServiceProcess, Stack
from shared import topics
from tests.conftest import eventually
from tests.faults.conftest import Count, Ledger, recover
from tests.faults.stream import Burst, Sources

WAVE = 50


WAVE_EVENTS = {"ContactRecorded", "FellowEnrolled"}  # what a wave puts on the topics, one of each per fellow


async def applied(http: httpx.AsyncClient, proc: ServiceProcess) -> int:
    """Events of the waves' types this instance applied so far (committed), from its /metrics."""
    answer = await http.get(f"{proc.url}/metrics")
    total = 0.0
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "lbb_events_consumed_total"
                and labels.get("outcome") == "applied"
                and labels.get("type") in WAVE_EVENTS
            ):
                total += sample.value
    return int(total)


@pytest.mark.parametrize("service", ["notifications", "pairing"])
async def test_two_instances_in_one_group_share_the_work_and_double_nothing(
    service: str, stack: Stack, sources: Sources, ledger: Ledger
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

        async def counted() -> dict[str, Count] | None:
            totals: dict[str, Count] = {}
            for burst in bursts:
                for effect, c in (await burst.count(sources)).items():
                    t = totals.setdefault(effect, Count(0, 0, 0, keyed=c.keyed))
                    t.expected, t.found, t.distinct = (
                        t.expected + c.expected,
                        t.found + c.found,
                        t.distinct + c.distinct,
                    )
            return totals if all(c.found >= c.expected for c in totals.values()) else None

        totals = await eventually(counted, 90, "every effect of the waves")
        sent = sum(2 * burst.size for burst in bursts)

        async def shares() -> dict[str, int] | None:
            # counted by each instance once its transaction committed: the sum reaches what was sent
            async with httpx.AsyncClient(timeout=10) as http:
                now = {p.url: await applied(http, p) - before[p.url] for p in (first, second)}
            return now if sum(now.values()) >= sent else None

        with contextlib.suppress(AssertionError):
            await eventually(shares, 30, "the instances' applied counts to add up to the events sent")
        async with httpx.AsyncClient(timeout=10) as http:
            split = {p.url: await applied(http, p) - before[p.url] for p in (first, second)}
        scenario = f"two {service} instances ({' + '.join(str(v) for v in split.values())} applied)"
        both = sum(split.values())  # more than was sent would be events applied twice
        totals["events applied, both instances together"] = Count(sent, both, min(both, sent))
        for effect, c in totals.items():
            ledger.record(scenario, effect, c)
        assert all(c.exact for c in totals.values()), totals
        assert all(share > 0 for share in split.values()), f"an instance did no work: {split}"
    finally:
        recover(stack)

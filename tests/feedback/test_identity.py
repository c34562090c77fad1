"""Which fellows a caller is, the feedback service knows from the ContactRecorded events it consumed
(the subject that applied), not from any list of fellow ids a caller sends."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack
from shared import topics
from shared.identity import Caller
from tests.conftest import Api, AsGateway, eventually
from tests.feedback.flow import exchanged_pair, feedback_body
from tests.flows import application, apply


async def test_a_subject_that_applied_is_that_fellow_and_any_other_subject_gets_404(
    api: Api, stack: Stack, engine: AsyncEngine
) -> None:
    cohort, pair, a, b = await exchanged_pair(api, "Identity")
    alice = AsGateway(stack, "feedback", Caller(sub=cohort.who[a][0], role="applicant"))  # sends no fellow ids
    # Another subject claiming to be fellow a: the claim is ignored.
    mallory = AsGateway(stack, "feedback", Caller(sub=f"mallory-{cohort.id}", role="applicant"))

    async with httpx.AsyncClient(base_url=stack.processes["feedback"].url, timeout=30) as feedback:
        mine = await feedback.get(f"/pairs/{pair['id']}/feedback", auth=alice)
        assert mine.status_code == 200, mine.text
        assert mine.json()["fellow_id"] == a and mine.json()["still_due"] == [b]
        assert (await feedback.get(f"/fellows/{a}/feedback", auth=alice)).json() == []
        given = await feedback.post(f"/pairs/{pair['id']}/feedback", auth=alice, json=feedback_body(b))
        assert given.status_code == 201, given.text

        correction = {k: v for k, v in feedback_body(b).items() if k != "to_fellow_id"}
        for method, path, body in (
            ("GET", f"/pairs/{pair['id']}/feedback", None),
            ("POST", f"/pairs/{pair['id']}/feedback", feedback_body(b)),
            ("PUT", f"/pairs/{pair['id']}/feedback/{given.json()['id']}", correction),
            ("GET", f"/fellows/{a}/feedback", None),
        ):
            forged = {"X-Lbb-Fellows": a}  # what the gateway once sent: ignored now
            answer = await feedback.request(method, path, auth=mallory, headers=forged, json=body)
            assert answer.status_code == 404, (method, path, answer.text)

        # A subject that applied but was never enrolled is no fellow either, not even of its own application.
        late = (f"late-{cohort.id}", "applicant")
        form = application(cohort.id, cohort.organisation[a]["id"], "Late Applicant", "late.applicant@example.nhs.uk")
        application_id = await apply(api, late, form)

        async def recorded() -> bool:
            async with engine.connect() as c:
                found = await c.execute(
                    text("SELECT subject FROM feedback.applicant WHERE application_id = :a"), {"a": application_id}
                )
                return found.scalar_one_or_none() == late[0]

        await eventually(recorded, what="the feedback service to consume the late applicant's ContactRecorded")
        answer = await feedback.get(
            f"/fellows/{application_id}/feedback", auth=AsGateway(stack, "feedback", Caller(*late))
        )
        assert answer.status_code == 404, answer.text

    async with engine.connect() as c:  # the projection keeps the subject and nothing else of the contact
        columns = (
            await c.execute(
                text(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = 'feedback' AND table_name = 'applicant' ORDER BY column_name"
                )
            )
        ).all()
    assert [c for (c,) in columns] == ["application_id", "subject"]


async def test_a_fellow_whose_application_is_withdrawn_gets_404_until_enrolled_again(
    api: Api, stack: Stack, topic_reader: Any
) -> None:
    cohort, pair, a, b = await exchanged_pair(api, "Withdrawn")
    alice = AsGateway(stack, "feedback", Caller(*cohort.who[a]))
    correction = {k: v for k, v in feedback_body(b).items() if k != "to_fellow_id"}

    async with httpx.AsyncClient(base_url=stack.processes["feedback"].url, timeout=30) as feedback:
        given = await feedback.post(f"/pairs/{pair['id']}/feedback", auth=alice, json=feedback_body(b))
        assert given.status_code == 201, given.text
        routes = (
            ("GET", f"/pairs/{pair['id']}/feedback", None),
            ("POST", f"/pairs/{pair['id']}/feedback", feedback_body(b)),
            ("PUT", f"/pairs/{pair['id']}/feedback/{given.json()['id']}", correction),
            ("GET", f"/fellows/{a}/feedback", None),
        )

        withdrawn = await api.call("POST", f"/api/applications/{a}/withdraw", cohort.who[a], {})
        assert withdrawn.status_code == 202, withdrawn.text

        async def mine(status: int) -> bool:
            answer = await feedback.get(f"/pairs/{pair['id']}/feedback", auth=alice)
            return answer.status_code == status

        await eventually(lambda: mine(404), what="the feedback service to consume ApplicationWithdrawn")
        for method, path, body in routes:
            answer = await feedback.request(method, path, auth=alice, json=body)
            assert answer.status_code == 404, (method, path, answer.text)

        # Enrolled again (a FellowEnrolled after the withdrawal, same key): the fellow is one again.
        reader = await topic_reader([topics.APPLICATIONS])

        async def enrolment() -> dict[str, Any] | None:
            found = [json.loads(r.value) for r in await reader.poll() if r.key == a.encode()]
            return next((e for e in found if e["type"] == "FellowEnrolled"), None)

        again = await eventually(enrolment, what="the fellow's FellowEnrolled") | {"id": str(uuid.uuid4())}
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topics.APPLICATIONS, json.dumps(again).encode(), key=a.encode())
        finally:
            await producer.stop()
        await eventually(lambda: mine(200), what="the feedback service to consume the new FellowEnrolled")

"""A failing service is never mistaken for a missing object: the gateway answers 5xx, never 404."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.gateway.inprocess import gateway, settings


class Failing(BaseHTTPRequestHandler):
    def _fail(self) -> None:
        body = b'{"detail": "database unavailable"}'
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _fail

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/applications/{id}/endorse"), ("GET", "/api/applications/{id}")],
)
async def test_a_sponsor_gets_a_bad_gateway_not_a_404_when_the_applications_service_fails(
    failing_service: str, method: str, path: str
) -> None:
    config = settings(applications_url=failing_service, dev_mode=True)
    async with gateway(config) as client:
        who = {"sub": "sam", "role": "sponsor", "organisation_id": str(uuid.uuid4())}
        token = (await client.post("/api/dev/token", json=who)).json()["token"]
        answer = await client.request(
            method,
            path.format(id=uuid.uuid4()),
            json={} if method == "POST" else None,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 502, answer.text

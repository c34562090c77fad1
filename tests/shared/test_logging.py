"""A logged traceback keeps its frames but never an exception's own text, which for a database error
can quote the row it refused (a person's e-mail address, say)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import IntegrityError

from shared.observability import configure_logging


@pytest.fixture
def configured() -> Iterator[None]:
    """The services' logging configuration, for this test only."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("test")
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_logged_database_error_shows_where_and_what_kind_but_not_the_values(configured: None) -> None:
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    refused = Exception("duplicate key value violates unique constraint; Key (email)=(ann.marker@example.nhs.uk)")
    params, address = {"email": "ann.marker@example.nhs.uk"}, ("10.1.2.3", 5432)
    try:
        try:
            raise ConnectionRefusedError(111, f"Connect call failed {address}")
        except OSError as cause:
            raise IntegrityError("INSERT ...", params, refused) from cause
    except IntegrityError:
        logging.getLogger("lbb.test").exception("could not record the application")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["message"] == "could not record the application"
    assert "ann.marker" not in stream.getvalue() and "10.1.2.3" not in stream.getvalue()
    assert "IntegrityError" in line["exc_info"] and "test_logging.py" in line["exc_info"]  # what and where
    assert "errno 111 (Connection refused)" in line["exc_info"]  # the cause, by kind

"""Answers built from rows name their fields: nothing else of the row leaks into them."""

from __future__ import annotations

from types import SimpleNamespace

from shared.views import view


def test_a_view_has_the_named_fields_in_order_then_the_extras_and_nothing_else() -> None:
    row = SimpleNamespace(id=1, name="Ann", email="ann@example.nhs.uk", equality={"consent": True})
    answer = view(row, "name id", state="enrolled")
    assert list(answer.items()) == [("name", "Ann"), ("id", 1), ("state", "enrolled")]
    assert "email" not in answer and "equality" not in answer

"""The rules of collaboration opportunities (services/feedback/collaboration.py), pure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.feedback import collaboration as c
from shared.errors import Conflict, Invalid, NotFound


def test_check_ins_fall_3_6_and_12_months_after_the_exchange_even_at_a_month_end() -> None:
    ended = datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert [(m, d.date().isoformat()) for m, d in c.check_ins(ended)] == [
        (3, "2027-02-28"),
        (6, "2027-05-30"),
        (12, "2027-11-30"),
    ]


@pytest.mark.parametrize(
    ("current", "wanted", "reason", "result"),
    [
        ("idea", "exploring", None, "exploring"),
        ("idea", "delivered", None, "delivered"),
        ("started", "dropped", "no funds", "dropped"),
    ],
)
def test_an_opportunity_moves_forward(current: str, wanted: str, reason: str | None, result: str) -> None:
    assert c.moved(current, wanted, reason) == result


@pytest.mark.parametrize(
    ("current", "wanted", "reason", "error"),
    [
        ("started", "exploring", None, Conflict),
        ("delivered", "dropped", "x", Conflict),
        ("dropped", "started", None, Conflict),
        ("idea", "dropped", None, Invalid),
        ("idea", "started", "why", Invalid),
    ],
)
def test_what_an_opportunity_may_not_do(current: str, wanted: str, reason: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        c.moved(current, wanted, reason)


def test_only_its_organisations_sponsors_and_admins_own_it_and_the_board_reads_it() -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    assert c.owns("sponsor", mine, [str(mine)]) and c.owns("admin", None, [str(mine)])
    assert not c.owns("sponsor", other, [str(mine)]) and not c.owns("board", None, [str(mine)])
    c.check_readable("board", None, [str(mine)])
    with pytest.raises(NotFound):
        c.check_readable("sponsor", other, [str(mine)])


def test_an_update_answers_the_latest_check_in_that_is_due_or_was_reminded() -> None:
    t = datetime(2027, 1, 1, tzinfo=UTC)
    ins = [
        c.CheckInFacts(3, t, t, None),
        c.CheckInFacts(6, t.replace(month=4), None, None),
        c.CheckInFacts(12, t.replace(month=10), None, None),
    ]
    assert c.answered_by_update(ins, t.replace(month=2)) == 3
    assert c.answered_by_update(ins, t.replace(month=5)) == 6
    assert c.answered_by_update([c.CheckInFacts(3, t, None, t)], t.replace(month=2)) is None


def test_the_map_links_organisations_by_exchanges_and_by_work_started_or_delivered() -> None:
    found = c.collaboration_map(
        [["B", "A"], ["A", "B"], ["C", "D"], ["E"]],
        [(["A", "B"], "started"), (["A", "B"], "idea"), (["C", "A"], "delivered"), (["D", "E"], "dropped")],
    )
    links = {(x["a"], x["b"]): (x["exchanges"], x["started"], x["delivered"]) for x in found["links"]}
    assert links == {("A", "B"): (2, 1, 0), ("C", "D"): (1, 0, 0), ("A", "C"): (0, 0, 1)}
    assert found["organisations"] == ["A", "B", "C", "D"]

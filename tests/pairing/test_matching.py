"""The pairing round, without I/O."""

from __future__ import annotations

import uuid

from services.pairing import matching
from services.pairing.domain import SWAP_NOTE, Fellow, Weights, reason_codes
from shared.events import PAIR_REASONS

WEEK = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday"})


def fellow(org: int, sector: str = "acute", place: str = "luton", group: str = "clinical", n: int = 0) -> Fellow:
    return Fellow(
        id=uuid.UUID(int=org * 1000 + n + 1),
        organisation_id=uuid.UUID(int=org),
        sector=sector,
        place=place,
        staff_group=group,
        availability=WEEK,
        side=group,
    )


def test_two_fellows_of_the_same_organisation_are_never_paired() -> None:
    fellows = [fellow(1, n=0), fellow(1, n=1), fellow(2, n=0), fellow(2, n=1)]
    result = matching.pair(fellows, "peer", Weights())
    assert len(result.groups) == 2
    by_id = {f.id: f for f in fellows}
    for group in result.groups:
        assert len({by_id[f].organisation_id for f in group.fellow_ids}) == len(group.fellow_ids)


def test_the_round_prefers_a_different_sector_place_and_staff_group() -> None:
    a = fellow(1, "acute", "luton", "clinical")
    b = fellow(2, "acute", "luton", "clinical")
    c = fellow(3, "local_authority", "milton_keynes", "non_clinical")
    d = fellow(4, "local_authority", "milton_keynes", "non_clinical")
    result = matching.pair([a, b, c, d], "peer", Weights())
    pairs = {frozenset(g.fellow_ids) for g in result.groups}
    assert frozenset({a.id, b.id}) not in pairs and frozenset({c.id, d.id}) not in pairs
    assert all("different sectors (acute and local_authority)" in g.reasons[0] for g in result.groups)


def test_an_odd_cohort_gets_exactly_one_trio() -> None:
    fellows = [fellow(i) for i in range(1, 6)]
    result = matching.pair(fellows, "peer", Weights())
    assert sorted(len(g.fellow_ids) for g in result.groups) == [2, 3]
    assert not result.unpaired


def test_a_fellow_with_no_one_from_another_organisation_is_reported_not_dropped() -> None:
    lonely = [fellow(1, n=0), fellow(1, n=1)]
    result = matching.pair(lonely, "peer", Weights())
    assert result.groups == []
    assert set(result.unpaired) == {f.id for f in lonely}
    assert all("another organisation" in reason for reason in result.unpaired.values())


def test_bipartite_mode_pairs_across_the_two_sides_only() -> None:
    fellows = [
        fellow(1, group="clinical"),
        fellow(2, group="clinical"),
        fellow(3, group="non_clinical"),
        fellow(4, group="non_clinical"),
    ]
    result = matching.pair(fellows, "bipartite", Weights())
    sides = {f.id: f.side for f in fellows}
    assert len(result.groups) == 2
    assert all({sides[x] for x in g.fellow_ids} == {"clinical", "non_clinical"} for g in result.groups)


def test_the_same_cohort_always_gives_the_same_pairs() -> None:
    fellows = [fellow(i % 5 + 1, n=i) for i in range(12)]
    first = matching.pair(fellows, "peer", Weights())
    again = matching.pair(list(reversed(fellows)), "peer", Weights())
    assert first == again


def test_every_reason_the_round_gives_has_a_code_for_the_topic_and_no_words_travel() -> None:
    a = Fellow(uuid.UUID(int=1), uuid.UUID(int=11), "acute", "luton", "clinical", WEEK, frozenset({"flow", "data"}))
    b = Fellow(uuid.UUID(int=2), uuid.UUID(int=12), "icb", "milton_keynes", "non_clinical", WEEK, frozenset({"data"}))
    c = Fellow(uuid.UUID(int=3), uuid.UUID(int=13), "acute", "luton", "clinical", WEEK, frozenset({"data"}))
    (trio,) = matching.pair([a, b, c], "peer", Weights()).groups
    reasons = [*trio.reasons, SWAP_NOTE]
    assert any("shared interests: data" in r for r in reasons)
    codes = reason_codes(reasons)
    assert codes == list(PAIR_REASONS)  # each reason the round gives, in the round's order, once

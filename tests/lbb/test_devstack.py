"""The dev stack's configuration of the services (no processes started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbb.devstack import SERVICES, Stack


def test_the_person_id_key_goes_to_the_applications_service_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERSON_ID_KEY", raising=False)
    ports = {name: 1 for name in (*SERVICES, "gateway")}
    stacks = [Stack(home=tmp_path, kafka_bootstrap_servers="k:9092", database_url="pg", ports=ports) for _ in "ab"]
    first, second = stacks
    assert len(first.person_id_key) == 64 and first.person_id_key != second.person_id_key  # random per stack
    monkeypatch.setenv("PERSON_ID_KEY", "k" * 40)  # an operator's key is kept, and still not shared
    keyed = Stack(home=tmp_path, kafka_bootstrap_servers="k:9092", database_url="pg", ports=ports)
    for stack in (first, keyed):
        given = {name: stack.service_env(name).get("PERSON_ID_KEY") for name in (*SERVICES, "gateway")}
        assert given == {name: stack.person_id_key if name == "applications" else None for name in given}
    assert keyed.person_id_key == "k" * 40

"""The rule of an application's e-mail (domain.applicant_email), without I/O, and that the database's
one-open-application indexes count the same states as the domain."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from services.applications import domain, models
from shared.errors import Forbidden, Invalid

CLAIM = "ann@example.nhs.uk"


@pytest.mark.parametrize("dev_mode", [True, False])
def test_the_claim_is_the_e_mail_and_the_body_may_only_repeat_it(dev_mode: bool) -> None:
    assert domain.applicant_email(CLAIM, None, dev_mode) == CLAIM
    assert domain.applicant_email(CLAIM, " ANN@Example.nhs.uk ", dev_mode) == CLAIM
    with pytest.raises(Invalid, match=r"^email: not the e-mail address your sign-in carries") as refused:
        domain.applicant_email(CLAIM, "someone.else@example.nhs.uk", dev_mode)
    assert "someone.else" not in refused.value.detail


def test_outside_dev_mode_a_sign_in_without_an_e_mail_cannot_apply_and_is_told_why() -> None:
    for given in (None, "ann@example.nhs.uk"):
        with pytest.raises(Forbidden, match=r"^your sign-in carries no e-mail address") as refused:
            domain.applicant_email(None, given, dev_mode=False)
        assert refused.value.status_code == 403


def test_in_dev_mode_without_a_claim_the_body_gives_the_e_mail_and_must_give_one() -> None:
    assert domain.applicant_email(None, "cy@example.nhs.uk", dev_mode=True) == "cy@example.nhs.uk"
    with pytest.raises(Invalid, match=r"^email: field required") as refused:
        domain.applicant_email(None, None, dev_mode=True)
    assert refused.value.status_code == 422


def _states(predicate: str) -> set[str]:
    return set(re.findall(r"'(\w+)'", predicate))


def test_the_one_open_application_indexes_count_exactly_the_domains_open_states() -> None:
    path = Path(domain.__file__).parent / "migrations" / "versions" / "0005_one_open_application_per_person.py"
    spec = importlib.util.spec_from_file_location("migration_0005", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert _states(models.OPEN.text) == _states(migration.OPEN.text) == set(domain.OPEN_STATES)
    assert not {domain.WITHDRAWN, domain.DECLINED} & set(domain.OPEN_STATES)

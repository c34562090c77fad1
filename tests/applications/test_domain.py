"""The rules of applications and cohorts, without I/O."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.applications import domain, fairness
from services.applications.settings import ApplicationsSettings
from shared.disclosure import Sum, derivable
from shared.errors import Conflict, Forbidden, Invalid
from shared.fields import BAND_PATTERN

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        ("submitted", "endorse", "endorsed"),
        ("endorsed", "shortlist", "shortlisted"),
        ("endorsed", "waitlist", "waitlisted"),
        ("endorsed", "decline", "declined"),
        ("waitlisted", "shortlist", "shortlisted"),
        ("shortlisted", "enrol", "enrolled"),
        ("submitted", "withdraw", "withdrawn"),
        ("enrolled", "withdraw", "withdrawn"),
    ],
)
def test_legal_transitions_lead_to_the_next_state(state: str, action: str, expected: str) -> None:
    assert domain.transition(state, action) == expected


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("submitted", "shortlist"),
        ("submitted", "enrol"),
        ("declined", "withdraw"),
        ("withdrawn", "withdraw"),
        ("enrolled", "endorse"),
        ("declined", "shortlist"),
    ],
)
def test_illegal_transitions_are_refused_with_the_current_state(state: str, action: str) -> None:
    with pytest.raises(domain.IllegalTransition) as refused:
        domain.transition(state, action)
    assert f"cannot {action} an application that is {state}" in str(refused.value)


@pytest.mark.parametrize("band", ["2", "7", "8a", "8d", "9", "FY1", "CT2", "ST4", "SAS", "consultant", "GP", "other"])
def test_bands_and_grades_of_the_contract_are_accepted(band: str) -> None:
    assert BAND_PATTERN.match(band)


@pytest.mark.parametrize("band", ["1", "8e", "10", "ST9", "", "registrar"])
def test_other_bands_are_refused(band: str) -> None:
    assert not BAND_PATTERN.match(band)


def test_enrolment_never_goes_over_capacity() -> None:
    assert domain.enrolment(shortlisted=10, enrolled=25, capacity=28) == 3
    assert domain.enrolment(shortlisted=2, enrolled=0, capacity=28) == 2
    assert domain.enrolment(shortlisted=5, enrolled=30, capacity=28) == 0


def test_enrolment_over_capacity_moves_shortlisted_to_waitlisted_and_a_freed_place_promotes_back() -> None:
    assert domain.transition("shortlisted", "overflow") == "waitlisted"
    assert domain.transition("waitlisted", "promote") == "shortlisted"
    with pytest.raises(domain.IllegalTransition):
        domain.transition("enrolled", "overflow")


def test_the_shortlisting_counts_are_rounded_and_a_hidden_answer_is_not_the_total_minus_the_others() -> None:
    """Seven applied, six of them white British and one Asian: once the table showed 7 consented and 6
    white British, so the hidden one was 1 by subtraction. Rounded, the hidden cell could be 1 or 2."""
    one = {"sector": "acute", "place": "luton", "state": "endorsed"}
    applicants = [
        fairness.Applicant(
            "RC9", staff_group="clinical", equality={"consent": True, "ethnicity": "white_british"}, **one
        )
    ] * 6 + [
        fairness.Applicant(
            "E06000032", staff_group="non_clinical", equality={"consent": True, "ethnicity": "asian"}, **one
        )
    ]
    view = fairness.shortlisting(applicants)
    assert view["applications"] == 5 and view["by_organisation"] == {"E06000032": "<5", "RC9": 5}
    assert view["equality"] == {"consented": 5, "by_question": {"ethnicity": {"asian": "<5", "white_british": 5}}}
    # an outsider's best: 5 to 7 consented, 5 to 7 white British, so Asian from 1 to 2: not one value
    ranges = derivable({"consented": 5, "white": 5, "asian": "<5"}, [Sum("consented", ("white", "asian"), exact=False)])
    assert ranges["asian"] == (1, 2)


def test_a_cohort_opens_now_and_its_exchange_runs_a_year_unless_dated() -> None:
    dates = domain.cohort_dates(NOW, None, None, None, None)
    assert dates == domain.CohortDates(NOW, None, date(2026, 11, 24), date(2027, 11, 24))
    with pytest.raises(Invalid, match="closes_at must be after opens_at"):
        domain.cohort_dates(NOW, NOW, NOW, None, None)
    with pytest.raises(Invalid, match="exchange_ends"):
        domain.cohort_dates(NOW, None, None, date(2027, 1, 2), date(2027, 1, 1))


def test_the_application_window_opens_at_opens_at_and_shuts_at_closes_at() -> None:
    later = NOW + timedelta(days=1)
    assert domain.is_open(NOW, NOW, None) and domain.is_open(NOW, NOW, later)
    assert not domain.is_open(NOW, later, None) and not domain.is_open(later, NOW, later)
    domain.check_window(NOW, NOW, later)
    with pytest.raises(Conflict, match="open at"):
        domain.check_window(NOW, later, None)
    with pytest.raises(Conflict, match="closed at"):
        domain.check_window(later, NOW, later)
    with pytest.raises(Conflict, match="already closed"):
        domain.check_closable(later, NOW)


def test_a_pairing_round_needs_two_fellows_and_unpublished_pairs() -> None:
    domain.check_pairing_request(2, None)
    with pytest.raises(Conflict, match="at least two enrolled fellows; this cohort has 1"):
        domain.check_pairing_request(1, None)
    with pytest.raises(Conflict, match="already published"):
        domain.check_pairing_request(28, NOW)


def test_who_reads_which_application() -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    for role in ("board", "admin"):
        assert domain.read_scope(role, "x", None).allows("someone", theirs)
    sponsor = domain.read_scope("sponsor", "sam", mine)
    assert sponsor.allows("someone", mine) and not sponsor.allows("sam", theirs)
    assert not domain.read_scope("sponsor", "sam", None).allows("sam", mine)
    applicant = domain.read_scope("applicant", "ann", None)
    assert applicant.allows("ann", theirs) and not applicant.allows("bob", theirs)
    domain.check_may_withdraw("applicant", "ann", "ann")
    domain.check_may_withdraw("board", "bea", "ann")
    with pytest.raises(Forbidden):
        domain.check_may_withdraw("sponsor", "sam", "ann")


def test_a_change_records_who_moved_an_application_from_where_to_where() -> None:
    change = domain.change("endorsed", "decline", "bea", NOW, "not now")
    assert change == domain.Change("decline", "endorsed", "declined", "not now", "bea", NOW)
    assert domain.frees_a_place("enrolled") and domain.frees_a_place("shortlisted")
    assert not domain.frees_a_place("waitlisted")
    assert domain.room_for_promotion(27, 28) and not domain.room_for_promotion(28, 28)


def test_enrolment_splits_the_shortlisted_in_order_at_capacity() -> None:
    assert domain.enrolment_split(["a", "b", "c"], enrolled=1, capacity=3) == (["a", "b"], ["c"])
    assert domain.enrolment_split(["a"], enrolled=3, capacity=3) == ([], ["a"])


def test_the_shortlisting_view_counts_and_keeps_equality_only_with_consent() -> None:
    def applicant(code: str, equality: dict[str, object] | None) -> fairness.Applicant:
        return fairness.Applicant(code, "acute", "luton", "clinical", "submitted", equality)

    view = fairness.shortlisting(
        [applicant("RC9", {"consent": True, "sex": "female"}) for _ in range(5)]
        + [applicant("RD8", {"consent": False, "sex": "male"}), applicant("RD8", None)]
    )
    assert view["applications"] == 5 and view["by_organisation"] == {"RC9": 5, "RD8": "<5"}  # 7: 5 and 2
    assert view["equality"] == {"consented": 5, "by_question": {"sex": {"female": 5}}}


def test_availability_defaults_to_monday_to_friday_and_repeats_are_dropped() -> None:
    assert domain.availability(None) == ["monday", "tuesday", "wednesday", "thursday", "friday"]
    assert domain.availability(["friday", "monday", "friday"]) == ["friday", "monday"]
    assert domain.interests(None) == [] and domain.interests(["nhs", "data", "nhs"]) == ["nhs", "data"]


def test_the_person_id_is_a_keyed_hmac_that_the_e_mail_alone_does_not_give() -> None:
    key, other = b"k" * 32, b"o" * 32
    person = domain.person_id(" Ada@Example.NHS.uk ", key)
    assert person == domain.person_id("ada@example.nhs.uk", key)  # the same person across cohorts
    assert person.version == 8 and person != domain.person_id("ada@example.nhs.uk", other)
    email = b"ada@example.nhs.uk"
    assert person.bytes[:6] == hmac.new(key, email, hashlib.sha256).digest()[:6]
    unkeyed = {uuid.uuid5(uuid.UUID("9c7fb252-9d61-8384-5796-d6b01b29f787"), email.decode()).bytes[:6]}
    unkeyed.add(hashlib.sha256(email).digest()[:6])
    assert person.bytes[:6] not in unkeyed


def test_the_person_id_key_is_required_outside_dev_mode() -> None:
    with pytest.raises(ValueError, match="PERSON_ID_KEY is required"):
        ApplicationsSettings(dev_mode=False, person_id_key=None).person_key()
    with pytest.raises(ValueError, match="at least 32"):
        ApplicationsSettings(person_id_key="short").person_key()
    assert ApplicationsSettings(person_id_key="x" * 32).person_key() == b"x" * 32
    dev = ApplicationsSettings(dev_mode=True, person_id_key="")
    assert len(dev.person_key()) == 32 and dev.person_key() == dev.person_key()

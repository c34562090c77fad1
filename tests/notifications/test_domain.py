"""Who is told what, and which reminders an event sets or settles: the pure rules."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import aiosmtplib

from services.notifications import domain, reminders
from services.notifications.diary import Revision, When
from services.notifications.domain import STAFF, Audience, messages_for
from services.notifications.mailer import _describe
from services.notifications.reminders import ReminderRules, reminders_for
from services.notifications.sending import error_class
from shared import events as ev

NOW = datetime(2027, 1, 10, 12, tzinfo=UTC)
APP, COHORT, ORG = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
A, B, C = sorted([uuid.uuid4(), uuid.uuid4(), uuid.uuid4()])
PAIR, VISIT = uuid.uuid4(), uuid.uuid4()
RULES = ReminderRules(timedelta(days=21), timedelta(days=2), timedelta(days=3), timedelta(days=14), timedelta(days=7))


def submitted() -> ev.ApplicationSubmitted:
    return ev.ApplicationSubmitted(
        application_id=APP,
        cohort_id=COHORT,
        organisation_id=ORG,
        organisation_code="RC9",
        staff_group="clinical",
        band="7",
        submitted_at=NOW,
    )


def pair_assigned(*fellows: uuid.UUID) -> ev.PairAssigned:
    return ev.PairAssigned(
        pair_id=PAIR,
        cohort_id=COHORT,
        fellow_ids=list(fellows),
        organisation_codes=["RC9", "E06000032"],
        score=3.0,
        reasons=["different sector"],
        assigned_at=NOW,
    )


def test_a_submission_tells_the_applicant_and_asks_each_sponsor_of_their_organisation() -> None:
    s1, s2 = uuid.uuid4(), uuid.uuid4()
    messages = messages_for(submitted(), Audience(sponsors=[s1, s2]))
    assert [(m.recipient_id, m.template, m.recipient_kind) for m in messages] == [
        (APP, "application_submitted", "person"),
        (s1, "endorsement_requested", STAFF),
        (s2, "endorsement_requested", STAFF),
    ]
    assert messages[1].context["about_id"] == str(APP)


def test_an_endorsement_tells_the_applicant_and_puts_the_application_before_the_board() -> None:
    board = [uuid.uuid4(), uuid.uuid4()]
    endorsed = ev.ApplicationEndorsed(application_id=APP, cohort_id=COHORT, organisation_code="RC9", endorsed_at=NOW)
    messages = messages_for(endorsed, Audience(board=board))
    assert [m.template for m in messages] == ["application_endorsed", "decision_requested", "decision_requested"]
    assert [m.recipient_id for m in messages[1:]] == board and all(m.recipient_kind == STAFF for m in messages[1:])


def test_each_board_decision_goes_to_the_applicant_and_is_essential() -> None:
    common = {"application_id": APP, "cohort_id": COHORT, "organisation_code": "RC9", "decided_at": NOW}
    for event, template in [
        (ev.ApplicationShortlisted(**common), "application_shortlisted"),
        (ev.ApplicationWaitlisted(**common), "application_waitlisted"),
        (ev.ApplicationDeclined(**common), "application_declined"),
    ]:
        (message,) = messages_for(event)
        assert (message.recipient_id, message.template, message.essential) == (APP, template, True)


def test_a_promotion_from_the_waiting_list_tells_the_applicant_a_place_has_come_up() -> None:
    """applications publishes a promotion as ApplicationShortlisted naming the withdrawn application."""
    common = {"application_id": APP, "cohort_id": COHORT, "organisation_code": "RC9", "decided_at": NOW}
    promoted = ev.ApplicationShortlisted(**common, promoted_after_withdrawal_of=uuid.uuid4())
    (message,) = messages_for(promoted)
    assert (message.recipient_id, message.template, message.essential) == (APP, "waitlist_promoted", True)
    (shortlisted,) = messages_for(ev.ApplicationShortlisted(**common))
    assert shortlisted.template == "application_shortlisted"


def test_both_fellows_hear_of_their_pair_with_the_partner_to_introduce() -> None:
    messages = messages_for(pair_assigned(A, B))
    assert {m.recipient_id: m.context["partner_ids"] for m in messages} == {A: [str(B)], B: [str(A)]}
    assert all(m.template == "pair_assigned" and m.essential for m in messages)


def test_a_trio_introduces_each_fellow_to_both_others() -> None:
    messages = messages_for(pair_assigned(A, B, C))
    assert {m.recipient_id: sorted(m.context["partner_ids"]) for m in messages} == {
        A: sorted([str(B), str(C)]),
        B: sorted([str(A), str(C)]),
        C: sorted([str(A), str(B)]),
    }


def test_a_pair_assignment_sets_a_visit_reminder_for_each_fellow_after_the_configured_days() -> None:
    plans, settled = reminders_for(pair_assigned(A, B), [], RULES)
    assert settled == []
    assert {(p.kind, p.subject_id, p.recipient_id, p.due_at) for p in plans} == {
        (reminders.VISIT_UNSCHEDULED, PAIR, A, NOW + timedelta(days=21)),
        (reminders.VISIT_UNSCHEDULED, PAIR, B, NOW + timedelta(days=21)),
    }


def test_only_who_hosts_a_visit_is_reminded_to_schedule_it_none_in_mentoring_the_sharer_in_shadowing() -> None:
    shadowing = pair_assigned(A, B).model_copy(update={"kind": "shadowing", "roles": {A: "learner", B: "sharer"}})
    plans, _ = reminders_for(shadowing, [], RULES)
    assert [(p.kind, p.recipient_id) for p in plans] == [(reminders.VISIT_UNSCHEDULED, B)]
    mentoring = pair_assigned(A, B).model_copy(update={"kind": "mentoring", "roles": {A: "mentor", B: "mentee"}})
    assert reminders_for(mentoring, [], RULES) == ([], [])
    messages = messages_for(mentoring)
    assert {(m.recipient_id, m.context["kind"], m.context["role"]) for m in messages} == {
        (A, "mentoring", "mentor"),
        (B, "mentoring", "mentee"),
    }


def test_scheduling_a_visit_settles_the_hosts_reminder_and_sets_one_to_complete_it() -> None:
    scheduled = ev.ExchangeVisitScheduled(visit_id=VISIT, pair_id=PAIR, host_fellow_id=A, date=date(2027, 2, 1))
    plans, settled = reminders_for(scheduled, [A, B], RULES)
    assert settled == [reminders.ReminderSettled(reminders.VISIT_UNSCHEDULED, PAIR, [A])]
    assert {(p.kind, p.recipient_id) for p in plans} == {
        (reminders.VISIT_UNCOMPLETED, A),
        (reminders.VISIT_UNCOMPLETED, B),
    }
    assert {p.due_at for p in plans} == {datetime(2027, 2, 3, 9, tzinfo=UTC)}
    completed = ev.ExchangeVisitCompleted(visit_id=VISIT, pair_id=PAIR, host_fellow_id=A, completed_at=NOW)
    assert reminders_for(completed, [A, B], RULES) == (
        [],
        [reminders.ReminderSettled(reminders.VISIT_UNCOMPLETED, VISIT, [A, B])],
    )


def test_a_feedback_request_sets_a_reminder_before_the_due_date_that_the_submission_settles() -> None:
    due = NOW + timedelta(days=14)
    requested = ev.FeedbackRequested(
        request_id=uuid.uuid4(), pair_id=PAIR, from_fellow_id=A, to_fellow_id=B, due_at=due
    )
    (plan,), _ = reminders_for(requested, [A, B], RULES)
    assert (plan.kind, plan.recipient_id, plan.due_at) == (reminders.FEEDBACK_DUE, A, due - timedelta(days=3))
    submitted = ev.FeedbackSubmitted(
        feedback_id=uuid.uuid4(), pair_id=PAIR, from_fellow_id=A, to_fellow_id=B, submitted_at=NOW
    )
    _, (settled,) = reminders_for(submitted, [A, B], RULES)
    assert reminders.reminder_id(settled.kind, settled.subject_id, A) == plan.id


def test_a_moved_visit_moves_its_pending_reminder_and_a_cancelled_one_settles_it() -> None:
    moved = ev.ExchangeVisitMoved(visit_id=VISIT, pair_id=PAIR, host_fellow_id=A, date=date(2027, 3, 1), moved_at=NOW)
    plans, settled = reminders_for(moved, [A, B], RULES)
    assert settled == [] and {(p.kind, p.subject_id, p.due_at, p.moves) for p in plans} == {
        (reminders.VISIT_UNCOMPLETED, VISIT, datetime(2027, 3, 3, 9, tzinfo=UTC), True)
    }
    cancelled = ev.ExchangeVisitCancelled(visit_id=VISIT, pair_id=PAIR, host_fellow_id=A, cancelled_at=NOW)
    assert reminders_for(cancelled, [A, B], RULES) == (
        [],
        [reminders.ReminderSettled(reminders.VISIT_UNCOMPLETED, VISIT, [A, B])],
    )


def test_a_mentoring_agreement_sets_check_ins_at_3_and_6_months_for_both_and_once_more_two_weeks_on() -> None:
    agreed = ev.MentoringAgreed(pair_id=PAIR, meet_every_weeks=4, agreed_at=datetime(2026, 11, 30, 10, tzinfo=UTC))
    plans, settled = reminders_for(agreed, [A, B], RULES)
    assert settled == []
    march, may = datetime(2027, 2, 28, 10, tzinfo=UTC), datetime(2027, 5, 30, 10, tzinfo=UTC)  # no 30 February
    assert sorted((p.kind, p.recipient_id, p.due_at, p.context["month"]) for p in plans) == sorted(
        [(reminders.MENTORING_CHECK_IN, f, due, m) for f in (A, B) for due, m in ((march, 3), (may, 6))]
        + [
            (reminders.MENTORING_CHECK_IN_AGAIN, f, due + timedelta(days=14), m)
            for f in (A, B)
            for due, m in ((march, 3), (may, 6))
        ]
    )
    assert {p.context["partner_ids"][0] for p in plans if p.recipient_id == A} == {str(B)}


def test_answering_a_check_in_settles_only_the_answerers_reminders_of_that_month_and_closing_settles_all() -> None:
    agreed = ev.MentoringAgreed(pair_id=PAIR, meet_every_weeks=4, agreed_at=NOW)
    plans, _ = reminders_for(agreed, [A, B], RULES)
    answered = ev.MentoringCheckInAnswered(pair_id=PAIR, month=3, fellow_id=A, answered_at=NOW)
    _, settled = reminders_for(answered, [A, B], RULES)
    stopped = {reminders.reminder_id(s.kind, s.subject_id, r) for s in settled for r in s.recipient_ids}
    assert stopped == {p.id for p in plans if p.recipient_id == A and p.context["month"] == 3}
    closed = ev.MentoringClosed(pair_id=PAIR, cohort_id=COHORT, closed_at=NOW)
    _, settled = reminders_for(closed, [A, B], RULES)
    assert {reminders.reminder_id(s.kind, s.subject_id, r) for s in settled for r in s.recipient_ids} == {
        p.id for p in plans
    }


def test_a_milestone_is_reminded_to_both_a_week_before_it_is_due_until_it_is_done() -> None:
    milestone, project = uuid.uuid4(), uuid.uuid4()
    set_ = ev.ProjectMilestoneSet(
        pair_id=PAIR, project_id=project, milestone_id=milestone, due=date(2027, 4, 8), set_at=NOW
    )
    plans, _ = reminders_for(set_, [A, B], RULES)
    assert {(p.kind, p.subject_id, p.recipient_id, p.due_at) for p in plans} == {
        (reminders.MILESTONE_DUE, milestone, f, datetime(2027, 4, 1, 9, tzinfo=UTC)) for f in (A, B)
    }
    done = ev.ProjectMilestoneDone(
        pair_id=PAIR, project_id=project, milestone_id=milestone, due=date(2027, 4, 8), done_at=NOW
    )
    assert reminders_for(done, [A, B], RULES) == (
        [],
        [reminders.ReminderSettled(reminders.MILESTONE_DUE, milestone, [A, B])],
    )


def visit_calendar(sequence: int, method: str, day: str) -> dict[str, Any]:
    """The calendar part of a visit's message: an all-day entry, revision ``sequence``."""
    return {"uid": str(VISIT), "sequence": sequence, "method": method, "date": day, "starts_at": None, "minutes": None}


def test_a_visit_tells_both_of_the_pair_with_its_calendar_entry_and_a_change_keeps_the_uid() -> None:
    scheduled = ev.ExchangeVisitScheduled(visit_id=VISIT, pair_id=PAIR, host_fellow_id=A, date=date(2027, 2, 1))
    first = messages_for(scheduled, Audience(pair_members=[A, B]), Revision(0, When(date(2027, 2, 1))))
    assert [(m.recipient_id, m.template, m.context["hosting"]) for m in first] == [
        (A, "visit_scheduled", True),
        (B, "visit_scheduled", False),
    ]
    assert first[0].context["calendar"] == visit_calendar(0, "REQUEST", "2027-02-01")
    assert first[1].context["partner_ids"] == [str(A)]
    moved = ev.ExchangeVisitMoved(visit_id=VISIT, pair_id=PAIR, host_fellow_id=A, date=date(2027, 2, 8), moved_at=NOW)
    (update, _) = messages_for(moved, Audience(pair_members=[A, B]), Revision(1, When(date(2027, 2, 8))))
    assert update.template == "visit_moved"
    assert update.context["calendar"] == visit_calendar(1, "REQUEST", "2027-02-08")
    cancelled = ev.ExchangeVisitCancelled(visit_id=VISIT, pair_id=PAIR, host_fellow_id=A, cancelled_at=NOW)
    (cancel, _) = messages_for(cancelled, Audience(pair_members=[A, B]), Revision(2, When(date(2027, 2, 8))))
    assert cancel.template == "visit_cancelled"
    assert cancel.context["calendar"] == visit_calendar(2, "CANCEL", "2027-02-08")


def test_a_planned_mentoring_meeting_has_a_start_and_a_length_and_keeps_them_when_cancelled() -> None:
    meeting = uuid.uuid4()
    planned = ev.MentoringMeetingPlanned(
        pair_id=PAIR, meeting_id=meeting, date=date(2027, 2, 1), starts_at=time(10, 30), minutes=45
    )
    (a, b) = messages_for(planned, Audience(pair_members=[A, B]))  # no revision kept yet: the first
    assert (a.template, a.context["partner_ids"], b.context["partner_ids"]) == ("meeting_planned", [str(B)], [str(A)])
    assert a.context["calendar"] == {
        "uid": str(meeting), "sequence": 0, "method": "REQUEST", "date": "2027-02-01", "starts_at": "10:30",
        "minutes": 45,
    }  # fmt: skip
    assert "about_id" not in a.context  # nobody hosts a meeting
    cancelled = ev.MentoringMeetingCancelled(pair_id=PAIR, meeting_id=meeting, cancelled_at=NOW)
    (c, _) = messages_for(
        cancelled, Audience(pair_members=[A, B]), Revision(1, When(date(2027, 2, 1), time(10, 30), 45))
    )
    assert (c.template, c.context["calendar"]["method"], c.context["calendar"]["starts_at"]) == (
        "meeting_cancelled",
        "CANCEL",
        "10:30",
    )


def test_a_learners_reflection_thanks_the_sharer_alone_and_carries_no_words() -> None:
    shared = ev.ShadowingReflectionShared(pair_id=PAIR, learner_id=A, sharer_id=B, shared_at=NOW)
    (thanks,) = messages_for(shared, Audience(pair_members=[A, B]))
    assert (thanks.recipient_id, thanks.template, thanks.context["about_id"]) == (B, "reflection_shared", str(A))
    assert "learnt" not in thanks.context and "take_back" not in thanks.context


def test_reminders_are_the_only_messages_a_person_can_mute() -> None:
    mutable = {name for name, t in domain.TEMPLATES.items() if not t.essential}
    assert mutable == set(reminders.REMINDER_TEMPLATES.values())
    for kind in reminders.REMINDER_TEMPLATES:
        assert reminders.reminder_message(kind, A, {}).essential is False


def test_a_reminder_has_the_same_id_however_often_it_is_planned() -> None:
    assert (
        reminders.reminder_id("k", PAIR, A)
        == reminders.reminder_id("k", PAIR, A)
        != reminders.reminder_id("k", PAIR, B)
    )


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    delays = [domain.retry_delay(n, 30, 300).total_seconds() for n in range(1, 7)]
    assert delays == [30, 60, 120, 240, 300, 300]


def test_a_failed_delivery_is_described_by_its_class_never_by_the_servers_reply() -> None:
    reply = "5.1.1 <ann.lovelace@example.nhs.uk>: Recipient address rejected"
    refused = _describe(aiosmtplib.SMTPRecipientRefused(550, reply, "ann.lovelace@example.nhs.uk"))
    assert refused == "refused: SMTP 550" and error_class(refused) == "refused"
    assert error_class(_describe(aiosmtplib.SMTPTimeoutError("timed out talking to ann@x"))) == "timeout"
    assert error_class(_describe(ConnectionRefusedError("ann@x"))) == "unreachable"
    assert error_class("unconfirmed: outcome unknown (unreachable: SMTPServerDisconnected)") == "unconfirmed"
    assert error_class("something nobody classified") == "unreachable"

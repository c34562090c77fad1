"""Every route the gateway only forwards, one row each, by owning service (``api.Forward``).

A row is a contract route whose whole work is checking the caller's role and the body's shape, then
one call to the service that owns the object; that service decides everything (404 for "not yours",
409 for an illegal change). Routes that do more are written out: in api.py (the applications list's
filters, the report that joins feedback and pairing), and in collaboration.py and privacy.py, which
keep their few routes together with the one that does more.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway import schemas as s
from services.gateway.api import (
    INVALID,
    Admin,
    Applicant,
    ApplicantOrBoard,
    Board,
    BoardOrAdmin,
    Everyone,
    Fellow,
    Forward,
    Sponsor,
    forwards,
)
from services.gateway.auth import CallerDep
from shared.contract import (
    AddMilestone,
    CloseMentoring,
    Empty,
    MentoringAgreement,
    MentoringCheckIn,
    MentoringMeeting,
    MoveMeeting,
    MoveVisit,
    PlanMeeting,
    Presentation,
    SelfAssessment,
    ShadowingReflection,
    StartProject,
)

router = APIRouter(prefix="/api", responses=INVALID)

# fmt: off
forwards(router, "applications", [
    Forward("GET", "/organisations", CallerDep, "organisations", model=list[s.Organisation]),
    Forward("POST", "/organisations", Admin, "create_organisation", s.CreateOrganisation, 201),
    Forward("PUT", "/organisations/{organisation_id}", Admin, "update_organisation", s.CreateOrganisation, 200,
            "Correct an organisation's code (ODS or ONS style, unique), name, sector and place (409: code taken)."),
    Forward("POST", "/organisations/{organisation_id}/retire", Admin, "retire_organisation", s.Empty, 202,
            "The organisation takes no new applications from now (409 when already retired)."),
    Forward("GET", "/cohorts", CallerDep, "list_cohorts", None, 200,
            "Every cohort, newest first, with whether it takes applications now."),
    Forward("POST", "/cohorts", Admin, "create_cohort", s.CreateCohort, 201),
    Forward("GET", "/cohorts/{cohort_id}", CallerDep, "get_cohort"),
    Forward("POST", "/cohorts/{cohort_id}/close", Admin, "close_cohort", s.Empty, 202),
    Forward("GET", "/cohorts/{cohort_id}/shortlisting", Board, "shortlisting", None, 200,
            "The fair-shortlisting counts (small numbers suppressed)."),
    Forward("POST", "/cohorts/{cohort_id}/enrol", Board, "enrol", s.Empty, 202),
], tags=["cohorts"])

forwards(router, "applications", [
    Forward("POST", "/applications", Applicant, "submit_application", s.SubmitApplication, 201),
    Forward("GET", "/applications/{application_id}", CallerDep, "get_application"),
    Forward("POST", "/applications/{application_id}/endorse", Sponsor, "endorse", s.Empty, 202),
    Forward("POST", "/applications/{application_id}/decision", Board, "decide", s.BoardDecision, 202),
    Forward("POST", "/applications/{application_id}/withdraw", ApplicantOrBoard, "withdraw", s.Empty, 202),
], tags=["applications"])

forwards(router, "applications", [
    Forward("POST", "/cohorts/{cohort_id}/pairing", Board, "request_pairing", s.Empty, 202),
], tags=["pairing"])

forwards(router, "pairing", [
    Forward("GET", "/cohorts/{cohort_id}/pairing", BoardOrAdmin, "pairing_status", None, 200,
            "The round's state and who is left out, with the reason."),
    Forward("GET", "/cohorts/{cohort_id}/pairs", Everyone, "list_pairs"),
    Forward("POST", "/cohorts/{cohort_id}/pairs/swap", Board, "swap", s.Swap, 202),
    Forward("POST", "/cohorts/{cohort_id}/pairs/publish", Board, "publish_pairs", s.Empty, 202),
    Forward("GET", "/pairs/mine", Fellow, "my_pairs", None, 200,
            "The caller's published pairs: partners (organisation, sector, place) and visits."),
    Forward("POST", "/pairs/{pair_id}/visits", Fellow, "schedule_visit", s.ScheduleVisit, 201),
    Forward("POST", "/visits/{visit_id}/complete", Fellow, "complete_visit", s.Empty, 202),
], tags=["pairing"])

forwards(router, "feedback", [
    Forward("POST", "/pairs/{pair_id}/feedback", Fellow, "give_feedback", s.GiveFeedback, 201),
    Forward("PUT", "/pairs/{pair_id}/feedback/{feedback_id}", Fellow, "correct_feedback", s.Correction, 202),
    Forward("GET", "/pairs/{pair_id}/feedback", Fellow, "my_pair_feedback"),
    Forward("GET", "/fellows/{fellow_id}/feedback", Everyone, "fellow_feedback"),
], tags=["feedback"])

forwards(router, "notifications", [
    Forward("GET", "/notifications", CallerDep, "notifications"),
    Forward("GET", "/notifications/preferences", CallerDep, "notification_preferences", model=s.Preferences),
    Forward("PUT", "/notifications/preferences", CallerDep, "set_notification_preferences", s.Preferences,
            model=s.Preferences),
    Forward("POST", "/notifications/staff-contacts", Admin, "register_staff_contact", s.StaffContactIn, 201,
            to="/staff-contacts"),
    Forward("GET", "/notifications/staff-contacts", Admin, "staff_contacts", to="/staff-contacts"),
    Forward("DELETE", "/notifications/staff-contacts/{staff_id}", Admin, "remove_staff_contact", status=202,
            to="/staff-contacts/{staff_id}"),
    Forward("GET", "/notifications/deliveries/unconfirmed", Admin, "unconfirmed_deliveries",
            to="/deliveries/unconfirmed",
            doc="Deliveries whose outcome is unknown (the sender stopped while handing them over): id, "
            "template, attempts and when, nothing personal."),
    Forward("POST", "/notifications/deliveries/{delivery_id}/resend", Admin, "resend_delivery", s.Empty, 202,
            to="/deliveries/{delivery_id}/resend",
            doc="Send an unconfirmed delivery again, with the same Message-ID, on an operator's word."),
], tags=["notifications"])

# The Programme Board's tools for a cohort's pairing: exclusions, locks, weights, preview, alternatives
forwards(router, "pairing", [
    Forward("POST", "/cohorts/{cohort_id}/exclusions", Board, "exclude", s.Exclusion, 201,
            "Never match these two fellows (409 while they are a locked pair, or once the pairs are published)."),
    Forward("POST", "/cohorts/{cohort_id}/pairs/lock", Board, "lock_pair", s.Lock, 202,
            "A re-run keeps this pair (409 with the reason when a hard rule forbids it)."),
    Forward("POST", "/cohorts/{cohort_id}/pairs/unlock", Board, "unlock_pair", s.Lock, 202),
    Forward("PUT", "/cohorts/{cohort_id}/weights", Board, "set_weights", s.PairingWeights, 200,
            "The cohort's own pairing weights, 0-20 each; its next run uses them."),
    Forward("POST", "/cohorts/{cohort_id}/pairing/preview", Board, "preview_pairing", s.Empty, 200,
            "What a re-run would give now (total, bound, pairs changed); nothing changes."),
    Forward("GET", "/cohorts/{cohort_id}/fellows/{fellow_id}/alternatives", Board, "alternatives", None, 200,
            "The fellow's five best other partners, and what forcing each would cost the cohort's total."),
], tags=["pairing"])

forwards(router, "applications", [
    Forward("GET", "/cohorts/{cohort_id}/decisions", BoardOrAdmin, "decisions", None, 200,
            "The decision trail of the cohort's applications: every change, who made it, when and why."),
], tags=["cohorts"])

# Visits after scheduling (moved, cancelled) and the shadowing learner's reflection
forwards(router, "pairing", [
    Forward("POST", "/visits/{visit_id}/move", Fellow, "move_visit", MoveVisit, 202,
            "Another day for a visit that has not happened (inside the exchange window)."),
    Forward("POST", "/visits/{visit_id}/cancel", Fellow, "cancel_visit", Empty, 202,
            "A visit that will not happen; the host's visit may be scheduled again."),
], tags=["pairing"])

forwards(router, "pairing", [
    Forward("POST", "/pairs/{pair_id}/reflection", Fellow, "share_reflection", ShadowingReflection, 201,
            "The learner's thank-you after the visit: what they learnt, one idea to take back."),
    Forward("GET", "/pairs/{pair_id}/reflection", Fellow, "reflection", None, 200,
            "The learner's reflection: the learner and the sharer alone."),
], tags=["shadowing"])

# Mentoring: agreement, meetings, check-ins, closure; the board's progress counts
forwards(router, "pairing", [
    Forward("POST", "/pairs/{pair_id}/agreement", Fellow, "agree", MentoringAgreement, 202,
            "Goals and how often to meet (either of the pair; the latest word stands)."),
    Forward("POST", "/pairs/{pair_id}/meetings", Fellow, "log_meeting", MentoringMeeting, 201,
            "A meeting that happened; its notes are seen by the pair alone."),
    Forward("GET", "/pairs/{pair_id}/meetings", Fellow, "meetings"),
    Forward("POST", "/pairs/{pair_id}/meetings/planned", Fellow, "plan_meeting", PlanMeeting, 201,
            "A meeting in the diary: both of the pair get a calendar invitation."),
    Forward("POST", "/meetings/{meeting_id}/move", Fellow, "move_meeting", MoveMeeting, 202,
            "Another day or time for a planned meeting: the invitation is updated."),
    Forward("POST", "/meetings/{meeting_id}/cancel", Fellow, "cancel_meeting", Empty, 202,
            "A planned meeting that will not happen: the invitation is cancelled."),
    Forward("POST", "/pairs/{pair_id}/check-ins", Fellow, "check_in", MentoringCheckIn, 201,
            "Is it working, at 3 and at 6 months (private; the board sees how many answered)."),
    Forward("POST", "/pairs/{pair_id}/close", Fellow, "close", CloseMentoring, 202,
            "Close with a reflection; the relationship ends when both have, and feedback opens."),
    Forward("GET", "/cohorts/{cohort_id}/mentoring", BoardOrAdmin, "progress", None, 200,
            "A mentoring cohort's progress in counts: agreements, pairs that met, check-ins answered."),
], tags=["mentoring"])

# Paired learning: the joint improvement project (pairing) and the self-assessments (feedback)
forwards(router, "pairing", [
    Forward("POST", "/pairs/{pair_id}/project", Fellow, "start_project", StartProject, 201,
            "The pair's joint improvement project: title, aim and how they will measure it (one per pair)."),
    Forward("GET", "/pairs/{pair_id}/project", Fellow, "project"),
    Forward("POST", "/pairs/{pair_id}/project/milestones", Fellow, "add_milestone", AddMilestone, 201,
            "A milestone due inside the cohort's dates (422 otherwise)."),
    Forward("POST", "/pairs/{pair_id}/project/milestones/{milestone_id}/done", Fellow, "milestone_done", Empty, 202),
    Forward("POST", "/pairs/{pair_id}/project/presentation", Fellow, "present", Presentation, 202),
], tags=["paired learning"])

forwards(router, "feedback", [
    Forward("POST", "/fellows/{fellow_id}/self-assessments", Fellow, "self_assess", SelfAssessment, 201,
            "Your own view of yourself, before or after: private to you, reported only in aggregate."),
    Forward("GET", "/fellows/{fellow_id}/self-assessments", Fellow, "my_self_assessments"),
], tags=["paired learning"])
# fmt: on

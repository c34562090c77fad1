"""Transaction scripts of the applications service: load rows in the caller's transaction, ask the
domain, save, stage the events in the outbox. Refusals are ``shared.errors``.

A package because the scripts outgrew one module (400 lines): ``cohorts`` (organisations and cohorts),
``applications`` (submission, the state machine, enrolment), ``retention`` and ``erasure``; callers import
``commands`` and find every script here by name.
"""

from services.applications.commands.applications import (
    ApplicationForm,
    decide,
    endorse,
    enrol,
    submit_application,
    withdraw,
)
from services.applications.commands.cohorts import (
    CohortForm,
    close_cohort,
    create_cohort,
    create_organisation,
    record_pairs_published,
    request_pairing,
    retire_organisation,
    seed_organisations,
    update_organisation,
)
from services.applications.commands.erasure import erase_person, record_erased, request_erasure
from services.applications.commands.retention import purge_expired

__all__ = [
    "ApplicationForm",
    "CohortForm",
    "close_cohort",
    "create_cohort",
    "create_organisation",
    "decide",
    "endorse",
    "enrol",
    "erase_person",
    "purge_expired",
    "record_erased",
    "record_pairs_published",
    "request_erasure",
    "request_pairing",
    "retire_organisation",
    "seed_organisations",
    "submit_application",
    "update_organisation",
    "withdraw",
]

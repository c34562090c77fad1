"""Transaction scripts of the pairing service, called by ``api`` and ``handlers`` in the caller's transaction:
load rows, ask ``domain``, save, add the events to the outbox; refusals raise ``shared.errors``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import cast as sql_cast
from sqlalchemy import delete, false, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing import capacity, domain, matching, queries
from services.pairing.models import (
    Agreement,
    CheckIn,
    Closure,
    EarlierPairing,
    Fellow,
    Pair,
    PairingRound,
    Project,
    Reflection,
    Visit,
    applicants,
    outbox,
)
from services.pairing.settings import PairingSettings
from shared import events as ev
from shared import privacy, programmes
from shared.db import upsert
from shared.errors import Conflict, Invalid, NotFound

# A fellow enrolled again (after a withdrawal) has the projection overwritten.
_UPSERT_FELLOW = upsert(Fellow.__table__)  # type: ignore[arg-type]


def _as_domain(row: Fellow, mode: str, interests: Iterable[str] = ()) -> domain.Fellow:
    return domain.Fellow(
        id=row.id,
        organisation_id=row.organisation_id,
        sector=row.sector,
        place=row.place,
        staff_group=row.staff_group,
        availability=frozenset(row.availability),
        interests=frozenset(interests),
        side=row.staff_group if mode == "bipartite" else "",
        person_id=row.person_id,
        role=row.role,
        capacity=row.capacity,
    )


async def _fellows(s: AsyncSession, where: Any, mode: str) -> dict[uuid.UUID, tuple[Fellow, domain.Fellow]]:
    """The fellows ``where`` selects, each with its domain value: the interests come from the applicant
    projection (ContactRecorded, an internal topic), never from an integration event."""
    table = applicants.table
    query = select(Fellow, table.c.interests).outerjoin(table, table.c.application_id == Fellow.id).where(where)
    rows = (await s.execute(query)).all()
    return {row.id: (row, _as_domain(row, mode, interests or ())) for row, interests in rows}


async def _contacts_missing(s: AsyncSession, ids: Sequence[uuid.UUID]) -> bool:
    """Whether a fellow here has no contact yet (ContactRecorded: their interests and declared conflicts,
    which the round scores and rules on). An erased fellow (no person any more) and one who withdrew are
    not waited for."""
    table = applicants.table
    missing = (
        select(Fellow.id)
        .outerjoin(table, table.c.application_id == Fellow.id)
        .where(Fellow.id.in_(ids), Fellow.person_id.is_not(None), Fellow.withdrawn.is_(False))
        .where(table.c.application_id.is_(None))
        .limit(1)
    )
    return await s.scalar(missing) is not None


async def earlier_pairs(s: AsyncSession, people: Iterable[uuid.UUID]) -> set[frozenset[uuid.UUID]]:
    """Which of these people were in one published pair before (any cohort)."""
    wanted = list(set(people))
    if len(wanted) < 2:
        return set()
    rows = await s.execute(
        select(EarlierPairing.person_a, EarlierPairing.person_b).where(
            EarlierPairing.person_a.in_(wanted), EarlierPairing.person_b.in_(wanted)
        )
    )
    return {frozenset((a, b)) for a, b in rows.all()}


# --- consumed events ----------------------------------------------------------------------


async def enrol_fellows(s: AsyncSession, events: Sequence[ev.FellowEnrolled], settings: PairingSettings) -> None:
    """Every fellow upserted in one executemany, then each cohort's waiting pairing round (if any) looked
    at once, not once per fellow (a board enrolling a cohort of hundreds puts them on the topic together)."""
    await s.flush()  # ORM changes earlier in this transaction (a withdrawal, say) go first
    rows = [e.model_dump(exclude={"fellow_id"}) | {"id": e.fellow_id, "withdrawn": False} for e in events]
    await s.execute(_UPSERT_FELLOW, rows)
    enrolled = {e.fellow_id for e in events}
    for loaded in list(s.identity_map.values()):  # loaded earlier in the batch: now stale
        if isinstance(loaded, Fellow) and loaded.id in enrolled:
            s.expire(loaded)
    await _run_waiting(s, dict.fromkeys(e.cohort_id for e in events), settings)


async def record_contacts(s: AsyncSession, events: Sequence[ev.ContactRecorded], settings: PairingSettings) -> None:
    """A run of ContactRecorded kept (subject, interests, declared conflicts), then every waiting round
    that was waiting for one of them looked at: the contacts topic and the applications topic are read
    apart, so a contact may come after its fellow's enrolment and the cohort's pairing request."""
    await applicants.record(s, events)
    arrived = {str(e.person_id) for e in events}
    waiting = (await s.execute(select(PairingRound.cohort_id, PairingRound.fellow_ids).where(_WAITING))).all()
    await _run_waiting(s, [cohort for cohort, fellows in waiting if arrived.intersection(fellows)], settings)


_WAITING = PairingRound.status == domain.WAITING


async def _run_waiting(s: AsyncSession, cohort_ids: Iterable[uuid.UUID], settings: PairingSettings) -> None:
    for cohort_id in cohort_ids:
        waiting = await s.scalar(
            select(PairingRound).where(PairingRound.cohort_id == cohort_id, _WAITING).with_for_update()
        )
        if waiting is not None:
            await run_if_ready(s, waiting, settings)


async def withdraw_fellow(s: AsyncSession, fellow_id: uuid.UUID) -> None:
    fellow = await s.get(Fellow, fellow_id)
    if fellow is not None:
        fellow.withdrawn = True


async def request_pairing(s: AsyncSession, event: ev.PairingRequested, settings: PairingSettings) -> None:
    """Take the cohort's (latest) pairing request and pair it as soon as every fellow is projected here."""
    pairing_round = await s.get(PairingRound, event.cohort_id, with_for_update=True)
    if not domain.may_pair_again(pairing_round.status if pairing_round else None, event.kind):
        return  # pairs are public now: a late or repeated request changes nothing
    if pairing_round is None:
        pairing_round = PairingRound(cohort_id=event.cohort_id)
        s.add(pairing_round)
    pairing_round.fellow_ids = [str(f) for f in event.fellow_ids]
    pairing_round.pairing_mode = event.pairing_mode
    pairing_round.kind = event.kind
    pairing_round.auto_publish = event.auto_publish
    pairing_round.exchange_starts = event.exchange_starts
    pairing_round.exchange_ends = event.exchange_ends
    pairing_round.status = domain.WAITING
    pairing_round.unpaired = {}
    pairing_round.requested_at = event.requested_at
    pairing_round.updated_at = datetime.now(UTC)
    await s.flush()
    await run_if_ready(s, pairing_round, settings)


async def run_if_ready(s: AsyncSession, pairing_round: PairingRound, settings: PairingSettings) -> bool:
    """Pair the round's fellows once all of them are projected here; False while some are missing."""
    if not domain.may_pair_again(pairing_round.status, pairing_round.kind):
        return False
    wanted = [uuid.UUID(f) for f in pairing_round.fellow_ids]
    # the one-row check first: a round waiting for contacts is looked at with every run of them
    rows = (
        {}
        if await _contacts_missing(s, wanted)
        else await _fellows(s, Fellow.id.in_(wanted), pairing_round.pairing_mode)
    )
    if len(rows) < len(wanted):
        pairing_round.status = domain.WAITING
        return False
    fellows = [fellow for row, fellow in rows.values() if not row.withdrawn]
    # published matches stay (the kinds that run again as people join): they are kept as locks
    published = (
        await s.scalars(select(Pair).where(Pair.cohort_id == pairing_round.cohort_id, Pair.published_at.is_not(None)))
    ).all()
    kept = {frozenset(uuid.UUID(f) for f in p.fellow_ids) for p in published}
    result = await pair_round(s, pairing_round, fellows, settings, kept)
    await s.execute(delete(Pair).where(Pair.cohort_id == pairing_round.cohort_id, Pair.published_at.is_(None)))
    now = datetime.now(UTC)
    role_of = {str(f.id): f.role for f in fellows}
    for group in result.groups:
        if frozenset(group.fellow_ids) in kept:
            continue
        ids = [str(f) for f in group.fellow_ids]
        s.add(
            Pair(
                id=uuid.uuid4(),
                cohort_id=pairing_round.cohort_id,
                fellow_ids=ids,
                score=group.score,
                reasons=list(group.reasons),
                roles={f: role_of.get(f, "fellow") for f in ids},
                created_at=now,
            )
        )
    pairing_round.unpaired = {str(k): v for k, v in result.unpaired.items()}
    pairing_round.status = domain.PAIRED
    pairing_round.updated_at = now
    await s.flush()
    if pairing_round.auto_publish:
        await _publish(s, pairing_round)
    return True


async def pair_round(
    s: AsyncSession,
    pairing_round: PairingRound,
    fellows: list[domain.Fellow],
    settings: PairingSettings,
    published: Iterable[frozenset[uuid.UUID]] = (),
) -> domain.Round:
    """The optimal round of these fellows under the cohort's rules: the board's weights, exclusions and
    locks, and the fellows' declared conflicts (nothing is saved). In the kinds where one role hosts
    (shadowing, mentoring) each other fellow goes to one host within its places, ``published`` kept."""
    history = await earlier_pairs(s, [f.person for f in fellows])
    rules = await queries.board_rules(s, pairing_round.cohort_id, fellows, settings.pairing_weights)
    host = programmes.kind(pairing_round.kind).host
    if host:
        locks = [*published, *rules.locks]
        return await asyncio.to_thread(capacity.round_of, fellows, host, rules.weights, history, rules.forbidden, locks)
    mode = pairing_round.pairing_mode
    locks = matching.usable_locks(fellows, mode, rules.locks, rules.forbidden)
    # the matcher is CPU-bound: run it off the event loop so the service keeps serving meanwhile
    return await asyncio.to_thread(matching.pair, fellows, mode, rules.weights, history, rules.forbidden, locks)


async def round_fellows(s: AsyncSession, pairing_round: PairingRound) -> list[domain.Fellow]:
    """The fellows a round pairs: those it was asked for that are projected here and not withdrawn."""
    wanted = [uuid.UUID(f) for f in pairing_round.fellow_ids]
    rows = await _fellows(s, Fellow.id.in_(wanted), pairing_round.pairing_mode)
    return [fellow for row, fellow in rows.values() if not row.withdrawn]


# --- the board ----------------------------------------------------------------------------


async def _round_to_change(s: AsyncSession, cohort_id: uuid.UUID, change: str) -> PairingRound:
    pairing_round = await s.get(PairingRound, cohort_id, with_for_update=True)
    refused = domain.board_change_refused(pairing_round.status if pairing_round else None, change)
    if refused is not None:
        detail, status = refused
        raise Conflict(detail, status=status)
    assert pairing_round is not None
    return pairing_round


async def publish_pairs(s: AsyncSession, cohort_id: uuid.UUID) -> int:
    """The board publishes the cohort's pairs; how many were published. Refused (409) while a pair breaks an
    exclusion the board made after the round: a re-run first."""
    pairing_round = await _round_to_change(s, cohort_id, "publish")
    ruled_out = await queries.exclusions(s, cohort_id)
    groups = [
        {uuid.UUID(f) for f in ids}
        for ids in await s.scalars(select(Pair.fellow_ids).where(Pair.cohort_id == cohort_id))
    ]
    if any(pair <= group for group in groups for pair in ruled_out):
        raise Conflict(f"a pair of this cohort breaks an exclusion ({domain.RULED_OUT}): run the pairing again first")
    return await _publish(s, pairing_round)


async def _publish(s: AsyncSession, pairing_round: PairingRound) -> int:
    """Publish every pair of the round: one PairAssigned each, exactly once."""
    pairs = (
        await s.scalars(select(Pair).where(Pair.cohort_id == pairing_round.cohort_id, Pair.published_at.is_(None)))
    ).all()
    now = datetime.now(UTC)
    fellows = (
        await s.execute(
            select(Fellow.id, Fellow.organisation_code, Fellow.person_id).where(
                Fellow.cohort_id == pairing_round.cohort_id
            )
        )
    ).all()
    codes = {f.id: f.organisation_code for f in fellows}
    person = {f.id: f.person_id or f.id for f in fellows}
    for p in pairs:
        p.published_at = now
        met = domain.met(person.get(uuid.UUID(f), uuid.UUID(f)) for f in p.fellow_ids)
        history = [{"person_a": a, "person_b": b, "pair_id": p.id, "paired_at": now} for a, b in met]
        if history:
            await s.execute(insert(EarlierPairing).values(history).on_conflict_do_nothing())
        await outbox.add(
            s,
            ev.PairAssigned(
                pair_id=p.id,
                cohort_id=p.cohort_id,
                fellow_ids=[uuid.UUID(f) for f in p.fellow_ids],
                organisation_codes=[codes.get(uuid.UUID(f), "") for f in p.fellow_ids],
                score=p.score,
                reasons=domain.reason_codes(p.reasons),
                assigned_at=now,
                kind=programmes.kind(pairing_round.kind).name,
                roles={uuid.UUID(f): role for f, role in p.roles.items()},
            ),
        )
    pairing_round.status = domain.PUBLISHED
    pairing_round.updated_at = now
    return len(pairs)


async def swap(
    s: AsyncSession, cohort_id: uuid.UUID, fellow_a: uuid.UUID, fellow_b: uuid.UUID, settings: PairingSettings
) -> list[uuid.UUID]:
    """The board exchanges two fellows between their pairs before publishing; the ids of the two pairs."""
    pairing_round = await _round_to_change(s, cohort_id, "swap")
    pairs = (await s.scalars(select(Pair).where(Pair.cohort_id == cohort_id).with_for_update())).all()
    swapped = domain.swap([p.fellow_ids for p in pairs], str(fellow_a), str(fellow_b))
    if isinstance(swapped, str):
        raise Invalid(swapped)
    at_a, at_b, new_a, new_b = swapped
    mode = pairing_round.pairing_mode
    rows = {str(k): fellow for k, (_, fellow) in (await _fellows(s, Fellow.cohort_id == cohort_id, mode)).items()}
    history = await earlier_pairs(s, [f.person for f in rows.values()])
    rules = await queries.board_rules(s, cohort_id, rows.values(), settings.pairing_weights)
    scored = []
    for members in (new_a, new_b):
        chosen = [rows[f] for f in members]
        group = domain.score_group(chosen, mode, rules.weights, history)
        if isinstance(group, str):
            raise Conflict(f"that swap breaks the hard rule: {group}")
        if any(frozenset({a.id, b.id}) in rules.forbidden for a in chosen for b in chosen if a.id < b.id):
            raise Conflict(f"that swap breaks the hard rule: {domain.RULED_OUT}")
        scored.append(group)
    changed = [pairs[at_a], pairs[at_b]]
    for p, group in zip(changed, scored, strict=True):
        p.fellow_ids = [str(f) for f in group.fellow_ids]
        p.score = group.score
        p.reasons = [*group.reasons, domain.SWAP_NOTE]
    return [p.id for p in changed]


# --- a pair's own commands (visits.py, mentoring.py, projects.py) ---------------------------------


@dataclass(frozen=True)
class MyPair:
    pair: Pair  # locked
    me: uuid.UUID  # which of its fellows the caller is
    round: PairingRound


async def my_pair(
    s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], kind: str | None = None, other_kind: str = ""
) -> MyPair:
    """The published pair (locked) one of the caller's fellows is in, else 404 like a wrong id; with
    ``kind``, a pair of another kind of cohort is refused (409, ``other_kind`` says why)."""
    pair = await s.get(Pair, pair_id, with_for_update=True)
    me = next((f for f in mine if pair is not None and str(f) in pair.fellow_ids), None)
    if pair is None or me is None:
        raise NotFound("no such pair")
    pairing_round = await s.get(PairingRound, pair.cohort_id)
    assert pairing_round is not None
    if kind is not None and pairing_round.kind != kind:
        raise Conflict(other_kind)
    if pair.published_at is None:
        raise Conflict("this pair is not published yet")
    return MyPair(pair, me, pairing_round)


# --- erasure (shared/privacy.py) ----------------------------------------------------------------------


async def erase_person(s: AsyncSession, event: ev.PersonErasureRequested) -> None:
    """Forget a person: their subject and interests, their pseudonym and the earlier pairings it
    links (a person erased who applies again is new here), the interests their pairs' reasons name,
    and their subject as who scheduled a visit. Their fellow rows, pairs and visits stay (ids,
    organisations, states), so the other fellows keep their pair and the counts stay right."""
    ids = privacy.erased_ids(event)
    subjects = await applicants.forget(s, ids)
    await s.execute(update(Fellow).where(Fellow.id.in_(ids)).values(person_id=None))
    if event.person_id is not None:
        await s.execute(
            delete(EarlierPairing).where(
                or_(EarlierPairing.person_a == event.person_id, EarlierPairing.person_b == event.person_id)
            )
        )
    listed = or_(false(), *(sql_cast(Pair.fellow_ids, JSONB).contains([str(i)]) for i in ids))
    for pair in (await s.scalars(select(Pair).where(listed).with_for_update())).all():
        pair.reasons = domain.reasons_without_interests(pair.reasons)
    if subjects:
        await s.execute(
            update(Visit).where(Visit.scheduled_by.in_(subjects)).values(scheduled_by=privacy.FORMER_FELLOW)
        )
        former = privacy.FORMER_FELLOW
        await s.execute(update(Agreement).where(Agreement.agreed_by.in_(subjects)).values(agreed_by=former))
        await s.execute(update(Project).where(Project.created_by.in_(subjects)).values(created_by=former))
    # mentoring: what they answered and reflected is theirs; the pair's meetings stay (their partner's too)
    await s.execute(update(CheckIn).where(CheckIn.fellow_id.in_(ids)).values(comment=None))
    await s.execute(update(Closure).where(Closure.fellow_id.in_(ids)).values(reflection=""))
    await s.execute(update(Reflection).where(Reflection.learner_id.in_(ids)).values(learnt="", take_back=""))
    await privacy.confirm(s, outbox, event, "pairing")

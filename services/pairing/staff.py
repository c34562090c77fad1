"""Read routes the staff pages need: a fellow's own published pairs, partners and visits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from services.pairing.models import Fellow, Pair, PairingRound, Visit
from shared.identity import CallerDep
from shared.service import RuntimeDep

router = APIRouter()


@router.get("/pairs/mine")
async def my_pairs(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """The caller's published pairs (by the fellow ids the gateway vouches for); nobody else's."""
    mine = sorted(str(f) for f in caller.fellow_ids)
    if not mine:
        return []
    async with runtime.transaction() as s:
        cohorts = select(Fellow.cohort_id).where(Fellow.id.in_(caller.fellow_ids))
        candidates = await s.scalars(
            select(Pair)
            .where(Pair.cohort_id.in_(cohorts), Pair.published_at.is_not(None))
            .order_by(Pair.created_at, Pair.id)
        )
        pairs = [p for p in candidates.all() if set(mine) & set(p.fellow_ids)]
        ids = {f for p in pairs for f in p.fellow_ids}
        fellows = {str(f.id): f for f in (await s.scalars(select(Fellow).where(Fellow.id.in_(ids)))).all()}
        visits = (
            (await s.scalars(select(Visit).where(Visit.pair_id.in_([p.id for p in pairs])).order_by(Visit.date))).all()
            if pairs
            else []
        )
        windows = {
            r.cohort_id: r
            for r in (
                await s.scalars(select(PairingRound).where(PairingRound.cohort_id.in_({p.cohort_id for p in pairs})))
            ).all()
        }
    out = []
    for p in pairs:
        me = next(f for f in p.fellow_ids if f in mine)
        window = windows.get(p.cohort_id)
        out.append(
            {
                "id": p.id,
                "cohort_id": p.cohort_id,
                "fellow_id": me,
                "fellow_ids": p.fellow_ids,
                "partners": [
                    {
                        "fellow_id": f,
                        "organisation_id": fellows[f].organisation_id if f in fellows else None,
                        "organisation_code": fellows[f].organisation_code if f in fellows else None,
                        "sector": fellows[f].sector if f in fellows else None,
                        "place": fellows[f].place if f in fellows else None,
                    }
                    for f in p.fellow_ids
                    if f != me
                ],
                "reasons": p.reasons,
                "completed": p.completed_at is not None,
                "exchange_starts": window.exchange_starts if window else None,
                "exchange_ends": window.exchange_ends if window else None,
                "visits": [
                    {
                        "id": v.id,
                        "host_fellow_id": v.host_fellow_id,
                        "date": v.date,
                        "completed": v.completed_at is not None,
                    }
                    for v in visits
                    if v.pair_id == p.id
                ],
            }
        )
    return out

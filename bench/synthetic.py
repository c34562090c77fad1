"""Seeded synthetic cohorts with a realistic mix, for the pairing benchmark and tests.

About 15 organisations for 28 fellows and one more organisation per 40 staff beyond that; every
organisation has a sector and a place from the contract; half the fellows are clinical; each is free on
a random set of weekdays and names 3 interests out of 20; some pairs of fellows were paired before.
"""

from __future__ import annotations

import random
import uuid

from services.pairing.domain import Fellow
from shared.events import PLACES, SECTORS

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
INTERESTS = tuple(f"interest-{k:02d}" for k in range(20))


def organisations_for(n: int) -> int:
    return 15 + max(0, n - 28) // 40


def cohort(n: int, seed: int = 1, earlier_share: float = 0.05) -> tuple[list[Fellow], list[frozenset[uuid.UUID]]]:
    """``n`` fellows and the earlier pairings among them (pairs of person ids)."""
    rng = random.Random(seed * 1_000_003 + n)
    orgs = []
    for _ in range(organisations_for(n)):
        orgs.append((uuid.UUID(int=rng.getrandbits(128)), rng.choice(SECTORS), rng.choice(PLACES)))
    fellows = []
    for k in range(n):
        org_id, sector, place = rng.choice(orgs)
        days = frozenset(d for d in WEEKDAYS if rng.random() < 0.6) or frozenset({rng.choice(WEEKDAYS)})
        group = "clinical" if k % 2 == 0 else "non_clinical"
        fellows.append(
            Fellow(
                id=uuid.UUID(int=rng.getrandbits(128)),
                organisation_id=org_id,
                sector=sector,
                place=place,
                staff_group=group,
                availability=days,
                interests=frozenset(rng.sample(INTERESTS, 3)),
                side=group,
                person_id=uuid.UUID(int=rng.getrandbits(128)),
            )
        )
    earlier: list[frozenset[uuid.UUID]] = []
    for _ in range(int(n * earlier_share)):
        a, b = rng.sample(fellows, 2)
        if a.organisation_id != b.organisation_id:
            earlier.append(frozenset({a.person, b.person}))
    return fellows, earlier


MIXES = {"even": None, "25%": 0.25, "40%": 0.40, "45%": 0.45, "55%": 0.55}  # share of the largest organisation


def mixed(
    n: int, largest: float | None, seed: int = 1, excluded: float = 0.01, locked: float = 0.05
) -> tuple[list[Fellow], list[frozenset[uuid.UUID]], list[frozenset[uuid.UUID]], list[frozenset[uuid.UUID]]]:
    """A cohort as ``cohort`` makes it, but one organisation (an acute trust) sends ``largest`` of the
    fellows (``None``: the even spread), a second 10 % and the rest come from many small ones; then
    ``excluded`` x n/2 pairs ruled out (conflicts, the board's exclusions: each a fellow and a partner it
    would like, same sector and place aside) and ``locked`` x n/2 pairs kept by the board (disjoint,
    allowed in both modes: other organisation, other side).

    Returns the fellows, the earlier pairings (person ids), the forbidden and the locked pairs (fellow ids).
    """
    fellows, earlier = cohort(n, seed)
    rng = random.Random(seed * 7_000_003 + n * 11 + int(1000 * (largest or 0)))
    if largest is not None:
        small = max(3, n // 40)
        orgs = [
            (uuid.UUID(int=rng.getrandbits(128)), rng.choice(SECTORS), rng.choice(PLACES)) for _ in range(small + 2)
        ]
        shares = [largest, 0.10] + [max(0.0, 0.9 - largest) / small] * small
        picked = rng.choices(orgs, weights=shares, k=n)
        fellows = [
            Fellow(**{**f.__dict__, "organisation_id": o, "sector": s, "place": p})
            for f, (o, s, p) in zip(fellows, picked, strict=True)
        ]

    def fits(a: Fellow, b: Fellow) -> bool:
        return a.organisation_id != b.organisation_id and a.side != b.side

    forbidden: set[frozenset[uuid.UUID]] = set()
    while len(forbidden) < int(excluded * n / 2) and n >= 2:
        a = rng.choice(fellows)
        liked = [b for b in rng.sample(fellows, min(n, 40)) if fits(a, b)]
        best = max(
            liked, key=lambda b: (len(a.interests & b.interests), len(a.availability & b.availability)), default=None
        )
        if best is not None:
            forbidden.add(frozenset({a.id, best.id}))
    locks: list[frozenset[uuid.UUID]] = []
    free = list(fellows)
    rng.shuffle(free)
    taken: set[uuid.UUID] = set()
    for a in free:
        if len(locks) >= int(locked * n / 2):
            break
        if a.id in taken:
            continue
        b = next((b for b in rng.sample(free, min(n, 20)) if b.id not in taken and b.id != a.id and fits(a, b)), None)
        if b is not None and frozenset({a.id, b.id}) not in forbidden:
            locks.append(frozenset({a.id, b.id}))
            taken |= {a.id, b.id}
    return fellows, earlier, sorted(forbidden, key=sorted), locks

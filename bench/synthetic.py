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

"""Demo data: the partners of the Bedfordshire, Luton and Milton Keynes ICS (seed 004).

Codes are ODS codes for NHS bodies, ONS codes for councils, and local codes for the rest.
"""

from __future__ import annotations

import uuid
from typing import Any

# (code, name, sector, place)
BLMK_PARTNERS: tuple[tuple[str, str, str, str], ...] = (
    ("E06000055", "Bedford Borough Council", "local_authority", "bedford_borough"),
    ("E06000056", "Central Bedfordshire Council", "local_authority", "central_bedfordshire"),
    ("E06000032", "Luton Borough Council", "local_authority", "luton"),
    ("E06000042", "Milton Keynes City Council", "local_authority", "milton_keynes"),
    ("RC9", "Bedfordshire Hospitals NHS Foundation Trust", "acute", "luton"),
    ("RD8", "Milton Keynes University Hospital NHS Foundation Trust", "acute", "milton_keynes"),
    ("RYE", "South Central Ambulance Service NHS Foundation Trust", "ambulance", "milton_keynes"),
    ("RYC", "East of England Ambulance Service NHS Trust", "ambulance", "other"),
    ("QHG", "Bedfordshire, Luton and Milton Keynes Integrated Care Board", "icb", "other"),
    ("RWK", "East London NHS Foundation Trust", "mental_health", "bedford_borough"),
    ("RV3", "Central and North West London NHS Foundation Trust", "community", "milton_keynes"),
    ("RYV", "Cambridgeshire Community Services NHS Trust", "community", "luton"),
    ("HW-BED", "Healthwatch Bedford Borough", "healthwatch", "bedford_borough"),
    ("HW-CBD", "Healthwatch Central Bedfordshire", "healthwatch", "central_bedfordshire"),
    ("HW-LUT", "Healthwatch Luton", "healthwatch", "luton"),
    ("HW-MK", "Healthwatch Milton Keynes", "healthwatch", "milton_keynes"),
    ("PCN-BED", "Bedford Borough Primary Care Networks", "primary_care", "bedford_borough"),
    ("PCN-CBD", "Central Bedfordshire Primary Care Networks", "primary_care", "central_bedfordshire"),
    ("PCN-LUT", "Luton Primary Care Networks", "primary_care", "luton"),
    ("PCN-MK", "Milton Keynes Primary Care Networks", "primary_care", "milton_keynes"),
    ("VCSE-BLMK", "BLMK Voluntary, Community and Social Enterprise Partnership Forum", "vcse", "other"),
    ("BFRS", "Bedfordshire Fire and Rescue Service", "fire_rescue", "central_bedfordshire"),
)

# Stable ids, so demo data and the tests that use it agree across restarts.
_NAMESPACE = uuid.UUID("5b658500-fe21-49cb-9c7f-b2529d618384")


def organisation_id(code: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, code)


def partners() -> list[dict[str, Any]]:
    """The partners as organisation rows (``commands.seed_organisations`` inserts the missing ones)."""
    return [
        {"id": organisation_id(code), "code": code, "name": name, "sector": sector, "place": place}
        for code, name, sector, place in BLMK_PARTNERS
    ]

"""Answers and events built from rows: the named attributes of a row as a dict.

An answer names the fields it shows, never a whole row: a row may hold what must not be shown.
"""

from __future__ import annotations

from typing import Any


def view(row: object, names: str, /, **more: Any) -> dict[str, Any]:
    """``{name: row.name}`` for each of the space-separated ``names``, in that order, then ``more``."""
    return {name: getattr(row, name) for name in names.split()} | more

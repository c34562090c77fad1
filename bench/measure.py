"""What the pairing benchmarks share: each run in a child process of its own (a fresh heap, so its peak
memory is its own) and the table of figures they print."""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def peak_mib() -> float:
    """The peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(target: Any, *args: Any) -> dict[str, Any]:
    """``target(*args)`` in a spawned child process; its result."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(target, args)
    return result


def figures_table(title: str, columns: Iterable[str], width: int = 180) -> tuple[Console, Table]:
    """A console at least ``width`` wide and a table of right-aligned figures under ``columns``."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    return Console(width=max(width, Console().width)), table

"""The pairing round for every organisation mix (``bench/pairing.py`` prints this table after its own).

    .venv/bin/python bench/pairing.py --sizes '' --alternatives '' --mix-sizes 2000,20000
    .venv/bin/python bench/pairing.py --sizes '' --alternatives '' --mix-sizes 5000 --mixes 40%,55%

Cohorts from ``synthetic.mixed``: the even spread, or one organisation with 25 %, 40 %, 45 % or 55 % of
the fellows (above half not everyone can be paired: the most pairs, then the most weight, and each
fellow left alone with the reason), a second with 10 % and many small ones; 1 % of the cohort's pairs
ruled out (conflicts, the board's exclusions, each a pair the fellow would like) and 5 % locked by the
board. "ours" is the whole ``matching.pair`` in a fresh process (peak MiB is that process's own
``ru_maxrss``; CPU s its process time, which a machine shared with other work does not inflate); up to
2,000 fellows rustworkx's ``max_weight_matching`` (maximum cardinality) on the full graph of the
fellows outside the locks, plus the locked pairs' weight, checks the total.
"""

from __future__ import annotations

import time
from typing import Any

RUSTWORKX_MAX = 2000


def run(n: int, mix: str, seed: int, mode: str) -> dict[str, Any]:
    from bench import synthetic
    from bench.measure import peak_mib
    from bench.pairing import _weights
    from services.pairing import matching

    weights = _weights()
    small = synthetic.mixed(28, synthetic.MIXES[mix], seed + 1)
    matching.pair(small[0], mode, weights, small[1], small[2], small[3])  # warm up: first calls load code
    fellows, earlier, forbidden, locked = synthetic.mixed(n, synthetic.MIXES[mix], seed)
    started, cpu = time.perf_counter(), time.process_time()
    result = matching.pair(fellows, mode, weights, earlier, forbidden, locked)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    reasons = sorted(set(result.unpaired.values()))
    return {
        "seconds": seconds,
        "cpu": cpu,
        "weight": result.weight,
        "bound": result.bound,
        "optimal": result.optimal,
        "pairs": sum(len(g.fellow_ids) == 2 for g in result.groups),
        "trios": sum(len(g.fellow_ids) == 3 for g in result.groups),
        "unpaired": len(result.unpaired),
        "reason": reasons[0] if reasons else "",
        "peak_mib": peak_mib(),
    }


def reference(n: int, mix: str, seed: int, mode: str) -> dict[str, Any]:
    import numpy as np
    import rustworkx as rx

    from bench import synthetic
    from bench.pairing import _weights
    from services.pairing import scoring

    fellows, earlier, forbidden, locked = synthetic.mixed(n, synthetic.MIXES[mix], seed)
    in_lock = {f for lock in locked for f in lock}
    by_id = {f.id: f for f in fellows}
    cohort = scoring.encode([f for f in fellows if f.id not in in_lock], mode, _weights(), earlier, forbidden)
    w = cohort.rows(0, cohort.n).astype(np.int64)
    i, j = np.nonzero(np.triu(w, 1))
    graph: Any = rx.PyGraph()
    graph.add_nodes_from(range(cohort.n))
    graph.extend_from_weighted_edge_list(list(zip(i.tolist(), j.tolist(), w[i, j].tolist(), strict=True)))
    started = time.perf_counter()
    matched = rx.max_weight_matching(graph, max_cardinality=True, weight_fn=int)
    seconds = time.perf_counter() - started
    seen = {frozenset(p) for p in earlier}
    pairs = [tuple(by_id[f] for f in sorted(lock)) for lock in locked]
    locked_weight = scoring.pairs_weight(pairs, mode, _weights(), seen) if pairs else 0  # type: ignore[arg-type]
    return {"seconds": seconds, "weight": sum(int(w[a, b]) for a, b in matched) + locked_weight}


def table(sizes: list[int], mixes: list[str], modes: list[str], seed: int) -> None:
    from bench.measure import figures_table, in_child

    title = f"Pairing round by organisation mix, seed {seed}: 1 % of pairs excluded, 5 % locked (times in seconds)"
    columns = (
        "mode",
        "n",
        "largest",
        "ours s",
        "CPU s",
        "peak MiB",
        "total",
        "bound",
        "gap %",
        "proven",
        "pairs",
        "trios",
    )
    console, out = figures_table(title, (*columns, "alone", "rustworkx s", "rustworkx total"), width=200)
    for mode in modes:
        for n in sizes:
            for mix in mixes:
                got = in_child(run, n, mix, seed, mode)
                gap = 100 * (got["bound"] - got["weight"]) / got["bound"] if got["bound"] else 0.0
                row = [
                    mode,
                    f"{n:,}",
                    mix,
                    f"{got['seconds']:.2f}",
                    f"{got['cpu']:.2f}",
                    f"{got['peak_mib']:.0f}",
                    f"{got['weight']:,}",
                    f"{got['bound']:,.1f}",
                    f"{gap:.4f}",
                    "yes" if got["optimal"] else "no",
                    f"{got['pairs']:,}",
                    str(got["trios"]),
                    f"{got['unpaired']:,}",
                ]
                if n <= RUSTWORKX_MAX:
                    ref = in_child(reference, n, mix, seed, mode)
                    row += [
                        f"{ref['seconds']:.2f}",
                        f"{ref['weight']:,} {'=' if ref['weight'] == got['weight'] else '≠'}",
                    ]
                else:
                    row += ["-", "-"]
                out.add_row(*row)
                console.print(
                    "mix | " + " | ".join(row) + (f" | alone: {got['reason']}" if got["reason"] else ""), soft_wrap=True
                )
    console.print(out)
    console.print(
        "total and bound include the locked pairs; proven = the total reaches the bound (rounded down); "
        "alone = fellows left unpaired, each reported with its reason (one shown per row); '=' the same total "
        "as rustworkx on the full graph (the matching's total: an odd cohort's trio is formed after it)."
    )

"""Benchmark of the pairing round: the project's matcher against rustworkx and networkx on the full graph.

    .venv/bin/python bench/pairing.py            # n = 28, 200, 1000, 2000, 5000, 20000 (networkx up to 1000)
    .venv/bin/python bench/pairing.py --quick    # the same without networkx (which takes minutes at 1000)
    .venv/bin/python bench/pairing.py --sizes 28,200 --mode bipartite
    .venv/bin/python bench/pairing.py --sizes 28 --alternatives 28,2000 --sample 100
    .venv/bin/python bench/pairing.py --capacity [--quick ...]   # the capacity table: bench/capacity.py
    .venv/bin/python bench/pairing.py --sizes '' --alternatives '' --mix-sizes 2000,20000   # mixes only

The organisation-mix table (``bench/mixes.py``; ``--mix-sizes``, ``--mixes``, ``--mix-modes``) pairs
cohorts where one organisation sends 25 %, 40 %, 45 % or 55 % of the fellows, with 1 % of pairs excluded
and 5 % locked: time, peak memory, total, bound, gap, proven, and who is left alone.

The alternatives table (``alternatives_table``) times every fellow's five best other partners (the least
loss) and the exact loss of forcing each (``services.pairing.alternatives.table``) on cohorts of the ``--alternatives``
sizes: all fellows up to ``--sample`` fellows, beyond that the first ``--sample`` fellows, and the time
for all of them extrapolated (and labelled so).

Each measurement runs in a fresh process, so its peak memory is that process's own peak resident set
size (``resource.getrusage(...).ru_maxrss``, interpreter and libraries included). "ours" is the whole
``matching.pair`` the service runs (scoring, candidates, pricing, matching, groups and reasons); for
rustworkx and networkx only their ``max_weight_matching`` call on the prebuilt full graph is timed,
with the same integer edge weights and maximum cardinality. Weights are the service's configured ones
(``PairingSettings().pairing_weights``, so ``PAIRING_WEIGHTS__*`` variables apply here too).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import figures_table, in_child, peak_mib

SIZES = (28, 200, 1000, 2000, 5000, 20000)
RUSTWORKX_MAX = 2000
NETWORKX_MAX = 1000


def _weights() -> Any:
    from services.pairing.main import PairingSettings

    return PairingSettings().pairing_weights


def ours(n: int, seed: int, mode: str) -> dict[str, Any]:
    from bench import synthetic
    from services.pairing import matching

    weights = _weights()
    small, history = synthetic.cohort(28, seed + 1)
    matching.pair(small, mode, weights, history)  # warm up: first calls load code
    fellows, earlier = synthetic.cohort(n, seed)
    started = time.perf_counter()
    result = matching.pair(fellows, mode, weights, earlier)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "weight": result.weight,
        "bound": result.bound,
        "optimal": result.optimal,
        "peak_mib": peak_mib(),
        "orgs": synthetic.organisations_for(n),
    }


def reference(n: int, seed: int, mode: str, library: str) -> dict[str, Any]:
    import numpy as np

    from bench import synthetic
    from services.pairing import scoring

    fellows, earlier = synthetic.cohort(n, seed)
    cohort = scoring.encode(fellows, mode, _weights(), earlier)
    w = cohort.rows(0, cohort.n).astype(np.int64)
    i, j = np.nonzero(np.triu(w, 1))
    edges = list(zip(i.tolist(), j.tolist(), w[i, j].tolist(), strict=True))
    if library == "rustworkx":
        import rustworkx as rx

        graph: Any = rx.PyGraph()
        graph.add_nodes_from(range(cohort.n))
        graph.extend_from_weighted_edge_list(edges)
        started = time.perf_counter()
        matched = rx.max_weight_matching(graph, max_cardinality=True, weight_fn=int)
    else:
        import networkx as nx

        graph = nx.Graph()
        graph.add_weighted_edges_from(edges)
        started = time.perf_counter()
        matched = nx.max_weight_matching(graph, maxcardinality=True)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "weight": sum(int(w[a, b]) for a, b in matched), "edges": len(edges)}


def alternatives_run(n: int, seed: int, mode: str, sample: int) -> dict[str, Any]:
    from bench import synthetic
    from services.pairing import alternatives, scoring

    fellows, earlier = synthetic.cohort(n, seed)
    cohort = scoring.encode(fellows, mode, _weights(), earlier)
    alternatives.table(scoring.encode(fellows[:28], mode, _weights(), earlier), count=1)  # warm up
    wall, cpu = time.perf_counter(), time.process_time()
    found, forcing = alternatives.table(cohort, fellows=range(min(n, sample)))
    seconds, cpu = time.perf_counter() - wall, time.process_time() - cpu
    losses = [(loss, exact) for rows in found.values() for _, loss, exact in rows]
    return {
        "seconds": seconds,
        "cpu": cpu,
        "fellows": len(found),
        "losses": len(losses),
        "zero": sum(loss == 0 for loss, _ in losses),
        "exact": all(exact for _, exact in losses),
        "pairs": len(forcing.known),
        "solved_again": forcing.solved_again,
        "peak_mib": peak_mib(),
    }


def alternatives_table(sizes: list[int], seed: int, mode: str, sample: int) -> None:
    """Every fellow's alternatives, timed: measured on all fellows, or on ``sample`` and extrapolated."""
    columns = ("n", "fellows timed", "losses", "of them 0", "exact", "pairs found", "solved again", "s (CPU s)")
    console, table = figures_table(
        f"Alternatives: five best other partners and the exact loss of each, {mode} mode",
        (*columns, "s per fellow", "all fellows s", "peak MiB"),
    )
    for n in sizes:
        got = in_child(alternatives_run, n, seed, mode, sample)
        per = got["seconds"] / max(1, got["fellows"])
        whole = f"{got['seconds']:.2f}" if got["fellows"] == n else f"{per * n:.0f} (extrapolated)"
        row = [
            f"{n:,}",
            str(got["fellows"]),
            str(got["losses"]),
            str(got["zero"]),
            "yes" if got["exact"] else "no",
            str(got["pairs"]),
            str(got["solved_again"]),
            f"{got['seconds']:.2f} ({got['cpu']:.2f})",
            f"{per:.3f}",
            whole,
            f"{got['peak_mib']:.0f}",
        ]
        table.add_row(*row)
        console.print("alternatives | " + " | ".join(row))
    console.print(table)
    console.print(
        "Five best = the least loss. Each loss is exact: a shortest chain under the optimum's prices, or the "
        "cohort solved again without the two ('solved again'); a pair asked about from both ends is found once. "
        "'of them 0': alternatives that cost nothing (another optimum has them)."
    )


def main() -> None:
    if "--capacity" in sys.argv[1:]:  # learners x sharers with capacities; bench/capacity.py reads the other flags
        from bench import capacity

        return capacity.main([a for a in sys.argv[1:] if a != "--capacity"])
    from rich.progress import Progress

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated cohort sizes")
    parser.add_argument("--quick", action="store_true", help="skip networkx")
    parser.add_argument("--no-rustworkx", action="store_true", help="skip rustworkx")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", choices=["peer", "bipartite"], default="peer")
    parser.add_argument("--alternatives", default="28,2000", help="cohort sizes of the alternatives table ('' skips)")
    parser.add_argument(
        "--sample", type=int, default=100_000, help="fellows timed in the alternatives of larger cohorts"
    )
    parser.add_argument(
        "--mix-sizes", default="5000,20000", help="cohort sizes of the organisation-mix table ('' skips)"
    )
    parser.add_argument("--mixes", default="even,25%,40%,45%,55%", help="share of the largest organisation")
    parser.add_argument("--mix-modes", default="peer,bipartite")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    console, table = figures_table(
        f"Pairing round, {args.mode} mode, seed {args.seed} (times in seconds)",
        (
            "n",
            "orgs",
            "ours s",
            "ours total",
            "peak MiB",
            "upper bound",
            "gap %",
            "proven",
            "rustworkx s",
            "rustworkx total",
            "rustworkx s / ours s",
            "networkx s",
            "networkx total",
            "networkx s / ours s",
        ),
    )
    steps = sum(
        1 + (n <= RUSTWORKX_MAX and not args.no_rustworkx) + (n <= NETWORKX_MAX and not args.quick) for n in sizes
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("benchmarking", total=steps)
        for n in sizes:
            progress.update(task, description=f"n = {n}: ours")
            mine = in_child(ours, n, args.seed, args.mode)
            progress.advance(task)
            refs: dict[str, dict[str, Any]] = {}
            for library, limit, skip in (
                ("rustworkx", RUSTWORKX_MAX, args.no_rustworkx),
                ("networkx", NETWORKX_MAX, args.quick),
            ):
                if n <= limit and not skip:
                    progress.update(task, description=f"n = {n}: {library} on the full graph")
                    refs[library] = in_child(reference, n, args.seed, args.mode, library)
                    progress.advance(task)
            gap = 100 * (mine["bound"] - mine["weight"]) / mine["bound"] if mine["bound"] else 0.0
            row = [
                f"{n:,}",
                str(mine["orgs"]),
                f"{mine['seconds']:.3f}",
                f"{mine['weight']:,}",
                f"{mine['peak_mib']:.0f}",
                f"{mine['bound']:,.1f}",
                f"{gap:.4f}",
                "yes" if mine["optimal"] else "no",
            ]
            for library in ("rustworkx", "networkx"):
                ref = refs.get(library)
                if ref is None:
                    row += ["-", "-", "-"]
                    continue
                same = "=" if ref["weight"] == mine["weight"] else "≠"
                row += [f"{ref['seconds']:.3f}", f"{ref['weight']:,} {same}", f"{ref['seconds'] / mine['seconds']:.1f}"]
            table.add_row(*row)
            progress.console.print(" | ".join(row))
    console.print(table)
    console.print(
        "total = sum of integer edge weights of the pairs (100 per scoring point + 100 per pair); "
        "'=' means the same total as ours; proven = our total reaches the upper bound (rounded down); "
        "peak MiB = ru_maxrss of the fresh process that ran our round."
    )
    alternatives = [int(s) for s in args.alternatives.split(",") if s]
    if alternatives:
        alternatives_table(alternatives, args.seed, args.mode, max(args.sample, 28))
    mix_sizes = [int(s) for s in args.mix_sizes.split(",") if s]
    if mix_sizes:
        from bench import mixes

        mixes.table(mix_sizes, args.mixes.split(","), args.mix_modes.split(","), args.seed)


if __name__ == "__main__":
    main()

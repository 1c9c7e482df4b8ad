"""Benchmark 3: orchestration overhead, the build flow against the library it runs (issue 13: <= 10 %).

The same corpus (``_corpus.py``; 96 demo episodes is about 16.5 K triplets) built three ways, each in a fresh
process into a fresh folder: the library with its batches one after another, the library with its batches on a
thread pool (what the flow's default task runner does), and the ``build-dataset`` flow (Prefect tasks, an ephemeral
API server, logging and the summary artifact). The overhead is the flow against the library on threads.

    .venv/bin/python benchmarks/flow_overhead.py [--episodes 96] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from _corpus import bench_preset, build_in_child, lerobot_corpus


def main() -> None:
    """Run the three ways ``--repeats`` times each (interleaved) and print medians and the overhead."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "remot_bench")
    args = parser.parse_args()
    root, preset = lerobot_corpus(args.cache, args.episodes), bench_preset(args.cache)
    work = Path(tempfile.mkdtemp(prefix="remot_flow_bench_"))
    modes = ("library", "library_threads", "flow")
    walls: dict[str, list[float]] = {m: [] for m in modes}
    triplets = set()
    for repeat in range(args.repeats):
        for mode in modes:
            result = build_in_child(root, work / f"{mode}-{repeat}", preset, mode)
            walls[mode].append(result["wall_s"])
            triplets.add(result["triplets"])
    assert len(triplets) == 1, f"the ways built different numbers of triplets: {triplets}"
    median = {m: statistics.median(v) for m, v in walls.items()}
    print(f"{triplets.pop()} triplets, {args.episodes} episodes, {os.cpu_count()} CPUs, {args.repeats} repeat(s)")
    print("| way | median wall s | vs library on threads |")
    print("|---|---|---|")
    for mode in modes:
        print(f"| {mode} | {median[mode]:.1f} | {median[mode] / median['library_threads']:.2f}x |")
    overhead = median["flow"] / median["library_threads"] - 1
    print(f"flow overhead: {100 * overhead:+.1f} % (target <= 10 %)")


if __name__ == "__main__":
    main()

"""Benchmark 4: growth and memory at 1x, 4x and 16x input (issue 13: time per triplet at 16x within 1.1x of 1x,
peak RSS at 16x <= 1.3x that at 1x).

Builds the demo LeRobot corpus (``_corpus.py``) at 6, 24 and 96 episodes (about 1 K, 4 K and 16.5 K triplets) with
the library, each in a fresh process so that its peak RSS is its own, and prints wall time, time per triplet and
peak RSS with their ratios to the 1x run, measured in the same run.

    .venv/bin/python benchmarks/growth.py [--base-episodes 6]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _corpus import DEFAULT_PRESET, build_in_child, lerobot_corpus


def main() -> None:
    """Build at 1x, 4x, 16x and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-episodes", type=int, default=6)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "remot_bench")
    args = parser.parse_args()
    preset = DEFAULT_PRESET
    work = Path(tempfile.mkdtemp(prefix="remot_growth_bench_"))
    rows = []
    for factor in args.factors:
        root = lerobot_corpus(args.cache, args.base_episodes * factor)
        result = build_in_child(root, work / f"x{factor}", preset, "library")
        rows.append((factor, result))
        print(f"built {factor}x: {result['triplets']} triplets in {result['wall_s']:.1f} s", flush=True)
    base = rows[0][1]
    per_base = base["wall_s"] / base["triplets"]
    print("| input | triplets | wall s | clips s | publish s | ms per triplet | vs 1x | peak RSS GB | vs 1x |")
    print("|---|---|---|---|---|---|---|---|---|")
    for factor, r in rows:
        per, rss = r["wall_s"] / r["triplets"], r["max_rss_gb"]
        print(
            f"| {factor}x | {r['triplets']} | {r['wall_s']:.1f} | {r['clips_s']:.1f} | {r['publish_s']:.1f} | "
            f"{1000 * per:.2f} | {per / per_base:.2f}x | {rss:.2f} | {rss / base['max_rss_gb']:.2f}x |"
        )
    print("targets: time per triplet at 16x within 1.1x of 1x; peak RSS at 16x <= 1.3x that at 1x")


if __name__ == "__main__":
    main()

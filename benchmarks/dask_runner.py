"""Time the build flow on its task runners: threads (Prefect's default), Dask with 1 worker, Dask with 2 workers.

Each run builds the same demo corpus (MOTChallenge and ScanNet parts, written to a temporary folder) into a fresh
output folder, so every clip is processed (nothing staged is reused). Prints wall times of ``--repeats`` runs (median)
and the ratios against the 1-worker Dask run measured in the same process; this machine is shared, so only the
ratios mean something. The rows of every run must be the same (checked).

    .venv/bin/python benchmarks/dask_runner.py [--repeats 2] [--batch-size 1]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

# Offline and quiet, as `make` runs things (set before Prefect is imported).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from flows.build_dataset import build_dataset, make_task_runner
from remot_data.demo.mot import DemoMotConfig, write_demo_mot
from remot_data.demo.scannet import DemoScanNetConfig, write_demo_scannet
from remot_data.frames import FrameConfig
from remot_data.pipeline import BuildConfig, SourceInput
from remot_data.table import read_triplets


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1, help="clips per task (1: most parallelism)")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.WARNING)  # a line per worker start and stop otherwise
    work = Path(tempfile.mkdtemp(prefix="remot_dask_bench_"))
    write_demo_mot(work / "mot", DemoMotConfig(n_sequences=6))
    write_demo_scannet(work / "scannet", DemoScanNetConfig(n_scenes=6))
    inputs = [
        SourceInput(source="motchallenge", path=work / "mot"),
        SourceInput(source="scannet", path=work / "scannet"),
    ]
    config = BuildConfig(frames=FrameConfig(max_side_px=224), batch_size=args.batch_size)
    runners = {
        "threads": lambda: make_task_runner("threads"),
        "dask, 1 worker": lambda: make_task_runner("dask", workers=1),
        "dask, 2 workers": lambda: make_task_runner("dask", workers=2),
    }
    times: dict[str, list[float]] = {name: [] for name in runners}
    reference = None
    for repeat in range(args.repeats):
        for name, make in runners.items():
            out = work / f"out-{repeat}-{name.replace(' ', '').replace(',', '-')}"
            start = time.perf_counter()
            build_dataset.with_options(task_runner=make())(inputs, out, config)
            times[name].append(time.perf_counter() - start)
            ids = read_triplets(out).sort_by("triplet_id").column("triplet_id")
            reference = ids if reference is None else reference
            if not ids.equals(reference):
                raise SystemExit(f"{name}: the rows differ from the first run's")
    base = statistics.median(times["dask, 1 worker"])
    print(f"{len(reference)} triplets per build, batch size {args.batch_size}, {os.cpu_count()} CPUs")
    print("| runner | median wall s | vs dask, 1 worker |")
    print("|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.1f} | {base / median:.2f}x |")


if __name__ == "__main__":
    main()

"""Benchmark 3: orchestration overhead, the build flow against the library it runs (issue 13: <= 10 %).

The same corpus (``_corpus.py``; 96 demo episodes is about 16.5 K triplets) built four ways, each in a fresh process
into a fresh folder: the library with its batches one after another; the library with its batches on a pool of one
thread per CPU (what the flow's task runner does); the ``build-dataset`` flow against a running ``prefect server``
(as deployments run it; the server is started once, before timing); and the flow on Prefect's ephemeral API (as
``remot build`` runs without ``PREFECT_API_URL``: a temporary server starts inside every run). The overhead is each
flow against the library on threads.

    .venv/bin/python benchmarks/flow_overhead.py [--episodes 96] [--repeats 1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from _corpus import DEFAULT_PRESET, build_in_child, lerobot_corpus


def main() -> None:
    """Run the three ways ``--repeats`` times each (interleaved) and print medians and the overhead."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "remot_bench")
    args = parser.parse_args()
    root, preset = lerobot_corpus(args.cache, args.episodes), DEFAULT_PRESET
    work = Path(tempfile.mkdtemp(prefix="remot_flow_bench_"))
    modes = ("library", "library_threads", "flow_server", "flow_ephemeral")
    walls: dict[str, list[float]] = {m: [] for m in modes}
    triplets = set()
    with prefect_server(work) as api:
        for repeat in range(args.repeats):
            for mode in modes:
                env = {"PREFECT_API_URL": api if mode == "flow_server" else None}
                kind = mode.split("_")[0] if mode.startswith("flow") else mode
                result = build_in_child(root, work / f"{mode}-{repeat}", preset, kind, env)
                walls[mode].append(result["wall_s"])
                triplets.add(result["triplets"])
    assert len(triplets) == 1, f"the ways built different numbers of triplets: {triplets}"
    median = {m: statistics.median(v) for m, v in walls.items()}
    print(f"{triplets.pop()} triplets, {args.episodes} episodes, {os.cpu_count()} CPUs, {args.repeats} repeat(s)")
    print("| way | median wall s | vs library on threads |")
    print("|---|---|---|")
    for mode in modes:
        print(f"| {mode} | {median[mode]:.1f} | {median[mode] / median['library_threads']:.2f}x |")
    for mode in ("flow_server", "flow_ephemeral"):
        overhead = median[mode] / median["library_threads"] - 1
        print(f"{mode} overhead: {100 * overhead:+.1f} % (target <= 10 %)")


@contextlib.contextmanager
def prefect_server(work: Path) -> Iterator[str]:
    """Run ``prefect server start`` (its own PREFECT_HOME under ``work``) until the block ends; yield its API URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect_home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    prefect = Path(sys.executable).with_name("prefect")
    with (work / "server.log").open("w") as log:
        server = subprocess.Popen(
            [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{api}/health", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError(f"prefect server did not start; see {work / 'server.log'}") from None
                    time.sleep(0.5)
            yield api
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()

"""Prefect flow: build a triplet dataset. The library's one build sequence, with the clip batches run as tasks."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from tqdm import tqdm

from remot_data.errors import RemotError
from remot_data.pipeline import BatchMapper, BuildConfig, ClipInput, SourceInput, format_summary
from remot_data.pipeline import build_dataset as run_build


def retry_io_only(task, task_run, state) -> bool:
    """Retry transient IO errors only: bad input (a RemotError or ValueError) fails the same way every time."""
    try:
        state.result()
    except (RemotError, ValueError):
        return False
    except Exception:  # noqa: BLE001 - any other failure may be transient IO
        return True
    return True


# Finished clips are staged by content hash + preset + config (the library's resume): Prefect's cache adds nothing.
@task(retries=1, retry_delay_seconds=2, retry_condition_fn=retry_io_only, cache_policy=NO_CACHE)
def process_task(run_batch: Callable[[list[ClipInput]], list[str]], batch: list[ClipInput]) -> list[str]:
    """Process a batch of clips into staged parts (finished parts of earlier runs are reused)."""
    return run_batch(batch)


def map_over_tasks(*, progress: bool) -> BatchMapper:
    """Return a ``map`` that runs each batch as a ``process_task`` on the flow's task runner."""

    def run(run_batch: Callable[[list[ClipInput]], list[str]], batches: list[list[ClipInput]]) -> Iterator[list[str]]:
        get_run_logger().info("%d clips in %d batches", sum(len(b) for b in batches), len(batches))
        futures = process_task.map(unmapped(run_batch), batches)
        for future in tqdm(futures, desc="clip batches", unit="batch", disable=not progress):
            yield future.result()

    return run


def quiet_great_expectations() -> None:
    """Lower Great Expectations' loggers to WARNING: its INFO lines (temporary docs sites) drown the run's logs."""
    import great_expectations  # noqa: F401 - its loggers exist once it is imported

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)


Runner = Literal["threads", "dask"]


def default_workers() -> int:
    """Return how many clip batches run at once by default: one per CPU (each batch also runs ffmpeg processes)."""
    return os.cpu_count() or 1


def make_task_runner(runner: Runner, *, dask_address: str | None = None, workers: int | None = None):
    """Return the task runner the clip batches run on.

    ``threads``: a pool of ``workers`` threads on this machine (Prefect's own default would start every batch at
    once: a large build's batches would all hold frames and ffmpeg processes together). ``dask`` runs each batch on
    a Dask worker: an existing scheduler at ``dask_address`` (a multi-node cluster, the input and output folders on
    storage every worker mounts at the same path), or a LocalCluster of ``workers`` single-threaded processes.
    ``workers`` defaults to the number of CPUs.

    Raises:
        ImportError: If the Dask runner is asked for without prefect-dask installed.
    """
    workers = workers or default_workers()
    if runner == "threads":
        return ThreadPoolTaskRunner(max_workers=workers)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as err:
        raise ImportError("--runner dask needs prefect-dask (pip install 'remot[dask]')") from err
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})


@flow(name="build-dataset", task_runner=make_task_runner("threads"))
def build_dataset(
    inputs: list[SourceInput], out_dir: Path, config: BuildConfig | None = None, progress: bool = False
) -> dict[str, Any]:
    """Build, validate and publish a triplet dataset from the inputs (source + path each) into ``out_dir``."""
    quiet_great_expectations()
    manifest = run_build(inputs, out_dir, config or BuildConfig(), map_batches=map_over_tasks(progress=progress))
    create_markdown_artifact(format_summary(manifest, out_dir), key="remot-build-summary")
    return manifest

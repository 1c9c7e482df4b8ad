"""Prefect flow: build a triplet dataset from a source directory. A few lines of orchestration around remot_data."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from tqdm import tqdm

from remot_data.build import (
    BuildConfig,
    ClipInput,
    SourceInput,
    plan_clips,
    process_batch,
    publish_dataset,
    staging_dir_for,
)
from remot_data.errors import RemotError


def retry_io_only(task, task_run, state) -> bool:
    """Retry transient IO errors only: bad input (a RemotError or ValueError) fails the same way every time."""
    try:
        state.result()
    except (RemotError, ValueError):
        return False
    except Exception:  # noqa: BLE001 - any other failure may be transient IO
        return True
    return True


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=retry_io_only)
def plan_task(inputs: list[SourceInput], config: BuildConfig) -> list[ClipInput]:
    """List and hash the input clips (file IO: retried)."""
    return plan_clips(inputs, config)


@task(retries=1, retry_delay_seconds=2, retry_condition_fn=retry_io_only)
def process_task(batch: list[ClipInput], config: BuildConfig, staging_dir: str) -> list[str]:
    """Process a batch of clips into staged parts (finished parts of earlier runs are reused)."""
    return process_batch(batch, config, Path(staging_dir))


def quiet_great_expectations() -> None:
    """Lower Great Expectations' loggers to WARNING: its INFO lines (temporary docs sites) drown the run's logs."""
    import great_expectations  # noqa: F401 - its loggers exist once it is imported

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.WARNING)


@task
def publish_task(
    clip_inputs: list[ClipInput],
    keys: list[str],
    inputs: list[SourceInput],
    staging_dir: str,
    out_dir: str,
    config: BuildConfig,
) -> dict[str, Any]:
    """Validate and publish the dataset atomically."""
    quiet_great_expectations()
    return publish_dataset(
        clip_inputs, keys, inputs=inputs, staging_dir=Path(staging_dir), out_dir=Path(out_dir), config=config
    )


def summary_markdown(manifest: dict[str, Any], out_dir: str) -> str:
    """Return the build summary as Markdown (the flow's artifact; the CLI prints it too)."""
    counts, rejects = manifest["counts"], manifest["rejects"]
    lines = [
        f"# remot dataset: {counts['triplets']} triplets",
        f"Output: `{out_dir}`",
        "",
        "| count | value |",
        "|---|---|",
    ]
    for group in ("by_split", "by_family", "by_negative_method", "by_label"):
        lines += [f"| {group[3:]}: {k} | {v} |" for k, v in counts[group].items()]
    lines += [f"| rejects: {k} | {v} |" for k, v in rejects["by_reason"].items()]
    return "\n".join(lines)


@flow(name="build-dataset")
def build_dataset(
    inputs: list[SourceInput], out_dir: str, config: BuildConfig | None = None, progress: bool = False
) -> dict[str, Any]:
    """Build, validate and publish a triplet dataset from the inputs (source + path each) into ``out_dir``."""
    config = config or BuildConfig()
    logger = get_run_logger()
    staging = staging_dir_for(Path(out_dir))
    staging.mkdir(parents=True, exist_ok=True)
    clip_inputs = plan_task(inputs, config)
    batches = [clip_inputs[i : i + config.batch_size] for i in range(0, len(clip_inputs), config.batch_size)]
    logger.info("%d clips in %d batches", len(clip_inputs), len(batches))
    futures = process_task.map(batches, config=unmapped(config), staging_dir=unmapped(str(staging)))
    keys = [k for f in tqdm(futures, desc="clip batches", unit="batch", disable=not progress) for k in f.result()]
    manifest = publish_task(clip_inputs, keys, inputs, str(staging), out_dir, config)
    create_markdown_artifact(summary_markdown(manifest, out_dir), key="remot-build-summary")
    return manifest

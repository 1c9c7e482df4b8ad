"""Build a triplet dataset along the data's path: plan -> rows -> stage -> publish.

``plan`` lists and hashes the clips, ``rows`` turns one clip into contract rows (the per-clip error boundary),
``stage`` keeps finished clips as parts a rerun reuses, ``publish`` validates and swaps the dataset into place.
``build_dataset`` is the one sequence of these steps; ``flows/build_dataset.py`` runs it with the batches mapped over
Prefect tasks. Library code: no Prefect, no torch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from remot_data.outputs import claim_output, output_lock, recover_output
from remot_data.pipeline.config import BuildConfig, ClipInput, OnBadClip, ReaderName, SourceInput
from remot_data.pipeline.plan import BuildPlan, assign_split, plan_build, plan_clips, preflight, staging_dir_for
from remot_data.pipeline.publish import format_summary, publish_dataset
from remot_data.pipeline.rows import find_candidates, make_rows, process_clip
from remot_data.pipeline.stage import process_batch

__all__ = [
    "BatchMapper",
    "BuildConfig",
    "BuildPlan",
    "ClipInput",
    "OnBadClip",
    "ReaderName",
    "SourceInput",
    "assign_split",
    "build_dataset",
    "find_candidates",
    "format_summary",
    "make_rows",
    "plan_build",
    "plan_clips",
    "preflight",
    "process_batch",
    "process_clip",
    "publish_dataset",
    "staging_dir_for",
]

# ``map(fn, batches)``: the builtin runs batches one after another; the flow passes one that runs them as tasks.
BatchMapper = Callable[[Callable[[list[ClipInput]], list[str]], list[list[ClipInput]]], Iterable[list[str]]]


def build_dataset(
    inputs: list[SourceInput], out_dir: Path, config: BuildConfig, *, map_batches: BatchMapper = map
) -> dict[str, Any]:
    """Build and publish a dataset: plan, process every batch of clips into staged parts, publish.

    Args:
        inputs: Source + path of each input.
        out_dir: Output directory: versions under ``out_dir/versions``, the newest linked as ``out_dir/latest``.
        config: The build config.
        map_batches: How batches run: ``map`` (serially, here) or a function with ``map``'s signature that runs
            them elsewhere (the flow's Prefect tasks).

    Returns:
        The manifest.
    """
    plan = plan_build(inputs, Path(out_dir), config)  # every whole-input check, before anything is written
    claim_output(plan.out_dir, kind="dataset")
    with output_lock(plan.out_dir):
        recover_output(plan.out_dir)
        plan.staging_dir.mkdir(exist_ok=True)
        run_batch = functools.partial(process_batch, config=config, staging_dir=plan.staging_dir, preset=plan.preset)
        keys = [key for batch_keys in map_batches(run_batch, plan.batches) for key in batch_keys]
        return publish_dataset(plan, keys)

"""The evaluation's typed configs: ``ReferenceConfig`` (how references are read), ``EvalConfig`` (how a model runs).

The one place for each option's default and help: the ``eval``/``score`` CLI flags and the ``evaluate`` flow's
parameter are validated by these models. No torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from remot_train.cli_args import add_config_arguments
from remot_train.config import SplitName

ControlKind = Literal["reversed", "shuffled"]


class ReferenceConfig(BaseModel):
    """How reference items are read: a dataset directory's splits or a ReMoT JSONL's image paths and task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    splits: tuple[SplitName, ...] = Field(
        ("test",),
        min_length=1,
        description="Dataset splits to score (repeat or comma-separate)",
        json_schema_extra={"flag": "--split"},
    )
    image_root: Path | None = Field(
        None, description="Folder that a JSONL's relative (or foreign absolute) image paths are resolved against"
    )
    task: str | None = Field(
        None,
        description="Task name of every item (default: what the release's image paths tell, else the JSONL's "
        "folder; score: else the predictions' folder)",
    )
    strict: bool = Field(
        False, description="Fail when predictions miss reference ids, repeat ids or hold ids the reference lacks"
    )


class EvalConfig(ReferenceConfig):
    """How a model is run on the reference items (generation, batching, controls)."""

    max_new_tokens: int = Field(
        10000, ge=1, description="Tokens generated per item (the official runner's 10000: a Thinking model thinks long)"
    )
    batch_size: int = Field(
        4, ge=1, description="Items per generation batch (greedy; sampling generates one item per call, as official)"
    )
    controls: tuple[ControlKind, ...] = Field(
        ("reversed", "shuffled"),
        description="Temporal controls: the items again with images reordered and the truth transformed (or none)",
    )
    limit: int | None = Field(None, ge=1, description="Evaluate only the first N items")
    device: str = Field("auto", description="torch device: auto (cuda when available), cpu, cuda, cuda:1, ...")
    decoding: Literal["greedy", "sample"] = Field(
        "greedy",
        description="greedy, or sample: the official runner's protocol (sampling with the checkpoint's "
        "generation_config; Qwen advises against greedy decoding for Thinking models); every report names it",
    )
    repeats: int = Field(1, ge=1, description="Generations per item (sample); every one is scored, as the official")
    seed: int = Field(
        0,
        ge=0,
        description="Seed of sampling: each generation is seeded by (seed, repeat, item id), so the samples do not "
        "depend on the process count, batching or a resume",
    )
    attn_implementation: str | None = Field(
        None, description="Attention kernel (sdpa, eager, flash_attention_2, ...; unset: transformers' choice)"
    )


def make_parser(subparsers=None, prog: str | None = None) -> argparse.ArgumentParser:
    """Return the parser of the ``eval`` and ``score`` commands (reused by the ``remot`` CLI). No torch needed."""
    parser = argparse.ArgumentParser(prog=prog or "python -m remot_train.eval.evaluate")
    sub = subparsers or parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval", help="run a local model on a dataset or ReMoT JSONL and score it")
    ev.add_argument("--model", required=True, type=Path, help="local model folder (no hub downloads)")
    ev.add_argument("--data", required=True, type=Path, help="remot dataset directory or ReMoT-format JSONL")
    ev.add_argument(
        "--out", required=True, type=Path, help="evaluation directory (predictions.jsonl, metrics.json, reports)"
    )
    add_config_arguments(ev, EvalConfig)
    sc = sub.add_parser("score", help="score an existing predictions JSONL (no model)")
    sc.add_argument("predictions", type=Path, help="predictions JSONL (id, pred_answer, gt_answer, model_response)")
    sc.add_argument(
        "--reference", required=True, type=Path, help="the dataset directory or ReMoT JSONL the predictions answer"
    )
    sc.add_argument("--out", required=True, type=Path, help="report directory")
    add_config_arguments(sc, ReferenceConfig)
    return parser

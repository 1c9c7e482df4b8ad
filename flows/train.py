"""Prefect flow: train a model on a triplet dataset (one GPU in-process, several through ``accelerate launch``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact


@task
def train_in_process(
    config_path: str | None, overrides: dict[str, Any], data_dir: str, model_dir: str, out_dir: str
) -> dict[str, Any]:
    """Run the training library in this process (single device)."""
    from remot_train.config import load_train_config
    from remot_train.train import run_training

    config = load_train_config(Path(config_path) if config_path else None, **overrides)
    return run_training(config, data_dir=Path(data_dir), model_dir=Path(model_dir), out_dir=Path(out_dir))


@task
def train_with_accelerate(
    config_path: str | None, overrides: dict[str, Any], data_dir: str, model_dir: str, out_dir: str, num_processes: int
) -> dict[str, Any]:
    """Run ``accelerate launch -m remot_train.train`` over ``num_processes`` GPUs and wait for it."""
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(num_processes),
        "-m",
        "remot_train.train",
        "--data",
        data_dir,
        "--model",
        model_dir,
        "--out",
        out_dir,
    ]
    if config_path:
        command += ["--config", config_path]
    for key, value in overrides.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    subprocess.run(command, check=True)
    return {"launcher": "accelerate", "num_processes": num_processes, "out_dir": out_dir}


@flow(name="train")
def train(
    data_dir: str,
    model_dir: str,
    out_dir: str,
    config_path: str | None = "configs/train/grpo.yaml",
    overrides: dict[str, Any] | None = None,
    num_processes: int = 1,
) -> dict[str, Any]:
    """Train on ``data_dir`` from the local model ``model_dir`` into the run directory ``out_dir`` (resumes)."""
    logger = get_run_logger()
    overrides = overrides or {}
    if num_processes > 1:
        result = train_with_accelerate(config_path, overrides, data_dir, model_dir, out_dir, num_processes)
    else:
        result = train_in_process(config_path, overrides, data_dir, model_dir, out_dir)
    logger.info("training finished: %s", result)
    create_markdown_artifact(
        "# remot training\n\n" + "\n".join(f"- {k}: {v}" for k, v in result.items()), key="remot-train-summary"
    )
    return result

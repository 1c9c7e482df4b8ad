"""Prefect flow: train a model on a triplet dataset (one GPU in-process, several through ``accelerate launch``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import yaml
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from remot_train.config import TrainConfig

# The resolved config handed to `accelerate launch` as a file, so every field (dicts included) crosses unchanged.
LAUNCH_CONFIG = "launch_config.yaml"


@task
def train_in_process(config: TrainConfig, data_dir: Path, model_dir: Path, out_dir: Path) -> dict[str, Any]:
    """Run the training library in this process (single device)."""
    from remot_train.train import run_training

    return run_training(config, data_dir=data_dir, model_dir=model_dir, out_dir=out_dir)


def accelerate_command(
    config_file: Path,
    data_dir: Path,
    model_dir: Path,
    out_dir: Path,
    num_processes: int,
    accelerate_config: Path | None,
) -> list[str]:
    """Return the ``accelerate launch`` command line of a run (``accelerate_config``: e.g. a DeepSpeed ZeRO file)."""
    launcher = [sys.executable, "-m", "accelerate.commands.launch"]
    if accelerate_config is not None:
        launcher += ["--config_file", str(accelerate_config)]
    return [
        *launcher,
        "--num_processes",
        str(num_processes),
        "-m",
        "remot_train.train",
        "--data",
        str(data_dir),
        "--model",
        str(model_dir),
        "--out",
        str(out_dir),
        "--config",
        str(config_file),
    ]


@task
def train_with_accelerate(
    config: TrainConfig,
    data_dir: Path,
    model_dir: Path,
    out_dir: Path,
    num_processes: int,
    accelerate_config: Path | None = None,
) -> dict[str, Any]:
    """Run ``accelerate launch -m remot_train.train`` over ``num_processes`` GPUs and wait for it."""
    from remot_train.run_dirs import claim_run_dir

    claim_run_dir(out_dir, "train_run")  # the launch config goes into it: never a folder remot did not make
    config_file = out_dir / LAUNCH_CONFIG
    config_file.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
    command = accelerate_command(config_file, data_dir, model_dir, out_dir, num_processes, accelerate_config)
    subprocess.run(command, check=True)
    return {"launcher": "accelerate", "num_processes": num_processes, "out_dir": str(out_dir)}


@flow(name="train")
def train(
    data_dir: Path,
    model_dir: Path,
    out_dir: Path,
    config: TrainConfig | None = None,
    num_processes: Annotated[int, Field(ge=1, description="GPUs: more than 1 runs through `accelerate launch`")] = 1,
    accelerate_config: Annotated[
        Path | None,
        Field(description="accelerate config file for multi-GPU runs (configs/accelerate/: DDP, DeepSpeed ZeRO-2/3)"),
    ] = None,
    gpu_memory_gib: Annotated[
        float | None,
        Field(gt=0, description="memory of each GPU; a run whose estimate exceeds it is refused (default: read it)"),
    ] = None,
    skip_memory_check: Annotated[bool, Field(description="launch even if the memory estimate does not fit")] = False,
) -> dict[str, Any]:
    """Train on ``data_dir`` from the local model ``model_dir`` into the run directory ``out_dir`` (resumes).

    A launch whose estimated memory per GPU (``remot_train.memory``) exceeds the GPU's is refused before anything
    loads, as ``remot train`` refuses it.
    """
    config = config or TrainConfig()
    if not skip_memory_check:
        from remot_train.memory import require_memory_fits

        plan = require_memory_fits(
            config,
            model_dir,
            gpu_memory_gib=gpu_memory_gib,
            num_processes=num_processes,
            accelerate_config=accelerate_config,
        )
        if plan is not None:
            get_run_logger().info("memory per GPU: about %.1f GiB (%s)", plan.total_gib, plan.strategy)
    if num_processes > 1:
        result = train_with_accelerate(config, data_dir, model_dir, out_dir, num_processes, accelerate_config)
    else:
        result = train_in_process(config, data_dir, model_dir, out_dir)
    get_run_logger().info("training finished: %s", result)
    create_markdown_artifact(
        "# remot training\n\n" + "\n".join(f"- {k}: {v}" for k, v in result.items()), key="remot-train-summary"
    )
    return result

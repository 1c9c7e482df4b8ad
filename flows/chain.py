"""Prefect flow: the whole chain. Rebuild the dataset, then train on the new version, then evaluate the trained model.

A parent flow rather than deployment triggers: each stage starts only when the one before it completed, with the
previous stage's output in its parameters (the published version names the run folder, the run's ``final/`` is the
evaluated model), and a failed stage stops the chain with that stage's state. Training and evaluation run as their
deployments (``train/grpo``, ``evaluate/benchmark`` in ``prefect.yaml``: the GPU pool's workers pick them up); the
build runs in this flow's process (the CPU pool). Every finished chain appends its Table 1 cells to a results
history (Parquet) shown as a table artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.deployments import run_deployment

from flows.build_dataset import build_dataset
from remot_data.pipeline import BuildConfig, SourceInput

HISTORY_FILE = "results_history.parquet"


def _digest(config: dict[str, Any] | None) -> str:
    return hashlib.sha256(json.dumps(config or {}, sort_keys=True).encode()).hexdigest()[:16]


def history_row(dataset: dict[str, Any], model_dir: Path, run_dir: Path, train_config, eval_config, metrics) -> dict:
    """Return one results-history row: dataset version, model, config hashes and every Table 1 cell."""
    row: dict[str, Any] = {
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset_version": dataset["version"],
        "dataset_triplets": dataset["counts"]["triplets"],
        "base_model": str(model_dir),
        "run_dir": str(run_dir),
        "train_config_sha": _digest(train_config),
        "eval_config_sha": _digest(eval_config),
        "items": metrics.get("n"),
    }
    for column, cells in sorted(metrics.get("table1", {}).items()):
        for name, value in sorted(cells.items()):
            row[f"{column}.{name}"] = float(value)
    return row


def append_history(path: Path, row: dict[str, Any]) -> pa.Table:
    """Append a row to the history Parquet (columns may grow), written to a temporary file and moved into place."""
    table = pa.Table.from_pylist([row])
    if path.exists():
        table = pa.concat_tables([pq.read_table(path), table], promote_options="permissive")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return table


def _finished(flow_run, stage: str) -> None:
    if not flow_run.state or not flow_run.state.is_completed():
        raise RuntimeError(f"chain stopped: {stage} flow run {flow_run.name} ended {flow_run.state}")


@flow(name="rebuild-train-evaluate")
def rebuild_train_evaluate(
    inputs: list[SourceInput],
    dataset_dir: Path,
    model_dir: Path,
    runs_dir: Path,
    build_config: BuildConfig | None = None,
    train_config: dict[str, Any] | None = None,
    eval_config: dict[str, Any] | None = None,
    train_deployment: str = "train/grpo",
    evaluate_deployment: str = "evaluate/benchmark",
) -> dict[str, Any]:
    """Rebuild ``dataset_dir``, train ``model_dir`` on the new version, evaluate the result; record the metrics.

    ``train_config`` and ``eval_config`` are the deployments' ``config`` parameters (TrainConfig / EvalConfig
    fields; validated by those flows). The run folder is ``runs_dir/<dataset version>``; the history is
    ``runs_dir/results_history.parquet``.
    """
    logger = get_run_logger()
    manifest = build_dataset(inputs, dataset_dir, build_config)
    run_dir = Path(runs_dir) / manifest["version"]
    logger.info("dataset version %s published; training in %s", manifest["version"], run_dir)
    train_params: dict[str, Any] = {"data_dir": str(dataset_dir), "model_dir": str(model_dir), "out_dir": str(run_dir)}
    if train_config is not None:
        train_params["config"] = train_config
    trained = run_deployment(train_deployment, parameters=train_params, timeout=None)
    _finished(trained, "train")
    eval_dir = run_dir / "eval"
    eval_params: dict[str, Any] = {
        "model_dir": str(run_dir / "final"),
        "data": str(dataset_dir),
        "out_dir": str(eval_dir),
    }
    if eval_config is not None:
        eval_params["config"] = eval_config
    evaluated = run_deployment(evaluate_deployment, parameters=eval_params, timeout=None)
    _finished(evaluated, "evaluate")
    metrics = json.loads((eval_dir / "metrics.json").read_text(encoding="utf-8"))
    row = history_row(manifest, Path(model_dir), run_dir, train_config, eval_config, metrics)
    history = append_history(Path(runs_dir) / HISTORY_FILE, row)
    create_table_artifact(history.to_pylist(), key="remot-results-history", description="Table 1 cells per chain run")
    return row

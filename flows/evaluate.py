"""Prefect flow: evaluate a model on a dataset's splits or a ReMoT JSONL, with the report as an artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from remot_train.eval.config import EvalConfig


@task
def evaluate_task(model_dir: Path, data: Path, out_dir: Path, config: EvalConfig) -> dict[str, Any]:
    """Generate, score and write the reports (resumable: finished items are skipped)."""
    from remot_train.eval.evaluate import run_evaluation

    return run_evaluation(model_dir, data, out_dir, config)


@flow(name="evaluate")
def evaluate(model_dir: Path, data: Path, out_dir: Path, config: EvalConfig | None = None) -> dict[str, Any]:
    """Evaluate ``model_dir`` on ``data`` and publish the Table 1 report as Prefect artifacts."""
    metrics = evaluate_task(model_dir, data, out_dir, config or EvalConfig())
    create_markdown_artifact((Path(out_dir) / "report.md").read_text(encoding="utf-8"), key="remot-eval-report")
    create_table_artifact(
        [
            {"column": k, "Ov": round(100 * v["Ov"], 1), "Par": round(100 * v["Par"], 1)}
            for k, v in metrics["table1"].items()
        ],
        key="remot-eval-table1",
    )
    return {k: v for k, v in metrics.items() if k != "items"}

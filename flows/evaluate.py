"""Prefect flow: evaluate a model on a dataset's test split or a ReMoT JSONL, with the report as an artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact


@task
def evaluate_task(
    model_dir: str,
    data: str,
    out_dir: str,
    image_root: str | None,
    max_new_tokens: int,
    batch_size: int,
    controls: list[str],
    limit: int | None,
) -> dict[str, Any]:
    """Generate, score and write the reports (resumable: finished items are skipped)."""
    from remot_train.eval.evaluate import run_evaluation

    return run_evaluation(
        Path(model_dir),
        Path(data),
        Path(out_dir),
        image_root=Path(image_root) if image_root else None,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        controls=tuple(controls),
        limit=limit,
    )


@flow(name="evaluate")
def evaluate(
    model_dir: str,
    data: str,
    out_dir: str,
    image_root: str | None = None,
    max_new_tokens: int = 1024,
    batch_size: int = 4,
    controls: list[str] | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``model_dir`` on ``data`` and publish the Table 1 report as Prefect artifacts."""
    controls = ["reversed", "shuffled"] if controls is None else controls
    metrics = evaluate_task(model_dir, data, out_dir, image_root, max_new_tokens, batch_size, controls, limit)
    create_markdown_artifact((Path(out_dir) / "report.md").read_text(encoding="utf-8"), key="remot-eval-report")
    create_table_artifact(
        [
            {"column": k, "Ov": round(100 * v["Ov"], 1), "Par": round(100 * v["Par"], 1)}
            for k, v in metrics["table1"].items()
        ],
        key="remot-eval-table1",
    )
    return {k: v for k, v in metrics.items() if k != "items"}

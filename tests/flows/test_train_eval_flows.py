import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")  # the train extra is always installed by `make test`

from flows.cli import main  # noqa: E402
from flows.evaluate import evaluate  # noqa: E402
from flows.train import train  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _deployment(name):
    doc = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return next(d for d in doc["deployments"] if d["name"] == name)


def test_deployment_parameters_validate_against_the_flows():
    assert train.validate_parameters(_deployment("grpo")["parameters"])["num_processes"] == 1
    assert evaluate.validate_parameters(_deployment("benchmark")["parameters"])["batch_size"] == 4
    assert _deployment("grpo")["work_pool"]["name"] == _deployment("benchmark")["work_pool"]["name"] == "remot-gpu"


def test_train_then_evaluate_flows_on_the_tiny_model(prefect_harness, built_dataset, tiny_model_dir, tmp_path):
    result = train(
        str(built_dataset),
        str(tiny_model_dir),
        str(tmp_path / "run"),
        config_path=str(REPO / "configs/train/cpu_tiny.yaml"),
        overrides={"max_steps": 2},
    )
    assert result["global_step"] == 2
    metrics = evaluate(
        str(tmp_path / "run" / "final"),
        str(built_dataset),
        str(tmp_path / "eval"),
        max_new_tokens=4,
        batch_size=2,
        controls=["shuffled"],
        limit=2,
    )
    assert metrics["n"] == 2 and "Camera" in metrics["table1"]
    assert "items" not in metrics


def test_cli_score_needs_no_model(tmp_path, capsys):
    release = REPO / "tests" / "data" / "remot_release" / "agibot_sample.jsonl"
    first = json.loads(release.read_text().splitlines()[0])
    preds = tmp_path / "agibot" / "predictions.jsonl"
    preds.parent.mkdir()
    preds.write_text(json.dumps({"id": first["id"], "model_response": first["solution"]}) + "\n")
    assert main(["score", str(preds), "--reference", str(release), "--out", str(tmp_path / "out")]) == 0
    assert "12 items: Exact Match 8.3" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["missing_predictions"] == 11


def test_accelerate_launch_path_trains_and_passes_overrides(built_dataset, tiny_model_dir, tmp_path):
    from flows.train import train_with_accelerate

    result = train_with_accelerate.fn(
        str(REPO / "configs/train/cpu_tiny.yaml"),
        {"max_steps": 2, "schedule": "sft"},
        str(built_dataset),
        str(tiny_model_dir),
        str(tmp_path / "run"),
        1,
    )
    assert result["launcher"] == "accelerate"
    resolved = json.loads((tmp_path / "run" / "resolved_config.json").read_text())
    assert (resolved["max_steps"], resolved["schedule"]) == (2, "sft")
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()

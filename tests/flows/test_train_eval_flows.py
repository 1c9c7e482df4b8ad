import json
from pathlib import Path

import pytest
import yaml

pytest.importorskip("torch")  # the train extra is always installed by `make test`

from flows.cli import main  # noqa: E402
from flows.evaluate import evaluate  # noqa: E402
from flows.train import train  # noqa: E402
from remot_train.config import TrainConfig, load_train_config  # noqa: E402
from remot_train.eval.config import EvalConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _deployment(name):
    doc = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return next(d for d in doc["deployments"] if d["name"] == name)


def test_deployment_parameters_validate_against_the_flows():
    grpo = train.validate_parameters(_deployment("grpo")["parameters"])
    assert grpo.get("config") is None  # the flow's default: TrainConfig(), the paper's settings
    alternating = train.validate_parameters(_deployment("alternating")["parameters"])
    assert alternating["config"] == TrainConfig(schedule="alternating")
    evaluate.validate_parameters(_deployment("benchmark")["parameters"])
    assert _deployment("grpo")["work_pool"]["name"] == _deployment("benchmark")["work_pool"]["name"] == "remot-gpu"
    with pytest.raises(Exception, match=r"config\.controls\.0: Input should be .reversed. or .shuffled."):
        evaluate.validate_parameters({**_deployment("benchmark")["parameters"], "config": {"controls": ["revresed"]}})
    with pytest.raises(Exception, match="num_processes"):
        train.validate_parameters({**_deployment("grpo")["parameters"], "num_processes": 0})


def test_train_then_evaluate_flows_on_the_tiny_model(prefect_harness, built_dataset, tiny_model_dir, tmp_path):
    config = load_train_config(REPO / "configs/train/cpu_tiny.yaml", max_steps=2)
    result = train(built_dataset, tiny_model_dir, tmp_path / "run", config=config)
    assert result["global_step"] == 2
    metrics = evaluate(
        tmp_path / "run" / "final",
        built_dataset,
        tmp_path / "eval",
        EvalConfig(max_new_tokens=4, batch_size=2, controls=("shuffled",), limit=2),
    )
    assert metrics["n"] == 2 and "Camera" in metrics["table1"]
    assert "items" not in metrics


def test_the_train_flow_refuses_a_launch_that_cannot_fit_before_loading_anything(
    prefect_harness, built_dataset, tiny_model_dir, tmp_path
):
    # a deployment run on a GPU worker gets the same gate as `remot train` (here the GPU's memory is given)
    config = load_train_config(REPO / "configs/train/cpu_tiny.yaml", max_steps=1)
    with pytest.raises(ValueError, match=r"needs about .* GiB per GPU .*more than the 0\.5 GiB given"):
        train(built_dataset, tiny_model_dir, tmp_path / "run", config=config, gpu_memory_gib=0.5)
    assert not (tmp_path / "run").exists()
    result = train(
        built_dataset, tiny_model_dir, tmp_path / "run", config=config, gpu_memory_gib=0.5, skip_memory_check=True
    )
    assert result["global_step"] == 1


def test_cli_score_needs_no_model(tmp_path, capsys):
    release = REPO / "tests" / "data" / "remot_release" / "agibot_sample.jsonl"
    first = json.loads(release.read_text().splitlines()[0])
    preds = tmp_path / "agibot" / "predictions.jsonl"
    preds.parent.mkdir()
    preds.write_text(json.dumps({"id": first["id"], "model_response": first["solution"]}) + "\n")
    assert main(["score", str(preds), "--reference", str(release), "--out", str(tmp_path / "out")]) == 0
    assert (
        "1 of 12 items predicted: Avg. Ov 100.0, Par 100.0 (Exact Match 100.0" in capsys.readouterr().out
    )  # official: over predicted rows
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["missing_predictions"] == 11


def test_accelerate_launch_path_trains_with_the_whole_config(built_dataset, tiny_model_dir, tmp_path):
    from flows.train import train_with_accelerate

    # reward_weights (a dict) used to be dropped on this path: every field must reach the launched process
    weights = {"format": 1.0, "accuracy": 2.0}
    config = load_train_config(
        REPO / "configs/train/cpu_tiny.yaml", max_steps=2, schedule="sft", reward_weights=weights
    )
    result = train_with_accelerate.fn(config, built_dataset, tiny_model_dir, tmp_path / "run", 1)
    assert result["launcher"] == "accelerate"
    resolved = json.loads((tmp_path / "run" / "resolved_config.json").read_text())
    assert resolved == config.to_dict()
    assert (resolved["max_steps"], resolved["schedule"], resolved["reward_weights"]) == (2, "sft", weights)
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()


def test_cli_eval_passes_every_option_to_the_flow(prefect_harness, built_dataset, tiny_model_dir, tmp_path, capsys):
    # --split, --device and --task used to be parsed and then dropped (the flow always scored the test split)
    out = tmp_path / "eval"
    argv = ["eval", "--model", str(tiny_model_dir), "--data", str(built_dataset), "--out", str(out)]
    options = ["--split", "train", "--device", "cpu", "--task", "mine", "--limit", "2", "--controls", "none"]
    assert main([*argv, *options, "--max-new-tokens", "2", "--batch-size", "2"]) == 0
    ids = [json.loads(line)["id"] for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(ids) == 2 and all(i.startswith("remot_train_") for i in ids)  # the train split, no controls
    written = json.loads((out / "metrics.json").read_text())["config"]
    assert (written["splits"], written["device"], written["task"]) == (["train"], "cpu", "mine")
    assert (written["max_new_tokens"], written["batch_size"], written["controls"]) == (2, 2, [])
    capsys.readouterr()
    # a typo in a closed choice is an error naming the flag, the field and the value, not a silent default
    assert main([*argv, "--controls", "revresed"]) == 2
    err = capsys.readouterr().err
    assert "--controls: controls.0: Input should be 'reversed' or 'shuffled', got 'revresed'" in err
    assert main([*argv, "--split", "dev"]) == 2
    assert "--split: splits.0: Input should be 'train', 'val' or 'test', got 'dev'" in capsys.readouterr().err


def test_cli_train_flags_and_config_file_reach_the_config(tmp_path, monkeypatch):
    import flows.train

    seen = {}
    monkeypatch.setattr(flows.train, "train", lambda *a, **k: seen.update(args=a, **k) or {"ok": True})
    config_file = tmp_path / "run.yaml"
    config_file.write_text("schedule: alternating\nk_grpo: 5\nlearning_rate: 1.0e-5\n")
    (tmp_path / "d" / "data" / "train").mkdir(parents=True)  # what the CLI's preflight looks for
    (tmp_path / "d" / "data" / "train" / "part-00000.parquet").write_bytes(b"")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    argv = ["train", "--data", str(tmp_path / "d"), "--model", str(tmp_path / "m"), "--out", str(tmp_path / "o")]
    argv += ["--config", str(config_file)]
    flags = [
        "--learning-rate",
        "2e-5",
        "--reward-weights",
        "{format: 1, accuracy: 2}",
        "--no-bf16",
        "--num-processes",
        "2",
    ]
    assert main([*argv, *flags]) == 0
    config = seen["config"]
    assert (config.schedule, config.k_grpo) == ("alternating", 5)  # from the file
    assert config.learning_rate == 2e-5  # the flag wins over the file
    assert config.reward_weights == {"format": 1.0, "accuracy": 2.0} and config.bf16 is False
    assert seen["num_processes"] == 2
    assert config.num_generations == TrainConfig().num_generations  # neither: the model's default

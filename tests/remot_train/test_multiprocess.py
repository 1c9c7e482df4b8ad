"""`remot train` as users launch it: several processes (torchrun, gloo on CPU), the tiny model standing in for Qwen3-VL.

Each run must end with rc 0, one complete ``final/`` that standard Hugging Face loaders open, and each metric record
written once (not once per rank).
"""

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")  # the train extra is always installed by `make test`

from safetensors.torch import load_file  # noqa: E402

from tests.factories.tiny_model import run_torchrun  # noqa: E402

CPU_TINY = Path(__file__).parents[2] / "configs" / "train" / "cpu_tiny.yaml"


def _torchrun(data, model, out, *flags):
    config = ["--config", str(CPU_TINY), "--data", str(data), "--model", str(model), "--out", str(out)]
    return run_torchrun(["remot_train.train", *config, *flags])


def _records(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return lines, [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    "flags, sft_steps",
    [
        ((), 0),
        (
            ("--schedule", "alternating", "--k-sft", "1", "--k-grpo", "1", "--max-steps", "4")
            + ("--eval-steps", "2", "--eval-split", "test", "--eval-max-triplets", "4", "--final-model", "best"),
            2,
        ),
    ],
    ids=["grpo", "alternating"],
)
def test_two_process_run_ends_with_one_final_and_each_record_once(
    built_dataset, tiny_model_dir, tmp_path, flags, sft_steps
):
    run = tmp_path / "run"
    result = _torchrun(built_dataset, tiny_model_dir, run, *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith("checkpoint-")) == [
        ".remot-output.json",  # remot made the folder (a rerun may resume in it; nothing else is written into)
        "README.md",  # TRL's model card
        "final",
        "metrics.jsonl",
        "metrics.png",
        "resolved_config.json",
        "run_info.json",
    ]
    lines, records = _records(run)
    assert len(lines) == len(set(lines))  # each record once, not once per rank
    steps = [r["step"] for r in records if "loss" in r]
    max_steps = json.loads((run / "resolved_config.json").read_text())["max_steps"]
    assert steps == list(range(1, max_steps + 1))
    assert sum(r.get("schedule/sft_step", 0) for r in records if "loss" in r) == sft_steps
    if "--eval-steps" in flags:  # validation on both ranks' shares, logged once per validated step
        assert [r["step"] for r in records if "eval_reward" in r] == [2, 4]
    assert (run / "final" / "model.safetensors").is_file()
    assert json.loads((run / "run_info.json").read_text())["processes"] == 2  # one gloo group, not two lone ranks


def test_two_process_lora_run_saves_the_merged_full_model(built_dataset, tiny_model_dir, tmp_path):
    run = tmp_path / "lora"
    flags = (
        "--schedule",
        "sft",
        "--lora-r",
        "4",
        "--lora-alpha",
        "8",
        "--lora-dropout",
        "0",
        "--lora-learning-rate",
        "0.01",
    )
    result = _torchrun(built_dataset, tiny_model_dir, run, *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    final = run / "final"
    assert not (final / "adapter_config.json").exists() and (run / "adapter" / "adapter_config.json").is_file()
    before, after = load_file(str(tiny_model_dir / "model.safetensors")), load_file(str(final / "model.safetensors"))
    assert set(before) == set(after)  # the base model's keys: merged, no lora_A/lora_B left
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(
        k.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")) for k in changed
    )
    lines, _ = _records(run)
    assert len(lines) == len(set(lines))

"""The per-GPU memory plan: exact parameter counts, sharding by launch, and the CLI's --plan and refusal."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")  # the train extra is always installed by `make test`

from remot_train.config import TrainConfig  # noqa: E402
from remot_train.memory import check_fits, estimate_memory, read_launch, read_model_shape  # noqa: E402

ACCELERATE = Path(__file__).parents[2] / "configs" / "accelerate"


def test_parameter_count_is_the_models_own(tiny_model_dir):
    from remot_train.modeling import load_model_and_processor

    model, _ = load_model_and_processor(tiny_model_dir)
    shape = read_model_shape(tiny_model_dir, TrainConfig())
    assert shape.parameters == sum(p.numel() for p in model.parameters())
    lora = read_model_shape(tiny_model_dir, TrainConfig(lora_r=4)).lora_parameters
    # four attention projections per text layer (and none of the vision tower's differently named ones)
    expected = sum(
        4 * (m.in_features + m.out_features)
        for name, m in model.named_modules()
        if name.rsplit(".", 1)[-1] in ("q_proj", "k_proj", "v_proj", "o_proj")
    )
    assert lora == expected > 0


@pytest.mark.parametrize(
    "name, strategy", [("multi_gpu", "ddp"), ("deepspeed_zero2", "zero2"), ("deepspeed_zero3", "zero3")]
)
def test_shipped_accelerate_files_name_their_strategy(name, strategy):
    assert read_launch(ACCELERATE / f"{name}.yaml", None) == (strategy, 8)
    assert read_launch(ACCELERATE / f"{name}.yaml", 2) == (strategy, 2)  # the flag wins
    assert read_launch(None, None) == ("single", 1)


def test_sharding_divides_what_each_stage_shards(tiny_model_dir):
    shape = read_model_shape(tiny_model_dir, TrainConfig())
    config = TrainConfig()

    def plan(strategy):
        return estimate_memory(config, shape, strategy=strategy, num_processes=8, gpu_memory_gib=80).components_gib

    ddp, zero2, zero3 = plan("ddp"), plan("zero2"), plan("zero3")
    assert zero2["weights"] == ddp["weights"] and zero2["optimizer (AdamW)"] == pytest.approx(
        ddp["optimizer (AdamW)"] / 8
    )
    assert zero3["weights"] == pytest.approx(ddp["weights"] / 8)
    assert zero3["reference model"] == pytest.approx(ddp["reference model"] / 8)
    assert ddp["optimizer (AdamW)"] == pytest.approx(2 * ddp["weights"])  # 8 bytes of AdamW per 4-byte weight
    no_ref = estimate_memory(TrainConfig(beta=0.0), shape, strategy="ddp", num_processes=8, gpu_memory_gib=80)
    assert no_ref.components_gib["reference model"] == 0
    vllm = estimate_memory(TrainConfig(use_vllm=True), shape, strategy="single", num_processes=1, gpu_memory_gib=100)
    assert vllm.components_gib["vLLM (colocate)"] == pytest.approx(30.0)


def test_a_plan_that_does_not_fit_is_refused_naming_what_to_change(tiny_model_dir):
    shape = read_model_shape(tiny_model_dir, TrainConfig())
    plan = estimate_memory(TrainConfig(), shape, strategy="single", num_processes=1, gpu_memory_gib=80)
    check_fits(plan, plan.total_gib + 0.1)
    with pytest.raises(ValueError, match=r"needs about .* GiB per GPU .*deepspeed_zero3.*--skip-memory-check"):
        check_fits(plan, plan.total_gib - 0.1)


def test_remot_train_plan_prints_and_refuses_before_prefect_starts(built_dataset, tiny_model_dir, tmp_path):
    base = [
        sys.executable,
        "-m",
        "flows.cli",
        "train",
        "--data",
        str(built_dataset),
        "--model",
        str(tiny_model_dir),
    ]
    base += ["--out", str(tmp_path / "run")]
    shown = subprocess.run([*base, "--plan", "--gpu-memory-gib", "80"], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert "memory per GPU (single, 1 process(es))" in shown.stdout and "fits in 80 GiB" in shown.stdout
    refused = subprocess.run([*base, "--gpu-memory-gib", "0.5"], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "more than the 0.5 GiB given" in refused.stderr
    assert not (tmp_path / "run").exists()

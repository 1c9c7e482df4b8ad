import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")  # the train extra is always installed by `make test`

from safetensors.torch import load_file  # noqa: E402

from remot_train.config import TrainConfig, load_train_config  # noqa: E402
from remot_train.train import run_training  # noqa: E402

TINY = dict(
    num_generations=2,
    max_completion_length=24,
    per_device_train_batch_size=2,
    gradient_accumulation_steps=1,
    learning_rate=1e-2,
    lora_learning_rate=1e-2,
    bf16=False,
    use_cpu=True,
    image_max_pixels=64 * 64,
    max_prompt_tokens=2048,
    save_steps=2,
    torch_threads=1,
    warmup_ratio=0.0,
    lr_scheduler_type="constant",
    gradient_checkpointing=False,
)


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def _log(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_grpo_run_changes_parameters_logs_rewards_and_resumes(built_dataset, tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    first = run_training(
        TrainConfig(**TINY, max_steps=2), data_dir=built_dataset, model_dir=tiny_model_dir, out_dir=run_dir
    )
    assert first["global_step"] == 2 and first["resumed_from"] is None
    assert (run_dir / "checkpoint-2").is_dir()
    # a crash while saving the next checkpoint leaves it incomplete: the rerun resumes from the last complete one,
    # and the log lines past it are not written twice
    (run_dir / "checkpoint-4").mkdir()
    with (run_dir / "metrics.jsonl").open("a") as log:
        log.write(json.dumps({"step": 3, "loss": 9.9}) + "\n")
    resumed = run_training(
        TrainConfig(**TINY, max_steps=6), data_dir=built_dataset, model_dir=tiny_model_dir, out_dir=run_dir
    )
    assert resumed["resumed_from"].endswith("checkpoint-2") and resumed["global_step"] == 6
    steps = [r["step"] for r in _log(run_dir) if "loss" in r and "train_runtime" not in r]
    assert len(steps) == len(set(steps)) and 9.9 not in [r.get("loss") for r in _log(run_dir)]
    before, after = _weights(tiny_model_dir), _weights(run_dir / "final")
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2
    log = [r for r in _log(run_dir) if "reward" in r]
    assert len({r["reward"] for r in log}) > 1  # the rewards vary: GRPO gets a non-zero advantage somewhere
    assert {
        "rewards/format_reward/mean",
        "rewards/accuracy_reward/mean",
        "rewards/consistency_reward/mean",
        "rewards/think_length_reward/mean",
    } <= set(log[0])
    info = json.loads((run_dir / "run_info.json").read_text())
    assert len(info["dataset_manifest_sha256"]) == 64 and info["versions"]["trl"]
    assert json.loads((run_dir / "resolved_config.json").read_text())["beta"] == 0.01


def test_alternating_schedule_runs_both_step_kinds(built_dataset, tiny_model_dir, tmp_path):
    config = TrainConfig(**TINY, schedule="alternating", k_sft=1, k_grpo=2, max_steps=6)
    run_training(config, data_dir=built_dataset, model_dir=tiny_model_dir, out_dir=tmp_path / "alt")
    steps = [r for r in _log(tmp_path / "alt") if "schedule/sft_step" in r]
    assert [r["schedule/sft_step"] for r in steps] == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    sft_losses = [r["sft/loss"] for r in steps if r["schedule/sft_step"] == 1.0]
    assert all(0 < loss < 20 for loss in sft_losses)
    assert all("reward" in r for r in steps if r["schedule/sft_step"] == 0.0)


def test_sft_lowers_the_answer_loss(built_dataset, tiny_model_dir, tmp_path):
    config = TrainConfig(**{**TINY, "learning_rate": 5e-3}, schedule="sft", max_steps=12)
    run_training(config, data_dir=built_dataset, model_dir=tiny_model_dir, out_dir=tmp_path / "sft")
    losses = [r["sft/loss"] for r in _log(tmp_path / "sft") if "sft/loss" in r]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3  # the letters get more likely


def test_prompt_over_budget_is_refused_not_truncated(built_dataset, tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match=r"triplet [0-9a-f]{16}: prompt is \d+ tokens .* above max_prompt_tokens=64"):
        run_training(
            TrainConfig(**{**TINY, "max_prompt_tokens": 64}, max_steps=1),
            data_dir=built_dataset,
            model_dir=tiny_model_dir,
            out_dir=tmp_path / "r",
        )
    assert not (tmp_path / "r" / "checkpoint-1").exists()


def test_shipped_configs_load_and_pin_the_paper_settings():
    for name in ("grpo", "alternating"):
        config = load_train_config(f"configs/train/{name}.yaml")
        assert (config.num_generations, config.beta, config.num_train_epochs) == (4, 0.01, 2.0)
        assert config.reward_weights == {"format": 3.5, "accuracy": 3.5, "think_length": 1.3, "consistency": 1.7}
    # grpo.yaml restates nothing: the paper's settings are the model's defaults, written once
    assert load_train_config("configs/train/grpo.yaml") == TrainConfig()
    assert load_train_config("configs/train/cpu_tiny.yaml").use_cpu is True


def test_config_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schedule: grpo\nnum_generations: three\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: num_generations: Input should be a valid integer.*'three'"):
        load_train_config(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: train config must be a mapping"):
        load_train_config(bad)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"schedule": "rl"}, r"schedule: Input should be 'grpo'.*got 'rl'"),
        ({"num_generations": 3}, "divisible by num_generations"),
        ({"reward_weights": {"style": 1.0}}, r"reward_weights\.style.*got 'style'"),
        ({"schedule": "alternating", "k_grpo": 0}, r"k_grpo: Input should be greater than or equal to 1, got 0"),
        ({"learning_rate_typo": 1.0}, r"learning_rate_typo: Extra inputs are not permitted"),
        ({"final_model": "best"}, "final_model best needs validation"),
        ({"eval_steps": 20, "save_steps": 50}, r"save_steps \(50\) must be a multiple of eval_steps \(20\)"),
        (
            {"eval_steps": 10, "best_metric": "consistency", "reward_weights": {"accuracy": 1.0}},
            r"best_metric 'consistency' is not a reward of the run",
        ),
    ],
)
def test_config_errors_name_the_field_and_value(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_train_config(None, **overrides)


def test_master_weights_are_float32_by_default():
    # bf16 master weights lose AdamW's small steps: 98 % of weights of a bf16 model do not move at lr 1e-6
    w = torch.ones(1000, dtype=torch.bfloat16) * torch.linspace(0.5, 2.0, 1000, dtype=torch.bfloat16)
    assert (w - 1e-6 * torch.ones_like(w) == w).float().mean() > 0.95  # the problem: a 1e-6 step vanishes in bf16
    assert TrainConfig().weights_dtype == "float32"


def test_every_pinned_setting_reaches_trl():
    # a setting dropped on its way to GRPOConfig would leave TRL's own default in place (beta 0.0, 8 generations, ...)
    from remot_train.train import make_grpo_args

    config = TrainConfig(
        beta=0.07,
        num_generations=3,
        per_device_train_batch_size=3,
        gradient_accumulation_steps=1,
        epsilon=0.3,
        loss_type="dr_grpo",
        scale_rewards="batch",
        temperature=0.7,
        top_p=0.9,
        max_completion_length=77,
        learning_rate=3e-5,
        use_bias_correction_kl=True,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
    )
    args = make_grpo_args(config, Path("/tmp/unused"))
    for name in (
        "beta",
        "num_generations",
        "epsilon",
        "loss_type",
        "scale_rewards",
        "temperature",
        "top_p",
        "max_completion_length",
        "learning_rate",
        "per_device_train_batch_size",
        "use_bias_correction_kl",
    ):
        assert getattr(args, name) == getattr(config, name), name


def test_reward_weights_follow_their_names(tiny_model_dir, built_dataset, tmp_path):
    # make_trainer must give TRL the weights in the order of the reward functions it passes
    from remot_train.data import load_trl_dataset
    from remot_train.modeling import load_model_and_processor
    from remot_train.train import make_grpo_args, make_trainer

    weights = {"format": 1.0, "accuracy": 2.0, "think_length": 3.0, "consistency": 4.0}
    config = TrainConfig(**TINY, reward_weights=weights, max_steps=1)
    model, processor = load_model_and_processor(tiny_model_dir)
    trainer = make_trainer(
        config, make_grpo_args(config, tmp_path), model, processor, load_trl_dataset(built_dataset), callbacks=[]
    )
    names = [getattr(f, "__name__", type(f).__name__) for f in trainer.reward_funcs]
    got = dict(zip(names, trainer.args.reward_weights, strict=True))
    assert got == {f"{k}_reward": v for k, v in weights.items()}


@pytest.mark.parametrize("side", ["left", "right"])
def test_sft_labels_cover_exactly_the_answer_letters(tiny_model_dir, built_dataset, side):
    # SFT trains the letters only, whichever side the tokenizer pads (Qwen3-VL and the tiny model: right)
    from remot_train.data import load_trl_dataset
    from remot_train.modeling import load_processor
    from remot_train.rewards import solution_letters
    from remot_train.train import sft_batch

    processor = load_processor(tiny_model_dir)
    processor.tokenizer.padding_side = side
    dataset = load_trl_dataset(built_dataset)
    rows = [dataset[i] for i in range(3)]
    # the tiny tokenizer learnt ">ABCD" as one token (Qwen's pre-tokenizer glues ">" to letters): "ABCD" alone is 3
    rows.append({**rows[0], "solution": "<answer>ABCD</answer>"})
    batch, labels = sft_batch(processor, rows)
    for i, row in enumerate(rows):
        letters = solution_letters(row["solution"])
        positions = (labels[i] != -100).nonzero().flatten()
        assert (positions.diff() == 1).all()  # one run of tokens
        text = processor.tokenizer.decode(labels[i][positions])
        # exactly the tokens that carry the letters: BPE may glue the ">" of <answer> to them, nothing more
        assert text.endswith(letters) and "<answer>".endswith(text[: len(text) - len(letters)]), text
        first = processor.tokenizer.decode(labels[i][positions[:1]])
        assert any(c in letters for c in first), first  # no token without a letter (e.g. "answer") is trained
        after = processor.tokenizer.decode(batch["input_ids"][i][positions[-1] + 1 : positions[-1] + 2])
        assert after.startswith("</"), after
    assert (labels != -100).sum() < 0.05 * batch["attention_mask"].sum()


def test_vllm_settings_reach_trl_and_impossible_ones_are_refused(tmp_path):
    from pydantic import ValidationError

    from remot_train.train import make_grpo_args

    config = TrainConfig(
        use_vllm=True,
        vllm_mode="server",
        vllm_server_base_url="http://gpu-node:8000",
        vllm_tensor_parallel_size=2,
        bf16=False,  # (this machine has no GPU; GRPOConfig checks bf16 against it)
    )
    args = make_grpo_args(config, tmp_path)
    assert (args.use_vllm, args.vllm_mode, args.vllm_server_base_url) == (True, "server", "http://gpu-node:8000")
    assert args.vllm_tensor_parallel_size == 2 and args.vllm_gpu_memory_utilization == 0.3
    assert make_grpo_args(TrainConfig(bf16=False), tmp_path).use_vllm is False
    with pytest.raises(ValidationError, match="use_vllm needs a GPU"):
        TrainConfig(use_vllm=True, use_cpu=True)
    with pytest.raises(ValidationError, match="vllm_mode server needs vllm_server_base_url"):
        TrainConfig(use_vllm=True, vllm_mode="server")


def test_lora_trains_adapters_and_final_is_the_merged_model(built_dataset, tiny_model_dir, tmp_path):
    from remot_train.modeling import load_model_and_processor

    run_dir = tmp_path / "lora"
    run_training(
        # SFT steps: a gradient every step (a random tiny model's GRPO rewards are often all zero for a step or two)
        TrainConfig(**TINY, schedule="sft", max_steps=2, lora_r=4, lora_alpha=8, lora_dropout=0.0),
        data_dir=built_dataset,
        model_dir=tiny_model_dir,
        out_dir=run_dir,
    )
    final = run_dir / "final"
    assert not (final / "adapter_config.json").exists()  # a whole model, loadable like the base
    before, after = _weights(tiny_model_dir), _weights(final)
    assert set(before) == set(after)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(
        k.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")) for k in changed
    )
    model, processor = load_model_and_processor(final)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration" and processor.image_processor is not None


@pytest.mark.parametrize(
    "name, kind, stage",
    [("multi_gpu", "MULTI_GPU", None), ("deepspeed_zero2", "DEEPSPEED", 2), ("deepspeed_zero3", "DEEPSPEED", 3)],
)
def test_shipped_accelerate_configs_load_and_reach_the_launcher(name, kind, stage, tmp_path):
    # read by accelerate's own config class (what `accelerate launch --config_file` does)
    from accelerate.commands.config.config_args import ClusterConfig

    from flows.train import accelerate_command

    path = Path(__file__).resolve().parents[2] / "configs" / "accelerate" / f"{name}.yaml"
    loaded = ClusterConfig.from_yaml_file(str(path))
    assert loaded.distributed_type.name == kind and loaded.mixed_precision == "bf16"
    assert (loaded.deepspeed_config or {}).get("zero_stage") == stage
    command = accelerate_command(tmp_path / "c.yaml", tmp_path, tmp_path, tmp_path, 4, path)
    assert command[command.index("--config_file") + 1] == str(path)
    assert command[command.index("--num_processes") + 1] == "4"  # the run's count wins over the file's
    assert "--config_file" not in accelerate_command(tmp_path / "c.yaml", tmp_path, tmp_path, tmp_path, 4, None)


@pytest.mark.parametrize("family", ["qwen3_vl", "qwen2_5_vl"])
def test_prompt_lengths_from_image_sizes_equal_the_processors(
    family, built_dataset, tiny_model_dir, tiny_qwen2_5_vl_dir
):
    from PIL import Image

    from remot_train.data import load_trl_dataset
    from remot_train.modeling import load_processor
    from remot_train.train import configure_image_budget, prompt_tokens

    processor = load_processor(tiny_model_dir if family == "qwen3_vl" else tiny_qwen2_5_vl_dir)
    configure_image_budget(processor, 64 * 64)
    rows = list(load_trl_dataset(built_dataset))
    sizes = [(64, 48), (50, 37), (300, 120), (17, 90), (640, 480), (29, 29)]  # aspect ratios and budgets of all kinds
    rows += [
        {**rows[0], "images": [Image.new("RGB", sizes[(k + j) % len(sizes)]) for j in range(3)]}
        for k in range(len(sizes))
    ]
    for row in rows:
        text = processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
        slow = len(processor(text=[text], images=[row["images"]], return_tensors="pt")["input_ids"][0])
        assert prompt_tokens(processor, row) == slow


def test_new_generation_and_vllm_settings_reach_trl(tmp_path):
    from types import SimpleNamespace

    from remot_train.train import make_grpo_args

    config = TrainConfig(bf16=False, top_k=7, repetition_penalty=1.1, multi_objective_aggregation="normalize_then_sum")
    args = make_grpo_args(config, tmp_path)
    assert (args.top_k, args.repetition_penalty, args.multi_objective_aggregation) == (7, 1.1, "normalize_then_sum")
    # unset top_k: the checkpoint's generation_config value (TRL's own default 0 would switch top-k off)
    assert make_grpo_args(TrainConfig(bf16=False), tmp_path, generation_config=SimpleNamespace(top_k=20)).top_k == 20
    assert make_grpo_args(TrainConfig(bf16=False), tmp_path, generation_config=None).top_k == 0
    # vLLM reserves KV for the budgets, not the checkpoint's 262,144-token context
    args = make_grpo_args(TrainConfig(bf16=False, max_prompt_tokens=3000, max_completion_length=1000), tmp_path)
    assert args.vllm_max_model_length == 4000 and args.vllm_enable_sleep_mode is False
    args = make_grpo_args(TrainConfig(bf16=False, vllm_max_model_length=9000, vllm_enable_sleep_mode=True), tmp_path)
    assert (args.vllm_max_model_length, args.vllm_enable_sleep_mode) == (9000, True)
    # LoRA trains at its own learning rate; a full-model run at learning_rate
    assert make_grpo_args(TrainConfig(bf16=False, lora_r=8, lora_learning_rate=2e-5), tmp_path).learning_rate == 2e-5
    assert make_grpo_args(TrainConfig(bf16=False, lora_learning_rate=2e-5), tmp_path).learning_rate == 1e-6
    assert make_grpo_args(TrainConfig(bf16=False, report_to=("tensorboard",)), tmp_path).report_to == ["tensorboard"]
    # validation batches hold whole groups for any group size (transformers' default 8 does not divide 3)
    grouped = TrainConfig(
        bf16=False, num_generations=3, per_device_train_batch_size=3, gradient_accumulation_steps=1, eval_steps=50
    )
    args = make_grpo_args(grouped, tmp_path)
    assert (args.eval_strategy, args.eval_steps, args.per_device_eval_batch_size) == ("steps", 50, 3)
    assert make_grpo_args(TrainConfig(bf16=False), tmp_path).eval_strategy == "no"


def test_the_paper_defaults_are_pinned():
    # each of these moved once without a test noticing; a change must be deliberate
    config = TrainConfig()
    assert config.think_target_words == 400
    assert config.max_completion_length == 2048
    assert config.use_bias_correction_kl is False
    assert config.accuracy_mode == "per_char"
    assert (config.num_generations, config.beta, config.loss_type, config.scale_rewards) == (4, 0.01, "grpo", "group")
    assert config.reward_weights == {"format": 3.5, "accuracy": 3.5, "think_length": 1.3, "consistency": 1.7}
    assert (config.top_k, config.repetition_penalty, config.multi_objective_aggregation) == (
        None,
        1.0,
        "sum_then_normalize",
    )
    assert config.vllm_model_length == config.max_prompt_tokens + config.max_completion_length == 4096 + 2048


class _RecordingAccelerator:
    """Stands in for accelerate's Accelerator.backward only: records what the SFT step hands it."""

    def __init__(self, distributed_type):
        self.distributed_type = distributed_type
        self.calls = []

    def backward(self, loss, **kwargs):
        self.calls.append((loss.item(), kwargs))


@pytest.mark.parametrize("kind", ["DEEPSPEED", "MULTI_GPU", "NO"])
def test_sft_backward_divides_by_accumulation_once(kind):
    # DeepSpeed's engine divides by gradient accumulation itself unless scale_wrt_gas=False: the SFT step divides
    # already, so without the flag an SFT step under ZeRO got 1/GA of its gradient (a quarter at GA 4)
    from accelerate.utils import DistributedType

    from remot_train.train import backward_accumulated

    accelerator = _RecordingAccelerator(DistributedType[kind])
    backward_accumulated(accelerator, torch.tensor(2.0), 4)
    expected = {"scale_wrt_gas": False} if kind == "DEEPSPEED" else {}
    assert accelerator.calls == [(0.5, expected)]


def test_the_final_processor_reload_guard_refuses_a_processor_that_drops_images(
    built_dataset, tiny_model_dir, tmp_path, monkeypatch
):
    # final/ must reload with its image processor; a save that loses it fails the run instead of passing silently
    import remot_train.train as train

    def lose_images(folder):
        raise ValueError(f"{folder}: its processor has no image processor")

    monkeypatch.setattr(train, "load_processor", lose_images)
    with pytest.raises(ValueError, match="has no image processor"):
        run_training(
            TrainConfig(**TINY, max_steps=1), data_dir=built_dataset, model_dir=tiny_model_dir, out_dir=tmp_path
        )


def test_rollouts_are_logged_every_n_grpo_steps_and_curves_drawn(built_dataset, tiny_model_dir, tmp_path):
    from PIL import Image

    config = TrainConfig(**TINY, schedule="alternating", k_sft=1, k_grpo=1, max_steps=4, rollout_log_steps=1)
    run_training(config, data_dir=built_dataset, model_dir=tiny_model_dir, out_dir=tmp_path / "run")
    rollouts = [json.loads(line) for line in (tmp_path / "run" / "rollouts.jsonl").read_text().splitlines()]
    # steps 1 and 3 were SFT: nothing generated, and step 2's rollouts must not be written again at step 3
    assert [r["step"] for r in rollouts] == [2, 2, 4, 4]
    assert set(rollouts[0]["rewards"]) == {
        "format_reward",
        "accuracy_reward",
        "think_length_reward",
        "consistency_reward",
    }
    assert "Image 1" in rollouts[0]["prompt"] and isinstance(rollouts[0]["completion"], str)
    assert isinstance(rollouts[0]["advantage"], float)
    plot = Image.open(tmp_path / "run" / "metrics.png")
    assert plot.format == "PNG" and plot.height >= 150 * 3  # reward, kl, sft/loss and four components: 4 rows


def test_validation_sample_is_a_fixed_seeded_subset_of_the_split(built_dataset):
    from remot_train.data import load_trl_dataset
    from remot_train.train import load_validation_dataset

    assert load_validation_dataset(TrainConfig(bf16=False), built_dataset) is None  # eval_steps 0: no validation
    val_ids = set(load_trl_dataset(built_dataset, split="test")["triplet_id"])  # the small build has no val split
    assert len(val_ids) > 3
    config = TrainConfig(bf16=False, eval_steps=10, eval_max_triplets=3, eval_split="test")
    sample = load_validation_dataset(config, built_dataset)["triplet_id"]
    assert len(sample) == 3 and set(sample) <= val_ids
    assert load_validation_dataset(config, built_dataset)["triplet_id"] == sample  # the same every validation
    other = load_validation_dataset(config.model_copy(update={"seed": 1}), built_dataset)["triplet_id"]
    assert other != sample
    with pytest.raises(FileNotFoundError, match="no Parquet files for split 'val'"):
        load_validation_dataset(config.model_copy(update={"eval_split": "val"}), built_dataset)


def test_validation_logs_val_rewards_and_final_is_the_best_checkpoint(built_dataset, tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    config = TrainConfig(
        **{**TINY, "save_steps": 1},
        schedule="alternating",  # SFT steps move the weights whatever the rewards
        k_sft=1,
        k_grpo=1,
        max_steps=4,
        save_total_limit=2,
        eval_steps=1,
        eval_max_triplets=6,
        eval_split="test",
        best_metric="reward",
        final_model="best",
        report_to=("tensorboard",),
    )
    result = run_training(config, data_dir=built_dataset, model_dir=tiny_model_dir, out_dir=run_dir)
    validations = [r for r in _log(run_dir) if "eval_reward" in r]
    assert [r["step"] for r in validations] == [1, 2, 3, 4]
    assert {"eval_rewards/accuracy_reward/mean", "eval_rewards/format_reward/mean"} <= set(validations[0])
    best = max(validations, key=lambda r: (r["eval_reward"], -r["step"]))  # the first of equal bests
    assert result["best_checkpoint"].endswith(f"checkpoint-{best['step']}")
    assert result["best_metric"] == pytest.approx(best["eval_reward"])
    # save_total_limit 2 keeps the newest checkpoint and the best, whichever step it was
    kept = {p.name for p in run_dir.glob("checkpoint-*")}
    assert len(kept) == 2 and {f"checkpoint-{best['step']}", "checkpoint-4"} <= kept
    final, best_weights = _weights(run_dir / "final"), _weights(run_dir / f"checkpoint-{best['step']}")
    assert all(torch.equal(final[k], best_weights[k]) for k in final)
    if best["step"] != 4:  # final/ is the best model, not the last one
        last = _weights(run_dir / "checkpoint-4")
        assert any(not torch.equal(final[k], last[k]) for k in final)
    # --report-to tensorboard: the train extra ships it; training and validation curves land in event files
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = {p.parent for p in run_dir.rglob("events.out.tfevents.*")}
    tags = EventAccumulator(str(events)).Reload().Tags()["scalars"]
    assert {"train/reward", "eval/reward", "eval/rewards/accuracy_reward/mean"} <= set(tags)


def test_attn_implementation_reaches_the_model(tiny_model_dir):
    from remot_train.modeling import load_model

    assert load_model(tiny_model_dir, attn_implementation="eager").config._attn_implementation == "eager"
    assert load_model(tiny_model_dir).config._attn_implementation == "sdpa"


def test_every_train_config_field_is_forwarded_to_trl_or_read_by_remot():
    # a field that reaches neither TRL nor remot's own code would be a flag that silently does nothing
    import re

    from remot_train.train import FORWARDED_TO_TRL, make_grpo_args

    # every forwarded field set away from both remot's and TRL's defaults: a field dropped from the list shows
    moved = dict(
        num_generations=3, beta=0.05, loss_type="dr_grpo", scale_rewards="batch", epsilon=0.3, num_iterations=2,
        importance_sampling_level="sequence", mask_truncated_completions=True, max_completion_length=99,
        temperature=0.7, top_p=0.9, repetition_penalty=1.2, multi_objective_aggregation="normalize_then_sum",
        lr_scheduler_type="linear", num_train_epochs=3.0, max_steps=7, per_device_train_batch_size=3,
        gradient_accumulation_steps=2, bf16=False, use_cpu=True, seed=11, logging_steps=3, save_steps=9,
        save_total_limit=4, use_bias_correction_kl=True, use_vllm=False, vllm_mode="server",
        vllm_gpu_memory_utilization=0.4, vllm_tensor_parallel_size=2, vllm_server_base_url="http://h:1",
        vllm_enable_sleep_mode=True, warmup_ratio=0.1, gradient_checkpointing=False,
    )  # fmt: skip
    assert set(moved) == set(FORWARDED_TO_TRL)
    config = TrainConfig(**moved)
    args = make_grpo_args(config, Path("/tmp/unused"))
    defaults = TrainConfig(bf16=False)
    for ours, theirs in FORWARDED_TO_TRL.items():
        assert getattr(args, theirs) == getattr(config, ours), ours
        if ours not in ("bf16", "use_cpu", "use_vllm"):  # switches the run needs off on CPU
            assert getattr(config, ours) != getattr(defaults, ours), ours
    root = Path(__file__).resolve().parents[2]
    sources = {
        p: p.read_text(encoding="utf-8") for folder in ("remot_train", "flows") for p in (root / folder).rglob("*.py")
    }
    for name in TrainConfig.model_fields:
        if name in FORWARDED_TO_TRL:
            continue
        readers = [p.name for p, text in sources.items() if re.search(rf"\.{name}\b", text)]
        assert readers, f"TrainConfig.{name} is neither in FORWARDED_TO_TRL nor read anywhere (config.{name})"

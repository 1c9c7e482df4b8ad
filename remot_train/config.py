"""Training configuration: one pydantic model whose defaults are the paper's settings and whose fields carry their help.

The CLI flags (``remot train``, ``python -m remot_train.train``), the ``train`` flow's parameter and the YAML files in
``configs/train/`` are all validated by ``TrainConfig``. Every GRPO setting whose TRL default changed across
versions is set here explicitly, so a TRL upgrade cannot silently change a run; the resolved config is written into
every run directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from remot_train.cli_args import add_config_arguments, read_config_file, validate_config
from remot_train.rewards import AccuracyMode, RewardName

Schedule = Literal["grpo", "sft", "sft_then_grpo", "alternating"]
SplitName = Literal["train", "val", "test"]


class TrainConfig(BaseModel):
    """Settings of a training run; the defaults are the paper's GRPO settings for Qwen3-VL-4B-Thinking on GPU."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Schedule
    schedule: Schedule = Field("grpo", description="Optimizer-step schedule: grpo, sft, sft_then_grpo or alternating")
    k_sft: int = Field(
        1,
        ge=1,
        description="alternating: SFT optimizer steps per cycle (step t is SFT when t mod (k_sft + k_grpo) < k_sft)",
    )
    k_grpo: int = Field(3, ge=1, description="alternating: GRPO optimizer steps per cycle")
    sft_steps: int = Field(50, ge=0, description="sft_then_grpo: number of SFT optimizer steps before GRPO starts")
    # Rewards
    reward_weights: dict[RewardName, float] = Field(
        default_factory=lambda: {"format": 3.5, "accuracy": 3.5, "think_length": 1.3, "consistency": 1.7},
        min_length=1,
        description="Weight per reward component (paper: format : accuracy : length : logic = 3.5 : 3.5 : 1.3 : 1.7)",
    )
    accuracy_mode: AccuracyMode = Field(
        "per_char", description="What the accuracy reward pays: exact match (1/0) or the per-letter fraction"
    )
    think_target_words: int = Field(
        400, ge=1, description="L of the think-length penalty -max(0, words - L)/L, in whitespace words inside <think>"
    )
    # GRPO (every TRL default that changed across versions, pinned)
    num_generations: int = Field(
        4, ge=2, description="Completions per prompt; GRPO compares them (paper: 4; TRL default 8)"
    )
    beta: float = Field(0.01, ge=0.0, description="KL coefficient (paper: 0.01; TRL default 0.0 since 0.20)")
    loss_type: str = Field("grpo", description="TRL loss_type (TRL default moved grpo -> bnpo -> dapo)")
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="Advantage scaling (was a bool before TRL 0.22)"
    )
    epsilon: float = Field(0.2, gt=0.0, description="PPO clip range")
    use_bias_correction_kl: bool = Field(
        False,
        description="Weight the KL term by the importance ratio (TRL 1.16's new default True; the paper's GRPO, as "
        "TRL before it, does not)",
    )
    num_iterations: int = Field(1, ge=1, description="GRPO iterations per generation batch")
    importance_sampling_level: Literal["token", "sequence"] = Field(
        "token", description="token (GRPO) or sequence (GSPO)"
    )
    mask_truncated_completions: bool = Field(False, description="Exclude truncated completions from the loss")
    max_completion_length: int = Field(
        2048,
        ge=1,
        description="Tokens generated per completion (TRL default 256 -> 512); a Thinking model's reasoning needs "
        "room, and a cut-off completion has no answer to reward",
    )
    temperature: float = Field(1.0, gt=0.0, description="Sampling temperature")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling")
    top_k: int | None = Field(
        None,
        ge=0,
        description="Top-k sampling; unset: the checkpoint's generation_config value (Qwen3-VL Thinking: 20), where "
        "TRL would use 0 (off)",
    )
    repetition_penalty: float = Field(1.0, gt=0.0, description="Repetition penalty of sampling (1.0: none)")
    multi_objective_aggregation: Literal["sum_then_normalize", "normalize_then_sum"] = Field(
        "sum_then_normalize",
        description="How reward components become one advantage: weighted sum, then group-normalised (GRPO as in "
        "the paper), or each normalised first (GDPO)",
    )
    # Optimisation
    learning_rate: float = Field(1e-6, gt=0.0, description="Peak learning rate")
    lr_scheduler_type: str = Field("cosine", description="Learning-rate schedule (a transformers scheduler name)")
    warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0, description="Warm-up fraction of the steps")
    num_train_epochs: float = Field(2.0, gt=0.0, description="Epochs (paper: 2)")
    max_steps: int = Field(-1, ge=-1, description="Stop after this many optimizer steps (-1: epochs decide)")
    per_device_train_batch_size: int = Field(4, ge=1, description="Completions per device per micro-batch")
    gradient_accumulation_steps: int = Field(4, ge=1, description="Micro-batches per optimizer step")
    gradient_checkpointing: bool = Field(True, description="Trade compute for memory (activation checkpointing)")
    bf16: bool = Field(True, description="bf16 autocast for compute (off on CPU); weights follow weights_dtype")
    weights_dtype: Literal["float32", "bfloat16"] = Field(
        "float32",
        description="Dtype of the trained (master) weights: float32, because AdamW steps at lr 1e-6 are below "
        "bfloat16's resolution for ~98 % of weights; bfloat16 only to save memory, knowing that",
    )
    use_cpu: bool = Field(False, description="Train on CPU")
    seed: int = Field(0, ge=0, description="Seed of data order, sampling and init")
    # Images and prompt budget
    image_max_pixels: int = Field(
        448 * 448,
        ge=28 * 28,
        description="Pixel budget per image given to the processor; three images must fit max_prompt_tokens",
    )
    max_prompt_tokens: int = Field(
        4096, ge=16, description="A longer prompt (image tokens included) is refused with an error, never truncated"
    )
    # Rollouts (vLLM; needs a GPU and the vllm package, which remot does not install)
    use_vllm: bool = Field(False, description="Generate rollouts with vLLM instead of transformers generate")
    vllm_mode: Literal["colocate", "server"] = Field(
        "colocate", description="vLLM in the training processes (colocate) or a `trl vllm-serve` server (server)"
    )
    vllm_gpu_memory_utilization: float = Field(
        0.3, gt=0.0, le=1.0, description="colocate: share of each GPU's memory vLLM may take"
    )
    vllm_tensor_parallel_size: int = Field(1, ge=1, description="colocate: GPUs one vLLM engine spans")
    vllm_server_base_url: str | None = Field(None, description="server: the vLLM server's URL (e.g. http://host:8000)")
    vllm_max_model_length: int | None = Field(
        None,
        ge=16,
        description="colocate: context vLLM reserves KV cache for; unset: max_prompt_tokens + max_completion_length "
        "(the checkpoint's 262,144 would not fit beside training)",
    )
    vllm_enable_sleep_mode: bool = Field(
        False, description="colocate: vLLM frees its weights and KV cache while the optimizer steps"
    )
    # LoRA (peft): train adapters only, merged into the model saved as final/
    lora_r: int = Field(0, ge=0, description="LoRA rank (0: train the full model)")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling alpha")
    lora_learning_rate: float = Field(
        1e-5,
        gt=0.0,
        description="Peak learning rate of a LoRA run (learning_rate's 1e-6 barely moves an adapter); full-model "
        "runs use learning_rate",
    )
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="LoRA dropout")
    lora_target_modules: tuple[str, ...] = Field(
        ("q_proj", "k_proj", "v_proj", "o_proj"),
        description="Modules that get LoRA adapters (the language model's attention projections by default)",
    )
    # Bookkeeping
    split: SplitName = Field("train", description="Dataset split to train on")
    logging_steps: int = Field(1, ge=1, description="Log every N optimizer steps")
    save_steps: int = Field(50, ge=1, description="Checkpoint every N optimizer steps")
    save_total_limit: int = Field(3, ge=1, description="Checkpoints kept")
    torch_threads: int = Field(0, ge=0, description="torch CPU threads (0: leave torch's default)")
    report_to: tuple[str, ...] = Field(
        (),
        description="Experiment trackers the Trainer logs to (tensorboard, wandb, mlflow, ...; each must be "
        "installed); metrics.jsonl and metrics.png are written always",
    )
    rollout_log_steps: int = Field(
        10, ge=0, description="Write sampled rollouts (prompt id, completion, rewards) every N steps (0: never)"
    )
    attn_implementation: str | None = Field(
        None,
        description="Attention kernel the model loads with (sdpa, eager, flash_attention_2, ...; unset: "
        "transformers' choice, sdpa where available)",
    )
    # Validation during training
    eval_steps: int = Field(
        0,
        ge=0,
        description="Validate every N optimizer steps: rollouts on eval_max_triplets triplets of eval_split, scored "
        "by the rewards and logged as eval_* (0: never); save_steps must be a multiple of it",
    )
    eval_split: SplitName = Field("val", description="Split validation draws its triplets from")
    eval_max_triplets: int = Field(
        128, ge=1, description="Triplets per validation: a fixed sample (seeded by seed) of eval_split"
    )
    best_metric: RewardName | Literal["reward"] = Field(
        "accuracy",
        description="Validation mean (a reward component, or reward: their weighted sum) that picks the best "
        "checkpoint, higher is better; that checkpoint is never rotated out by save_total_limit",
    )
    final_model: Literal["last", "best"] = Field(
        "last", description="What final/ holds: the last step's model, or the best validated checkpoint's"
    )

    @model_validator(mode="after")
    def _check_vllm(self) -> TrainConfig:
        if self.use_vllm and self.use_cpu:
            raise ValueError("use_vllm needs a GPU: vLLM rollouts cannot run with use_cpu")
        if self.use_vllm and self.vllm_mode == "server" and not self.vllm_server_base_url:
            raise ValueError("vllm_mode server needs vllm_server_base_url (the `trl vllm-serve` address)")
        return self

    @model_validator(mode="after")
    def _check_validation(self) -> TrainConfig:
        if self.final_model == "best" and not self.eval_steps:
            raise ValueError("final_model best needs validation: set eval_steps (validate every N steps)")
        if self.eval_steps and self.save_steps % self.eval_steps:
            raise ValueError(
                f"save_steps ({self.save_steps}) must be a multiple of eval_steps ({self.eval_steps}): the best "
                "checkpoint is one saved at a validated step"
            )
        if self.eval_steps and self.best_metric != "reward" and self.best_metric not in self.reward_weights:
            raise ValueError(
                f"best_metric {self.best_metric!r} is not a reward of the run (reward_weights: "
                f"{sorted(self.reward_weights)}); name one of them or reward"
            )
        return self

    @model_validator(mode="after")
    def _check_generation_batch(self) -> TrainConfig:
        if (self.per_device_train_batch_size * self.gradient_accumulation_steps) % self.num_generations:
            raise ValueError(
                "per_device_train_batch_size x gradient_accumulation_steps must be divisible by num_generations "
                f"(the generation batch holds whole groups), got {self.per_device_train_batch_size} x "
                f"{self.gradient_accumulation_steps} and {self.num_generations}"
            )
        return self

    def is_sft_step(self, step: int) -> bool:
        """Return whether optimizer step ``step`` (0-based) is an SFT step under the schedule.

        Example:
            >>> cfg = TrainConfig(schedule="alternating", k_sft=1, k_grpo=2)
            >>> [cfg.is_sft_step(t) for t in range(6)]
            [True, False, False, True, False, False]
        """
        if self.schedule == "sft":
            return True
        if self.schedule == "sft_then_grpo":
            return step < self.sft_steps
        if self.schedule == "alternating":
            return step % (self.k_sft + self.k_grpo) < self.k_sft
        return False

    @property
    def effective_learning_rate(self) -> float:
        """Return the peak learning rate the run uses: ``lora_learning_rate`` with LoRA, else ``learning_rate``."""
        return self.lora_learning_rate if self.lora_r else self.learning_rate

    @property
    def vllm_model_length(self) -> int:
        """Return the context vLLM reserves: ``vllm_max_model_length``, else the prompt + completion budgets."""
        return self.vllm_max_model_length or self.max_prompt_tokens + self.max_completion_length

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved config as plain JSON data."""
        return self.model_dump(mode="json")


def load_train_config(path: Path | None = None, **overrides: Any) -> TrainConfig:
    """Load a TrainConfig from YAML (defaults for keys it omits), with keyword overrides on top.

    Raises:
        ConfigError: Naming the file, the field and the bad value, or the unknown key.
        FileNotFoundError: If the file does not exist.
    """
    data = read_config_file(path, "train config") if path is not None else {}
    return validate_config(TrainConfig, {**data, **overrides}, source=str(path) if path else None)


def make_train_parser(subparsers=None, *, prog: str | None = None) -> argparse.ArgumentParser:
    """Return the ``train`` parser: the run's paths, ``--no-resume``, ``--config FILE`` and one flag per field.

    Lives here, not in ``train.py``, so the ``remot`` CLI can build it without importing torch.
    """
    parser = (
        subparsers.add_parser("train", help="train on a triplet dataset (GRPO / SFT schedules; needs remot[train])")
        if subparsers is not None
        else argparse.ArgumentParser(prog=prog)
    )
    parser.add_argument("--data", required=True, type=Path, help="dataset directory written by `remot build`")
    parser.add_argument(
        "--model", required=True, type=Path, help="local model folder (e.g. Qwen3-VL-4B-Thinking); no hub downloads"
    )
    parser.add_argument("--out", required=True, type=Path, help="run directory (checkpoints, metrics, final model)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    add_config_arguments(parser, TrainConfig)
    return parser

"""Training configuration: one dataclass whose fields carry their help (read by the CLI), loaded from YAML.

Every GRPO setting whose TRL default changed across versions is set here explicitly, so a TRL upgrade cannot
silently change a run; the resolved config is written into every run directory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

Schedule = Literal["grpo", "sft", "sft_then_grpo", "alternating"]
SCHEDULES = ("grpo", "sft", "sft_then_grpo", "alternating")
REWARD_NAMES = ("format", "accuracy", "think_length", "consistency")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Settings of a training run (help text in each field's metadata)."""

    # Schedule
    schedule: Schedule = field(default="grpo", metadata={"help": "grpo, sft, sft_then_grpo or alternating."})
    k_sft: int = field(
        default=1,
        metadata={
            "help": "Alternating: SFT optimizer steps per cycle (step t is SFT when t mod (k_sft + k_grpo) < k_sft)."
        },
    )
    k_grpo: int = field(default=3, metadata={"help": "Alternating: GRPO optimizer steps per cycle."})
    sft_steps: int = field(
        default=50, metadata={"help": "sft_then_grpo: number of SFT optimizer steps before GRPO starts."}
    )
    # Rewards
    reward_weights: dict[str, float] = field(
        default_factory=lambda: {"format": 3.5, "accuracy": 3.5, "think_length": 1.3, "consistency": 1.7},
        metadata={
            "help": "Weight per reward component (paper: format : accuracy : length : logic = 3.5 : 3.5 : 1.3 : 1.7)."
        },
    )
    accuracy_mode: Literal["exact", "per_char"] = field(
        default="per_char",
        metadata={"help": "Which accuracy drives the accuracy reward: exact match (1/0) or the per-letter fraction."},
    )
    think_target_words: int = field(
        default=400,
        metadata={
            "help": "L_target of the think-length penalty -max(0, words - L)/L, in whitespace words inside <think>."
        },
    )
    # GRPO (every TRL default that changed across versions, pinned)
    num_generations: int = field(default=4, metadata={"help": "Completions per prompt (paper: 4; TRL default 8)."})
    beta: float = field(default=0.01, metadata={"help": "KL coefficient (paper: 0.01; TRL default 0.0 since 0.20)."})
    loss_type: str = field(default="grpo", metadata={"help": "TRL loss_type (TRL default moved grpo -> bnpo -> dapo)."})
    scale_rewards: str = field(
        default="group", metadata={"help": "Advantage scaling: group, batch or none (was a bool before TRL 0.22)."}
    )
    epsilon: float = field(default=0.2, metadata={"help": "PPO clip range."})
    num_iterations: int = field(default=1, metadata={"help": "GRPO iterations per generation batch."})
    importance_sampling_level: str = field(default="token", metadata={"help": "token (GRPO) or sequence (GSPO)."})
    mask_truncated_completions: bool = field(
        default=False, metadata={"help": "Exclude truncated completions from the loss."}
    )
    max_completion_length: int = field(
        default=1024, metadata={"help": "Tokens generated per completion (TRL default 256 -> 512)."}
    )
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling."})
    # Optimisation
    learning_rate: float = field(default=1e-6, metadata={"help": "Peak learning rate."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Learning-rate schedule."})
    warmup_ratio: float = field(default=0.03, metadata={"help": "Warm-up fraction of the steps."})
    num_train_epochs: float = field(default=2.0, metadata={"help": "Epochs (paper: 2)."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: epochs decide)."})
    per_device_train_batch_size: int = field(default=4, metadata={"help": "Completions per device per micro-batch."})
    gradient_accumulation_steps: int = field(default=4, metadata={"help": "Micro-batches per optimizer step."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Trade compute for memory."})
    bf16: bool = field(default=True, metadata={"help": "bf16 weights and autocast (set false on CPU)."})
    use_cpu: bool = field(default=False, metadata={"help": "Train on CPU."})
    seed: int = field(default=0, metadata={"help": "Seed of data order, sampling and init."})
    # Images and prompt budget
    image_max_pixels: int = field(
        default=448 * 448,
        metadata={"help": "Pixel budget per image given to the processor; three images must fit max_prompt_tokens."},
    )
    max_prompt_tokens: int = field(
        default=4096,
        metadata={
            "help": "A prompt longer than this (image tokens included) is refused with an error, never truncated."
        },
    )
    # Bookkeeping
    split: str = field(default="train", metadata={"help": "Dataset split to train on."})
    logging_steps: int = field(default=1, metadata={"help": "Log every N optimizer steps."})
    save_steps: int = field(default=50, metadata={"help": "Checkpoint every N optimizer steps."})
    save_total_limit: int = field(default=3, metadata={"help": "Checkpoints kept."})
    torch_threads: int = field(default=0, metadata={"help": "torch CPU threads (0: leave torch's default)."})

    def __post_init__(self) -> None:
        """Check choices and ranges; the batch must hold whole generation groups."""
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        unknown = sorted(set(self.reward_weights) - set(REWARD_NAMES))
        if unknown:
            raise ValueError(
                f"reward_weights has unknown components {unknown}; expected a subset of {list(REWARD_NAMES)}"
            )
        if self.accuracy_mode not in ("exact", "per_char"):
            raise ValueError(f"accuracy_mode must be 'exact' or 'per_char', got {self.accuracy_mode!r}")
        if self.num_generations < 2:
            raise ValueError(
                f"num_generations must be >= 2 (GRPO compares completions of one prompt), got {self.num_generations!r}"
            )
        if (self.per_device_train_batch_size * self.gradient_accumulation_steps) % self.num_generations:
            raise ValueError(
                "per_device_train_batch_size x gradient_accumulation_steps must be divisible by num_generations "
                f"(the generation batch holds whole groups), got {self.per_device_train_batch_size} x "
                f"{self.gradient_accumulation_steps} and {self.num_generations}"
            )
        if self.schedule == "alternating" and (self.k_sft < 1 or self.k_grpo < 1):
            raise ValueError(f"alternating needs k_sft >= 1 and k_grpo >= 1, got {self.k_sft!r}, {self.k_grpo!r}")
        if self.think_target_words < 1 or self.max_prompt_tokens < 16 or self.image_max_pixels < 28 * 28:
            raise ValueError(
                "think_target_words >= 1, max_prompt_tokens >= 16 and image_max_pixels >= 784 are required"
            )

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

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved config as plain data."""
        return asdict(self)


def load_train_config(path: Path | None = None, **overrides: Any) -> TrainConfig:
    """Load a TrainConfig from YAML, with keyword overrides on top.

    Raises:
        ValueError: Naming unknown keys and the file.
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a train config must be a mapping, got {type(data).__name__}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path or 'overrides'}: unknown train config keys {unknown}")
    return TrainConfig(**data)

"""Per-GPU memory of a training run, estimated before it starts, from the model folder's config and the launch setup.

Counts what GRPO holds on each GPU: weights, gradients, AdamW state, the reference model, activations and logits,
vLLM's share (colocate) and a fixed CUDA overhead, each divided across ranks the way DDP, ZeRO-2 or ZeRO-3 shards
it. The parameter count is exact (the model built on the meta device from ``config.json``: no weights are read);
activations are an estimate (formulas in ``docs/memory.md``). Needs the ``train`` extra; imports no CUDA.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from remot_train.config import TrainConfig

GIB = 1024**3
CUDA_OVERHEAD_GIB = 1.5  # CUDA context, NCCL buffers, allocator fragmentation
DEFAULT_GPU_MEMORY_GIB = 80.0  # what vLLM's share is taken of when no GPU (and no --gpu-memory-gib) says
Strategy = Literal["single", "ddp", "zero2", "zero3"]


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a model: parameter counts and the text tower's shape."""

    parameters: int
    lora_parameters: int  # what LoRA adapters of the run's rank and targets would add (0 without LoRA)
    hidden_size: int
    num_layers: int
    vocab_size: int


@dataclass(frozen=True)
class MemoryPlan:
    """A run's estimated memory per GPU, in GiB, by component."""

    strategy: Strategy
    num_processes: int
    components_gib: dict[str, float] = field(default_factory=dict)

    @property
    def total_gib(self) -> float:
        """Return the sum of the components."""
        return sum(self.components_gib.values())

    def render(self, gpu_memory_gib: float | None = None) -> str:
        """Return the plan as a small table (and the verdict against ``gpu_memory_gib`` when given)."""
        lines = [f"memory per GPU ({self.strategy}, {self.num_processes} process(es)), GiB:"]
        lines += [f"  {name:<22} {value:8.1f}" for name, value in self.components_gib.items()]
        lines.append(f"  {'total':<22} {self.total_gib:8.1f}")
        if gpu_memory_gib is not None:
            verdict = "fits" if self.total_gib <= gpu_memory_gib else "does NOT fit"
            lines.append(f"  {verdict} in {gpu_memory_gib:.0f} GiB")
        return "\n".join(lines)


def detected_gpu_memory_gib() -> float | None:
    """Return the memory of this machine's first GPU in GiB, or None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / GIB


def read_model_shape(model_dir: Path, config: TrainConfig) -> ModelShape:
    """Return the model's exact parameter count (built on the meta device from its ``config.json``) and shape.

    Raises:
        ValueError: If the folder's ``config.json`` names no image-text-to-text model transformers knows.
    """
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    try:
        model_config = AutoConfig.from_pretrained(Path(model_dir), local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(model_config)
    except (ValueError, OSError, KeyError) as err:
        raise ValueError(
            f"{Path(model_dir) / 'config.json'}: not a vision-language model transformers knows ({err})"
        ) from err
    parameters = sum(p.numel() for p in model.parameters())
    lora = 0
    if config.lora_r:
        for name, module in model.named_modules():
            if name.rsplit(".", 1)[-1] in config.lora_target_modules and hasattr(module, "in_features"):
                lora += config.lora_r * (module.in_features + module.out_features)
    text = getattr(model_config, "text_config", model_config)
    return ModelShape(
        parameters=parameters,
        lora_parameters=lora,
        hidden_size=text.hidden_size,
        num_layers=text.num_hidden_layers,
        vocab_size=text.vocab_size,
    )


def read_launch(accelerate_config: Path | None, num_processes: int | None) -> tuple[Strategy, int]:
    """Return (strategy, processes) of a launch: an accelerate config file and/or a process count (which wins)."""
    data = {}
    if accelerate_config is not None:
        import yaml

        data = yaml.safe_load(Path(accelerate_config).read_text(encoding="utf-8")) or {}
    processes = num_processes or int(data.get("num_processes", 1))
    if data.get("distributed_type") == "DEEPSPEED":
        stage = int((data.get("deepspeed_config") or {}).get("zero_stage", 0))
        return ("zero3" if stage >= 3 else "zero2"), processes
    return ("ddp" if processes > 1 else "single"), processes


def estimate_memory(
    config: TrainConfig, shape: ModelShape, *, strategy: Strategy, num_processes: int, gpu_memory_gib: float
) -> MemoryPlan:
    """Return the per-GPU memory of ``config`` on ``shape`` under ``strategy`` over ``num_processes`` GPUs.

    Bytes per parameter: weights 4 (float32 master weights) or 2 (``weights_dtype`` bfloat16); gradients as the
    trained weights; AdamW 8 per trained parameter (two float32 moments) plus a float32 master copy when the weights
    are bfloat16; the reference model (``beta`` > 0, full-model runs: LoRA uses the base with adapters off) as the
    weights. ZeRO-2 divides gradients and optimizer state by the processes, ZeRO-3 also weights and the reference.
    Activations: with activation checkpointing one bf16 hidden state per layer and token, else about 16; logits:
    float32 logits and log-probabilities of the completion tokens. vLLM colocate takes its share of the GPU.

    Example:
        >>> shape = ModelShape(parameters=10**9, lora_parameters=0, hidden_size=1024, num_layers=8, vocab_size=1000)
        >>> plan = estimate_memory(TrainConfig(beta=0.0), shape, strategy="zero3", num_processes=4, gpu_memory_gib=80)
        >>> round(plan.components_gib["weights"], 2), round(plan.components_gib["optimizer (AdamW)"], 2)
        (0.93, 1.86)
    """
    weight_bytes = 2 if config.weights_dtype == "bfloat16" else 4
    trained = shape.lora_parameters if config.lora_r else shape.parameters
    total_params = shape.parameters + shape.lora_parameters
    n = max(1, num_processes)
    shard_state = n if strategy in ("zero2", "zero3") else 1
    shard_weights = n if strategy == "zero3" else 1
    optimizer_bytes = 8 + (4 if weight_bytes == 2 else 0)
    tokens = config.per_device_train_batch_size * (config.max_prompt_tokens + config.max_completion_length)
    per_token_layer = 2 * shape.hidden_size * (1 if config.gradient_checkpointing else 16)
    components = {
        "weights": total_params * weight_bytes / shard_weights,
        "gradients": trained * weight_bytes / shard_state,
        "optimizer (AdamW)": trained * optimizer_bytes / shard_state,
        "reference model": (shape.parameters * weight_bytes / shard_weights)
        if config.beta > 0 and not config.lora_r
        else 0,
        "activations": tokens * shape.num_layers * per_token_layer,
        "logits": config.per_device_train_batch_size * config.max_completion_length * shape.vocab_size * 4 * 2,
        "vLLM (colocate)": (
            config.vllm_gpu_memory_utilization * gpu_memory_gib * GIB
            if config.use_vllm and config.vllm_mode == "colocate"
            else 0
        ),
        "CUDA overhead": CUDA_OVERHEAD_GIB * GIB,
    }
    return MemoryPlan(strategy, n, {k: v / GIB for k, v in components.items()})


def check_fits(plan: MemoryPlan, gpu_memory_gib: float) -> None:
    """Refuse a plan that needs more than the GPU has, naming the biggest parts and what lowers them.

    Raises:
        ValueError: If the estimated total exceeds ``gpu_memory_gib``.
    """
    if plan.total_gib <= gpu_memory_gib:
        return
    biggest = sorted(plan.components_gib.items(), key=lambda kv: -kv[1])[:3]
    parts = ", ".join(f"{k} {v:.1f}" for k, v in biggest)
    raise ValueError(
        f"this run needs about {plan.total_gib:.1f} GiB per GPU ({plan.strategy}, {plan.num_processes} process(es)), "
        f"more than the {gpu_memory_gib:g} GiB given; largest parts: {parts}. Shard it "
        "(--accelerate-config configs/accelerate/deepspeed_zero3.yaml), use LoRA (--lora-r 16), lower "
        "--per-device-train-batch-size or --vllm-gpu-memory-utilization, or pass --skip-memory-check to try anyway"
    )


def plan_launch(
    config: TrainConfig,
    model_dir: Path,
    gpu_memory_gib: float,
    *,
    num_processes: int | None = None,
    accelerate_config: Path | None = None,
) -> MemoryPlan:
    """Return the memory plan per GPU of a run launched with these flags (the model's shape read from its folder)."""
    strategy, processes = read_launch(accelerate_config, num_processes)
    shape = read_model_shape(model_dir, config)
    return estimate_memory(config, shape, strategy=strategy, num_processes=processes, gpu_memory_gib=gpu_memory_gib)


def require_memory_fits(
    config: TrainConfig,
    model_dir: Path,
    *,
    gpu_memory_gib: float | None = None,
    num_processes: int | None = None,
    accelerate_config: Path | None = None,
) -> MemoryPlan | None:
    """Refuse a launch whose estimate exceeds each GPU's memory (given, else read from this machine's GPU).

    The one gate: ``remot train`` runs it before Prefect starts, the ``train`` flow (deployments on GPU workers)
    before it loads anything. Without a GPU and without ``gpu_memory_gib`` there is nothing to check.

    Returns:
        The plan that was checked, or None when there was no GPU memory to check against.

    Raises:
        ValueError: From ``check_fits``, naming the estimate, the memory and what lowers the estimate.
    """
    memory = gpu_memory_gib if gpu_memory_gib is not None else detected_gpu_memory_gib()
    if memory is None:
        return None
    plan = plan_launch(config, model_dir, memory, num_processes=num_processes, accelerate_config=accelerate_config)
    check_fits(plan, memory)
    return plan


def memory_plan_json(plan: MemoryPlan) -> str:
    """Return the plan as JSON (components and total, GiB)."""
    return json.dumps({"strategy": plan.strategy, "num_processes": plan.num_processes, **plan.components_gib,
                       "total": plan.total_gib})  # fmt: skip

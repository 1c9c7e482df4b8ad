"""GRPO smoke benchmark: a Qwen3-VL-4B-sized model (random weights) trained a few steps on demo triplets.

Runs twice in one process, with the shipped defaults (float32 master weights, the paper's settings) and with TRL's
defaults (the baseline), and prints step time, rollouts/s, generated tokens/s and peak GPU memory beside the
``remot train --plan`` estimate, plus the ratios. ``--tiny`` runs the same code on CPU with the tiny
model (what the test suite does). Usage: see ``benchmarks/gpu_smoke.sh``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, TrainerCallback
from trl import GRPOConfig

from remot_train.config import TrainConfig
from remot_train.data import load_trl_dataset
from remot_train.modeling import build_tiny_qwen3_vl, load_processor
from remot_train.train import configure_image_budget, make_grpo_args, make_trainer

# Qwen3-VL-4B's published architecture (config.json of Qwen/Qwen3-VL-4B-*): ~4.4 B parameters.
QWEN3_VL_4B = {
    "text_config": {
        "vocab_size": 151936,
        "hidden_size": 2560,
        "intermediate_size": 9728,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "max_position_embeddings": 262144,
        "tie_word_embeddings": True,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5000000.0,
            "mrope_section": [24, 20, 20],
            "mrope_interleaved": True,
        },
    },
    "vision_config": {
        "depth": 24,
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_heads": 16,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": 2560,
        "num_position_embeddings": 2304,
        "deepstack_visual_indexes": [5, 11, 17],
    },
    "tie_word_embeddings": True,
}


class StepTimer(TrainerCallback):
    """Record wall time of every optimizer step."""

    def __init__(self) -> None:
        """Start empty."""
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        """Mark the step start."""
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        """Record the step duration."""
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._start)


def build_model_folder(folder: Path, *, tiny: bool) -> Path:
    """Write the model to benchmark (4B-sized random bf16, or the tiny one) with a processor into ``folder``."""
    build_tiny_qwen3_vl(folder, image_side_px=64 if tiny else 448)
    if tiny:
        return folder
    processor = load_processor(folder)
    ids = processor.tokenizer.convert_tokens_to_ids
    config = Qwen3VLConfig(
        **QWEN3_VL_4B,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    config.text_config.pad_token_id = ids("<|endoftext|>")
    with torch.device("cuda"):
        model = Qwen3VLForConditionalGeneration(config).to(torch.bfloat16)
    model.generation_config.eos_token_id = ids("<|im_end|>")
    model.generation_config.pad_token_id = ids("<|endoftext|>")
    model.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    return folder


def run_variant(name: str, args: GRPOConfig, config: TrainConfig, model_dir: Path, dataset, *, tiny: bool) -> dict:
    """Train ``args.max_steps`` steps and return timings (first step excluded from the mean: warm-up)."""
    processor = load_processor(model_dir)
    configure_image_budget(processor, config.image_max_pixels)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    # the shipped master-weight dtype (float32 by default), as `remot train` loads it
    dtype = torch.bfloat16 if config.weights_dtype == "bfloat16" and not tiny else torch.float32
    model = Qwen3VLForConditionalGeneration.from_pretrained(model_dir, dtype=dtype)
    if torch.cuda.is_available():
        model = model.to("cuda")
    timer = StepTimer()
    trainer = make_trainer(config, args, model, processor, dataset, callbacks=[timer])
    trainer.train()
    logs = [r for r in trainer.state.log_history if "completions/mean_length" in r]
    generated = [
        r["completions/mean_length"] * args.per_device_train_batch_size * args.gradient_accumulation_steps for r in logs
    ]
    steady = timer.times[1:] or timer.times
    result = {
        "variant": name,
        "steps": len(timer.times),
        "num_generations": args.num_generations,
        "beta": args.beta,
        "loss_type": args.loss_type,
        "max_completion_length": args.max_completion_length,
        "batch_completions": args.per_device_train_batch_size * args.gradient_accumulation_steps,
        "step_time_s": sum(steady) / len(steady),
        "first_step_s": timer.times[0],
        "generated_tokens_per_s": sum(generated[1:] or generated) / sum(steady),
        "estimated_gib": estimated_gib(config, model_dir),
        "peak_gpu_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0,
        "reward_mean": sum(r.get("reward", 0.0) for r in logs) / max(len(logs), 1),
    }
    result["rollouts_per_s"] = result["batch_completions"] / result["step_time_s"]
    del trainer, model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def estimated_gib(config: TrainConfig, model_dir: Path) -> float:
    """Return ``remot train --plan``'s estimate for one process of this config."""
    from remot_train.memory import DEFAULT_GPU_MEMORY_GIB, detected_gpu_memory_gib, plan_launch

    memory = detected_gpu_memory_gib() or DEFAULT_GPU_MEMORY_GIB
    return plan_launch(config, model_dir, memory, num_processes=1).total_gib


def main() -> None:
    """Run both variants and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="dataset directory (remot build output)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--max-completion-length", type=int, default=256)
    parser.add_argument("--tiny", action="store_true", help="CPU check with the tiny model")
    parser.add_argument("--out", default=None, help="write results.json here")
    parser.add_argument(
        "--vllm",
        action="store_true",
        help="also run the paper settings with vLLM rollouts (colocate; needs a GPU and the vllm package)",
    )
    args = parser.parse_args()
    if args.vllm and args.tiny:
        raise SystemExit("--vllm needs a GPU: vLLM rollouts cannot run with --tiny (CPU)")
    torch.manual_seed(0)
    if args.tiny:
        torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="remot_smoke_"))
    started = time.perf_counter()
    model_dir = build_model_folder(work / "model", tiny=args.tiny)
    print(f"model folder ready in {time.perf_counter() - started:.1f} s", flush=True)
    dataset = load_trl_dataset(Path(args.data), split="train")
    common = dict(
        max_completion_length=args.max_completion_length,
        max_steps=args.steps,
        bf16=not args.tiny,
        use_cpu=args.tiny,
        image_max_pixels=64 * 64 if args.tiny else 448 * 448,
        save_steps=10**6,
        gradient_checkpointing=not args.tiny,
        max_prompt_tokens=8192,
    )
    paper = TrainConfig(**common, gradient_accumulation_steps=1)  # everything else: the paper's settings (defaults)
    paper_args = make_grpo_args(paper, work / "paper")
    # Baseline: TRL's own defaults for everything the paper sets (num_generations 8, beta 0, loss dapo, ...).
    defaults = GRPOConfig(
        output_dir=str(work / "defaults"),
        max_completion_length=args.max_completion_length,
        max_steps=args.steps,
        bf16=not args.tiny,
        use_cpu=args.tiny,
        report_to="none",
        remove_unused_columns=False,
        save_steps=10**6,
        per_device_train_batch_size=8,
        gradient_checkpointing=not args.tiny,
    )
    results = [
        run_variant("paper", paper_args, paper, model_dir, dataset, tiny=args.tiny),
        run_variant("trl_defaults", defaults, paper, model_dir, dataset, tiny=args.tiny),
    ]
    if args.vllm:
        with_vllm = paper.model_copy(update={"use_vllm": True, "vllm_mode": "colocate"})
        results.append(
            run_variant(
                "paper_vllm", make_grpo_args(with_vllm, work / "vllm"), with_vllm, model_dir, dataset, tiny=False
            )
        )
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    print(f"\ndevice: {device}; torch {torch.__version__}")
    print(
        f"{'variant':<14}{'gens':>5}{'beta':>6}{'loss':>6}{'step s':>9}{'rollouts/s':>11}{'tok/s':>10}"
        f"{'peak GiB':>10}{'plan GiB':>10}"
    )
    for r in results:
        print(
            f"{r['variant']:<14}{r['num_generations']:>5}{r['beta']:>6}{r['loss_type']:>6}{r['step_time_s']:>9.2f}"
            f"{r['rollouts_per_s']:>11.2f}{r['generated_tokens_per_s']:>10.1f}{r['peak_gpu_mem_gib']:>10.2f}"
            f"{r['estimated_gib']:>10.1f}"
        )
    paper_r, base_r = results[:2]
    ratios = {
        "step_time": paper_r["step_time_s"] / base_r["step_time_s"],
        "tokens_per_s": paper_r["generated_tokens_per_s"] / base_r["generated_tokens_per_s"],
    }
    print(f"ratios paper/defaults: step time {ratios['step_time']:.2f}, tokens/s {ratios['tokens_per_s']:.2f}")
    if len(results) == 3:
        vllm_r = results[2]
        ratios["vllm_tokens_per_s"] = vllm_r["generated_tokens_per_s"] / paper_r["generated_tokens_per_s"]
        print(f"ratio vllm/generate (paper settings): tokens/s {ratios['vllm_tokens_per_s']:.2f}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_smoke.json").write_text(
            json.dumps({"device": device, "results": results, "ratios": ratios}, indent=2)
        )


if __name__ == "__main__":
    main()

"""Train a VLM on triplet tables with TRL's GRPOTrainer: GRPO, SFT, SFT->GRPO or alternating SFT<->GRPO.

One mechanism for every schedule: a GRPOTrainer whose optimizer step t is an SFT step when the config says so
(``TrainConfig.is_sft_step``); SFT steps use a cross-entropy loss on the answer letters only. Runs without
Prefect: ``python -m remot_train.train --config configs/train/grpo.yaml --data DIR --model DIR --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from pathlib import Path
from typing import Any

from remot_train.requirements import require_package

require_package("trl", extra="train")

import torch  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from accelerate import PartialState  # noqa: E402
from accelerate.utils import DistributedType  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

from remot_train.cli_args import config_from_args  # noqa: E402
from remot_train.config import TrainConfig, make_train_parser  # noqa: E402
from remot_train.data import load_trl_dataset, manifest_sha256  # noqa: E402
from remot_train.modeling import load_model, load_model_and_processor, load_processor  # noqa: E402
from remot_train.rewards import build_reward_functions, solution_letters  # noqa: E402
from remot_train.run_dirs import claim_run_dir  # noqa: E402
from remot_train.run_logs import METRICS_PLOT, ROLLOUTS_LOG, render_metrics_plot, write_rollouts  # noqa: E402

logger = logging.getLogger(__name__)

RESOLVED_CONFIG = "resolved_config.json"
RUN_INFO = "run_info.json"
METRICS_LOG = "metrics.jsonl"
ANSWER_PREFIX, ANSWER_SUFFIX = "<answer>", "</answer>"


def configure_image_budget(processor, max_pixels: int) -> None:
    """Cap the processor's pixels per image (Qwen-VL processors resize to at most ``max_pixels``).

    Other families size images their own way (SmolVLM/Idefics3: fixed tiles of its vision tower's size) and are
    left as their folder saved them.
    """
    image_processor = processor.image_processor
    if getattr(image_processor, "merge_size", None) is None:  # not a Qwen-VL image processor
        logger.info("%s sizes images itself: image_max_pixels does not apply", type(image_processor).__name__)
        return
    shortest = min(image_processor.size.get("shortest_edge") or 56 * 56, max_pixels)
    image_processor.size = {"longest_edge": max_pixels, "shortest_edge": shortest}


def check_prompt_lengths(dataset, processor, max_prompt_tokens: int) -> int:
    """Refuse a dataset whose prompts (image tokens included) exceed the budget: TRL would truncate them.

    Returns:
        The longest prompt, in tokens.

    Raises:
        ValueError: Naming the triplet, its length and the limit, and what to change.
    """
    longest = 0
    for row in dataset:
        n = prompt_tokens(processor, row)
        longest = max(longest, n)
        if n > max_prompt_tokens:
            raise ValueError(
                f"triplet {row['triplet_id']}: prompt is {n} tokens with its three images, above max_prompt_tokens="
                f"{max_prompt_tokens}; lower image_max_pixels or raise max_prompt_tokens (prompts are never cut)"
            )
    return longest


def prompt_tokens(processor, row: dict) -> int:
    """Return a row's prompt length in tokens, its images' tokens included, without processing any pixels.

    For Qwen-VL image processors the image tokens follow from the image size alone (``smart_resize`` to multiples of
    patch x merge within the pixel budget, one token per merged patch), so only the text is tokenised: the check
    over a 16.5 K-row dataset takes seconds instead of running the image processor on every image (about 17 min per
    rank). Other processors are run as they are. A test holds both ways equal on every demo row.
    """
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    text = processor.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
    image_processor = processor.image_processor
    patch, merge = getattr(image_processor, "patch_size", None), getattr(image_processor, "merge_size", None)
    size = getattr(image_processor, "size", None) or {}
    if not (patch and merge and size.get("longest_edge") and size.get("shortest_edge")):
        return len(processor(text=[text], images=[row["images"]], return_tensors="pt")["input_ids"][0])
    factor = patch * merge
    n_text = len(processor.tokenizer(text, add_special_tokens=False)["input_ids"])  # one placeholder per image
    n_images = 0
    for image in row["images"]:
        height, width = smart_resize(
            image.height, image.width, factor=factor, min_pixels=size["shortest_edge"], max_pixels=size["longest_edge"]
        )
        n_images += (height // factor) * (width // factor)
    return n_text - len(row["images"]) + n_images


# TrainConfig fields handed to TRL's GRPOConfig as they are (ours -> theirs). Every other TrainConfig field is
# derived into GRPOConfig below or read by remot itself; a test fails for a field that is neither.
FORWARDED_TO_TRL = {
    name: name
    for name in (
        "num_generations",
        "beta",
        "loss_type",
        "scale_rewards",
        "epsilon",
        "num_iterations",
        "importance_sampling_level",
        "mask_truncated_completions",
        "max_completion_length",
        "temperature",
        "top_p",
        "repetition_penalty",
        "multi_objective_aggregation",
        "lr_scheduler_type",
        "num_train_epochs",
        "max_steps",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "bf16",
        "use_cpu",
        "seed",
        "logging_steps",
        "save_steps",
        "save_total_limit",
        "use_bias_correction_kl",
        "use_vllm",
        "vllm_mode",
        "vllm_gpu_memory_utilization",
        "vllm_tensor_parallel_size",
        "vllm_server_base_url",
        "vllm_enable_sleep_mode",
    )
} | {
    "warmup_ratio": "warmup_steps",  # a float in [0, 1) is a ratio in transformers 5
    "gradient_checkpointing": "activation_checkpointing",
}


def make_grpo_args(config: TrainConfig, out_dir: Path, *, generation_config=None) -> GRPOConfig:
    """Return TRL's GRPOConfig with every setting we rely on passed explicitly.

    ``FORWARDED_TO_TRL`` fields go as they are; the rest are derived here. ``top_k`` None takes the checkpoint's
    ``generation_config`` value (Qwen3-VL Thinking: 20), where TRL would override it with 0 (no top-k).
    """
    top_k = config.top_k
    if top_k is None:
        top_k = int(getattr(generation_config, "top_k", None) or 0)
    return GRPOConfig(
        output_dir=str(out_dir),
        **{theirs: getattr(config, ours) for ours, theirs in FORWARDED_TO_TRL.items()},
        top_k=top_k,
        learning_rate=config.effective_learning_rate,
        eval_strategy="steps" if config.eval_steps else "no",
        eval_steps=config.eval_steps or None,
        per_device_eval_batch_size=config.num_generations,  # one prompt's group per device: valid for any count
        metric_for_best_model=None,  # set by make_trainer from the reward function's logged name
        greater_is_better=True,
        load_best_model_at_end=config.final_model == "best",
        report_to=list(config.report_to) or "none",
        vllm_max_model_length=config.vllm_model_length,
        remove_unused_columns=False,
        reward_weights=None,  # set by make_trainer from the config's named weights
        log_completions=False,  # remot writes rollouts itself (RemotGRPOTrainer.log): TRL's needs rich and prints
        disable_dropout=True,
        shuffle_dataset=True,
    )


class RemotGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose optimizer steps follow the remot schedule: an SFT step or a GRPO step."""

    def __init__(self, *args: Any, remot_config: TrainConfig, **kwargs: Any) -> None:
        """Keep the schedule; everything else is GRPOTrainer's."""
        super().__init__(*args, **kwargs)
        self.remot_config = remot_config

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Log as GRPOTrainer does; every ``rollout_log_steps`` steps also write the step's rollouts (main process).

        TRL keeps the last generation batch's prompts, completions, rewards and advantages (gathered from every
        rank) whether or not it prints them; they are written before its ``log`` runs.
        """
        every = self.remot_config.rollout_log_steps
        step = self.state.global_step
        grpo_step = step > 0 and not self.remot_config.is_sft_step(step - 1)  # an SFT step generates nothing
        if every and step % every == 0 and grpo_step and "loss" in logs and self.accelerator.is_main_process:
            write_rollouts(
                Path(self.args.output_dir) / ROLLOUTS_LOG,
                step,
                self._logs["prompt"],
                self._logs["completion"],
                self._logs["rewards"],
                self._logs["advantages"],
            )
        super().log(logs, start_time)

    def training_step(self, model, inputs, num_items_in_batch=None):
        """Run an SFT micro-step when the current optimizer step is an SFT step, else GRPO's."""
        if not self.remot_config.is_sft_step(self.state.global_step):
            self._metrics["train"]["schedule/sft_step"].append(0.0)
            return super().training_step(model, inputs, num_items_in_batch)
        model.train()
        loss = self.answer_sft_loss(model, inputs)
        backward_accumulated(self.accelerator, loss, self.current_gradient_accumulation_steps)
        self._metrics["train"]["sft/loss"].append(loss.item())
        self._metrics["train"]["schedule/sft_step"].append(1.0)
        return loss.detach() / self.current_gradient_accumulation_steps

    def answer_sft_loss(self, model, inputs: list[dict]) -> torch.Tensor:
        """Return the cross-entropy of the answer letters given the prompt (every other token is masked).

        The generation batch repeats each prompt num_generations times; SFT uses each row once.
        """
        rows = list({row["triplet_id"]: row for row in inputs}.values())
        batch, labels = sft_batch(self.processing_class, rows)
        batch, labels = batch.to(self.accelerator.device), labels.to(self.accelerator.device)
        return model(**batch, labels=labels).loss


def backward_accumulated(accelerator, loss: torch.Tensor, accumulation_steps: int) -> None:
    """Backpropagate one micro-batch's ``loss / accumulation_steps``, so the optimizer step gets the mean gradient.

    DeepSpeed's engine divides by its gradient accumulation steps itself unless told not to: the loss is already
    divided here, so ``scale_wrt_gas=False`` (what transformers' own ``training_step`` passes), else an SFT step
    under ZeRO would get 1/GA of its gradient.
    """
    kwargs = {"scale_wrt_gas": False} if accelerator.distributed_type == DistributedType.DEEPSPEED else {}
    accelerator.backward(loss / accumulation_steps, **kwargs)


def sft_batch(processor, rows: list[dict]):
    """Return the processor batch of the rows' prompts answered with their solutions, and labels on the letters only.

    Returns:
        ``(batch, labels)``: labels are -100 everywhere but the tokens that carry each row's answer letters.
    """
    texts, images, spans = [], [], []
    for row in rows:
        letters = solution_letters(row["solution"])
        messages = [
            *row["prompt"],
            {"role": "assistant", "content": [{"type": "text", "text": f"{ANSWER_PREFIX}{letters}{ANSWER_SUFFIX}"}]},
        ]
        text = processor.apply_chat_template(messages, tokenize=False)
        texts.append(text)
        images.append(row["images"])
        spans.append(letter_tokens_from_end(processor.tokenizer, text, letters))
    batch = processor(text=texts, images=images, return_tensors="pt", padding=True)
    return batch, answer_labels(batch["input_ids"], batch["attention_mask"], spans)


def letter_tokens_from_end(tokenizer, text: str, letters: str) -> tuple[int, int]:
    """Return where the tokens carrying the answer letters sit, counted from the end of ``text``'s tokens.

    Byte-level BPE cuts "<answer>ABCD</answer>" its own way (Qwen's pre-tokenizer glues the ">" to the letters, so
    ">ABCD" may be one token): the letters' tokens are found by their character offsets in the whole text, never by
    tokenising the letters alone. Counting from the end holds in the processor's batch too, where only the image
    placeholders, all before the answer, are expanded.

    Returns:
        ``(first, last)``: the first letter token is the ``first``-th token from the end, the last the ``last``-th.
    """
    start = text.rindex(ANSWER_PREFIX + letters + ANSWER_SUFFIX) + len(ANSWER_PREFIX)
    end = start + len(letters)
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    carrying = [i for i, (a, b) in enumerate(offsets) if a < end and b > start]
    return len(offsets) - carrying[0], len(offsets) - carrying[-1]


def answer_labels(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, spans_from_end: list[tuple[int, int]]
) -> torch.Tensor:
    """Return SFT labels: each row's answer tokens, -100 everywhere else, whichever side the batch is padded on.

    A row's answer tokens run from its ``first``-th to its ``last``-th real token counted from its end (its last
    attended token is the 1st); padding may sit on either side.

    Example:
        >>> ids = torch.tensor([[0, 0, 5, 6, 7, 8], [5, 6, 7, 8, 0, 0]])  # left- and right-padded
        >>> mask = (ids != 0).long()
        >>> answer_labels(ids, mask, [(3, 2), (3, 2)]).tolist()
        [[-100, -100, -100, 6, 7, -100], [-100, 6, 7, -100, -100, -100]]
    """
    labels = torch.full_like(input_ids, -100)
    for i, (first, last) in enumerate(spans_from_end):
        end = int(attention_mask[i].nonzero().max()) + 1
        labels[i, end - first : end - last + 1] = input_ids[i, end - first : end - last + 1]
    return labels


class MetricsLogCallback(TrainerCallback):
    """Append every log record (rewards per component, losses, schedule) to ``metrics.jsonl`` in the run dir."""

    def __init__(self, path: Path) -> None:
        """Log to ``path``."""
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Write one JSON line per log event, from the main process only (the logged values are already gathered)."""
        if logs and state.is_world_process_zero:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"step": state.global_step, **logs}) + "\n")


CHECKPOINT_COMPLETE = "trainer_state.json"  # the Trainer writes it last: a checkpoint without it was cut off


def last_checkpoint(out_dir: Path) -> str | None:
    """Return the newest complete ``checkpoint-N`` folder of a run directory, or None.

    A checkpoint a crash cut off mid-save (no ``trainer_state.json``) is skipped, so it cannot block every rerun.
    """
    checkpoints = sorted(
        (p for p in Path(out_dir).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    complete = [p for p in checkpoints if (p / CHECKPOINT_COMPLETE).is_file()]
    for partial in sorted(set(checkpoints) - set(complete)):
        logger.warning("skipping %s: cut off while being saved (no %s)", partial, CHECKPOINT_COMPLETE)
    return str(complete[-1]) if complete else None


def trim_metrics_log(path: Path, resumed_step: int) -> None:
    """Drop log lines past the step a run resumes from: they are logged again, and must not appear twice."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines() if json.loads(line)["step"] <= resumed_step]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def write_run_info(
    out_dir: Path, config: TrainConfig, data_dir: Path, model_dir: Path, longest_prompt: int, *, processes: int
) -> None:
    """Write the resolved config and the run's provenance (versions, dataset manifest hash) into the run dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RESOLVED_CONFIG).write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    info = {
        "data_dir": str(Path(data_dir).resolve()),
        "dataset_manifest_sha256": manifest_sha256(data_dir),
        "model_dir": str(Path(model_dir).resolve()),
        "longest_prompt_tokens": longest_prompt,
        "processes": processes,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
        },
    }
    (out_dir / RUN_INFO).write_text(json.dumps(info, indent=2) + "\n")


def make_trainer(
    config: TrainConfig,
    args: GRPOConfig,
    model,
    processor,
    dataset,
    *,
    callbacks: list[TrainerCallback],
    eval_dataset=None,
) -> RemotGRPOTrainer:
    """Return the scheduled GRPO trainer with the config's named rewards and their weights set on ``args``.

    With validation (``eval_steps``) the best checkpoint is picked by ``best_metric`` on ``eval_dataset``.
    """
    reward_funcs, weights = build_reward_functions(
        config.reward_weights, accuracy_mode=config.accuracy_mode, think_target_words=config.think_target_words
    )
    args.reward_weights = weights
    if config.eval_steps:
        args.metric_for_best_model = validation_metric_key(config, reward_funcs)
    return RemotGRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        eval_dataset=eval_dataset,
        processing_class=processor,
        callbacks=callbacks,
        remot_config=config,
        peft_config=lora_config(config),
    )


def validation_metric_key(config: TrainConfig, reward_funcs: list) -> str:
    """Return the key TRL logs the config's ``best_metric`` under: ``reward`` or ``rewards/<function name>/mean``."""
    if config.best_metric == "reward":
        return "reward"
    func = reward_funcs[list(config.reward_weights).index(config.best_metric)]
    return f"rewards/{func.__name__}/mean"


def load_validation_dataset(config: TrainConfig, data_dir: Path):
    """Return the fixed validation sample (``eval_max_triplets`` of ``eval_split``, seeded), or None without one.

    Raises:
        FileNotFoundError: Naming the dataset and split when validation is asked for and the split is missing.
    """
    if not config.eval_steps:
        return None
    dataset = load_trl_dataset(data_dir, split=config.eval_split)
    if len(dataset) > config.eval_max_triplets:
        dataset = dataset.shuffle(seed=config.seed).select(range(config.eval_max_triplets))
    return dataset


def lora_config(config: TrainConfig):
    """Return the peft LoraConfig the run asks for, or None (``lora_r`` 0: the full model trains).

    Raises:
        ImportError: If LoRA is asked for without peft installed (``pip install peft``).
    """
    if not config.lora_r:
        return None
    require_package("peft", extra="train")
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
        task_type="CAUSAL_LM",
    )


def run_training(config: TrainConfig, *, data_dir: Path, model_dir: Path, out_dir: Path, resume: bool = True) -> dict:
    """Train and save the model into ``out_dir``; resume from its last checkpoint when there is one.

    Returns:
        The trainer's final training metrics plus ``resumed_from`` and ``global_step``.
    """
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    out_dir = Path(out_dir)
    use_cuda = torch.cuda.is_available() and not config.use_cpu
    state = PartialState(cpu=not use_cuda)  # on CPU, torchrun ranks form a gloo group only when told cpu=True
    if state.is_main_process:
        claim_run_dir(out_dir, "train_run")  # before anything loads: never a folder remot did not make
    state.wait_for_everyone()
    dataset = load_trl_dataset(Path(data_dir), split=config.split)
    eval_dataset = load_validation_dataset(config, Path(data_dir))
    # Master weights stay float32 (bf16 is compute only, via autocast): AdamW steps of lr 1e-6 are below bf16's
    # resolution for most weights, which would then never change.
    dtype = torch.bfloat16 if config.weights_dtype == "bfloat16" and use_cuda else torch.float32
    # Each process loads onto its own device (accelerate/torchrun ranks), never all onto GPU 0.
    device = state.device if use_cuda else "cpu"
    model, processor = load_model_and_processor(
        Path(model_dir), dtype=dtype, device=device, attn_implementation=config.attn_implementation
    )
    configure_image_budget(processor, config.image_max_pixels)
    longest = check_prompt_lengths(dataset, processor, config.max_prompt_tokens)
    if eval_dataset is not None:
        longest = max(longest, check_prompt_lengths(eval_dataset, processor, config.max_prompt_tokens))
    checkpoint = last_checkpoint(out_dir) if resume else None
    if state.is_main_process:  # files of the run are written once, by rank 0
        write_run_info(out_dir, config, Path(data_dir), Path(model_dir), longest, processes=state.num_processes)
        if checkpoint is not None:
            for log in (METRICS_LOG, ROLLOUTS_LOG):  # steps past the checkpoint are logged again
                trim_metrics_log(out_dir / log, int(Path(checkpoint).name.split("-")[-1]))
    state.wait_for_everyone()
    trainer = make_trainer(
        config,
        make_grpo_args(config, out_dir, generation_config=model.generation_config),
        model,
        processor,
        dataset,
        callbacks=[MetricsLogCallback(out_dir / METRICS_LOG)],
        eval_dataset=eval_dataset,
    )
    result = trainer.train(resume_from_checkpoint=checkpoint)
    if state.is_main_process:
        render_metrics_plot(out_dir / METRICS_LOG, out_dir / METRICS_PLOT)
    save_final_model(trainer, processor, config, model_dir=Path(model_dir), out_dir=out_dir, dtype=dtype)
    return {
        **result.metrics,
        "resumed_from": checkpoint,
        "global_step": trainer.state.global_step,
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_metric": trainer.state.best_metric,
        "final_model": config.final_model,
    }


FINAL_DIR = "final"
ADAPTER_DIR = "adapter"


def save_final_model(
    trainer: RemotGRPOTrainer, processor, config: TrainConfig, *, model_dir: Path, out_dir: Path, dtype: torch.dtype
) -> Path:
    """Save ``out_dir/final``: a whole model that loads like the base checkpoint, with its processor.

    Every rank calls ``trainer.save_model`` (under ZeRO-3 it gathers the partitioned weights; only rank 0 writes,
    the processor included). With LoRA the gathered adapter goes to ``out_dir/adapter`` and rank 0 merges it into a
    fresh copy of the base weights on the CPU (merging the training model in place would merge partitioned
    parameters under ZeRO-3) and writes the processor beside it. Rank 0 then reloads the processor (a ``final/``
    whose processor drops images is refused); the other ranks wait for it, so no rank reads a half-written folder
    and the run ends only when ``final/`` is complete.

    Returns:
        The ``final/`` folder.
    """
    final = out_dir / FINAL_DIR
    accelerator = trainer.accelerator
    if config.lora_r:
        trainer.save_model(str(out_dir / ADAPTER_DIR))
        if accelerator.is_main_process:
            merge_adapter(model_dir, out_dir / ADAPTER_DIR, final, dtype=dtype)
            processor.save_pretrained(str(final))
    else:
        trainer.save_model(str(final))  # the Trainer writes its processing_class (our processor) beside the weights
    if accelerator.is_main_process:
        load_processor(final)  # final/ must reload as the base model did: refuse a run whose processor drops images
    accelerator.wait_for_everyone()
    return final


def merge_adapter(model_dir: Path, adapter_dir: Path, final: Path, *, dtype: torch.dtype) -> None:
    """Merge a saved LoRA adapter into the base checkpoint's weights (loaded afresh, on the CPU) and save the result."""
    from peft import PeftModel

    base = load_model(model_dir, dtype=dtype, device="cpu")  # attention kernel irrelevant: nothing runs
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(str(final))


def make_parser(subparsers=None, prog: str | None = None) -> argparse.ArgumentParser:
    """Return the ``train`` parser (also ``remot train``'s): see ``remot_train.config.make_train_parser``."""
    return make_train_parser(subparsers, prog=prog or "python -m remot_train.train")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = make_parser().parse_args(argv)
    try:
        config = config_from_args(TrainConfig, args)
        metrics = run_training(
            config,
            data_dir=Path(args.data),
            model_dir=Path(args.model),
            out_dir=Path(args.out),
            resume=not args.no_resume,
        )
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())

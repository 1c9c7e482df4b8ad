"""Run a model on benchmark items (batched greedy generation, resumable) and score prediction files.

Runs without Prefect: ``python -m remot_train.eval.evaluate {eval,score} ...``; the ``remot`` CLI and the
``evaluate`` flow call the same functions.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

from PIL import Image

from remot_train.cli_args import config_from_args
from remot_train.eval.config import ControlKind, EvalConfig, ReferenceConfig, make_parser
from remot_train.eval.controls import make_controls
from remot_train.eval.loaders import (
    Prediction,
    ReferenceItem,
    load_reference,
    read_prediction_rows,
    write_prediction,
)
from remot_train.eval.metrics import extract_answer, response_words
from remot_train.eval.report import write_reports
from remot_train.eval.scoring import score_predictions
from remot_train.run_dirs import claim_run_dir

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.jsonl"


def open_image(source: str | bytes) -> Image.Image:
    """Return an RGB PIL image from JPEG/PNG bytes or a file path.

    Raises:
        FileNotFoundError: If a path does not exist (use ``--image-root`` for relative release paths).
    """
    if isinstance(source, bytes):
        return Image.open(io.BytesIO(source)).convert("RGB")
    if not Path(source).is_file():
        raise FileNotFoundError(f"{source}: image not found; pass --image-root to resolve the JSONL's image paths")
    return Image.open(source).convert("RGB")


def build_messages(item: ReferenceItem) -> list[dict]:
    """Return the chat messages of an item: its images first, then the prompt (the release shows images above)."""
    content = [{"type": "image"} for _ in item.images] + [{"type": "text", "text": item.prompt}]
    return [{"role": "user", "content": content}]


def generate_responses(
    model, processor, items: list[ReferenceItem], *, max_new_tokens: int, batch_size: int, sample: bool = False
) -> Iterator[tuple[ReferenceItem, str]]:
    """Yield (item, response) with batched decoding: greedy, or sampled with the model's ``generation_config``.

    Prompts are padded on the left whatever the tokenizer's own side (Qwen3-VL's pads on the right): generation
    continues from the last position of each row, which must be the prompt's last token, not a pad.
    """
    tokenizer = getattr(processor, "tokenizer", processor)
    own_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        yield from _generate_batches(
            model, processor, items, max_new_tokens=max_new_tokens, batch_size=batch_size, sample=sample
        )
    finally:
        tokenizer.padding_side = own_side


def _generate_batches(
    model, processor, items: list[ReferenceItem], *, max_new_tokens: int, batch_size: int, sample: bool
) -> Iterator[tuple[ReferenceItem, str]]:
    import torch

    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        texts = [
            processor.apply_chat_template(build_messages(i), add_generation_prompt=True, tokenize=False) for i in batch
        ]
        images = [[open_image(s) for s in i.images] for i in batch]
        inputs = processor(text=texts, images=images, return_tensors="pt", padding=True).to(model.device)
        with torch.no_grad():
            # sampling takes temperature / top_p / top_k from the checkpoint's generation_config, as the official runner
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=sample)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        yield from zip(batch, processor.batch_decode(new_tokens, skip_special_tokens=True), strict=True)


def run_evaluation(model_dir: Path, data: Path, out_dir: Path, config: EvalConfig) -> dict:
    """Generate answers for every item (and its temporal controls), then score and write the reports.

    Resumable: an item already predicted ``repeats`` times in ``out_dir/predictions.jsonl`` is not generated again.
    Under ``torchrun``/``accelerate launch`` the items are split across the processes (data parallel, one model per
    GPU): each writes its own part, and the main process joins them and scores once.

    Returns:
        The metrics document (``protocol`` says how the predictions were made).
    """
    import torch
    from accelerate import PartialState

    from remot_train.modeling import load_model_and_processor

    state = PartialState(cpu=config.device == "cpu" or not torch.cuda.is_available())  # CPU ranks: a gloo group
    items = load_reference(Path(data), image_root=config.image_root, splits=config.splits, task=config.task)
    items = items[: config.limit]
    control_items = make_controls(items, config.controls)
    out_dir = Path(out_dir)
    if state.is_main_process:
        claim_run_dir(out_dir, "eval_report")  # never a folder remot did not make
    state.wait_for_everyone()
    predictions_path = out_dir / PREDICTIONS_FILE
    done = Counter(p.id for p in _rows_so_far(predictions_path))
    todo = [(i, k) for i in items + control_items for k in range(done[i.id], config.repeats)]
    mine = todo[state.process_index :: state.num_processes]
    logger.info("%d items, %d controls, %d generations to go", len(items), len(control_items), len(todo))
    if mine:
        device = config.device
        if device == "auto":
            device = str(state.device) if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        model, processor = load_model_and_processor(
            Path(model_dir), dtype=dtype, device=device, attn_implementation=config.attn_implementation
        )
        model.eval()
        part = _part_path(predictions_path, state.process_index) if state.num_processes > 1 else predictions_path
        sample = config.decoding == "sample"
        with part.open("a", encoding="utf-8") as handle:
            for repeat in sorted({k for _, k in mine}):
                batch = [i for i, k in mine if k == repeat]
                if sample:  # one item per call, seeded by the item: the same sample on any count of processes
                    for item in batch:
                        torch.manual_seed(sample_seed(config.seed, repeat, item.id))
                        for _, response in generate_responses(
                            model, processor, [item], max_new_tokens=config.max_new_tokens, batch_size=1, sample=True
                        ):
                            write_prediction(handle, _prediction(item, response))
                    continue
                for item, response in generate_responses(
                    model, processor, batch, max_new_tokens=config.max_new_tokens, batch_size=config.batch_size
                ):
                    write_prediction(handle, _prediction(item, response))
    state.wait_for_everyone()
    if not state.is_main_process:
        return {}
    _join_parts(predictions_path)
    metrics = score_predictions(items, control_items, read_prediction_rows(predictions_path))
    metrics["model"] = str(model_dir)
    metrics["config"] = config.model_dump(mode="json")
    metrics["protocol"] = describe_protocol(config, Path(model_dir), state.num_processes)
    write_reports(metrics, out_dir, title=f"remot evaluation of {Path(model_dir).name}")
    return metrics


def sample_seed(seed: int, repeat: int, item_id: str) -> int:
    """Return the torch seed of one sampled generation: the run's seed, the repeat and the item's id.

    Seeding each item (not each batch or process) makes a sampled evaluation independent of how many processes
    share it, of batching and of where a resumed run restarts.

    Example:
        >>> sample_seed(0, 0, "a") == sample_seed(0, 0, "a") != sample_seed(0, 1, "a")
        True
    """
    digest = hashlib.sha256(f"{seed}:{repeat}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 2**63


def _prediction(item: ReferenceItem, response: str) -> Prediction:
    return Prediction(
        id=item.id,
        pred_answer=extract_answer(response),
        gt_answer=item.gt_answer,
        model_response=response,
        response_words=response_words(response),
    )


PART_SUFFIX = ".rank{rank}"  # a data-parallel process's part, beside the predictions file until rank 0 joins it


def _part_path(predictions_path: Path, rank: int) -> Path:
    return predictions_path.with_name(predictions_path.name + PART_SUFFIX.format(rank=rank))


def _parts(predictions_path: Path) -> list[Path]:
    return sorted(predictions_path.parent.glob(predictions_path.name + PART_SUFFIX.format(rank="*")))


def _rows_so_far(predictions_path: Path) -> list[Prediction]:
    """Return the rows written so far: the predictions file and any part a data-parallel run left unjoined."""
    files = [predictions_path, *_parts(predictions_path)]
    return [row for f in files if f.is_file() for row in read_prediction_rows(f)]


def _join_parts(predictions_path: Path) -> None:
    """Append each process's part to the predictions file, then remove the part (a crash between keeps the part)."""
    for part in _parts(predictions_path):
        with predictions_path.open("a", encoding="utf-8") as handle:
            handle.write(part.read_text(encoding="utf-8"))
        part.unlink()


def describe_protocol(config: EvalConfig, model_dir: Path, processes: int) -> dict:
    """Return how predictions were made: decoding, sampling settings (the checkpoint's), repeats, seed, processes."""
    protocol = {"decoding": config.decoding, "repeats": config.repeats, "seed": config.seed, "processes": processes}
    if config.decoding == "sample":  # what generate() samples with: the checkpoint's values, transformers' defaults
        from transformers import GenerationConfig

        try:
            settings = GenerationConfig.from_pretrained(Path(model_dir), local_files_only=True)
        except OSError:  # the folder has no generation_config.json
            settings = GenerationConfig()
        # a field the checkpoint leaves unset gets transformers' global default in generate() (generation/utils.py)
        defaults = GenerationConfig._get_default_generation_params()
        protocol["sampling"] = {
            k: getattr(settings, k) if getattr(settings, k) is not None else defaults[k]
            for k in ("temperature", "top_p", "top_k")
        }
    return protocol


def score_files(predictions: Path, reference: Path, out_dir: Path, config: ReferenceConfig) -> dict:
    """Score an existing predictions file against its reference and write the reports (no model needed).

    The task of release-format items whose paths do not tell it is the predictions file's parent folder name.
    """
    predictions_path = Path(predictions)
    items = load_reference(
        Path(reference),
        image_root=config.image_root,
        splits=config.splits,
        task=config.task,
        default_task=predictions_path.resolve().parent.name,
    )
    rows = read_prediction_rows(predictions_path)
    predicted = {p.id for p in rows}
    all_controls = make_controls(items, get_args(ControlKind))
    control_items = [c for c in all_controls if c.id in predicted]
    metrics = score_predictions(items, control_items, rows)
    metrics["id_check"] = check_prediction_ids([p.id for p in rows], items + all_controls, [i.id for i in items])
    if config.strict and any(metrics["id_check"].values()):
        raise ValueError(f"{predictions_path}: predictions do not match {reference}: {describe_id_check(metrics)}")
    out_dir = claim_run_dir(Path(out_dir), "eval_report")  # never a folder remot did not make
    write_reports(metrics, out_dir, title=f"remot scores of {predictions_path.name}")
    return metrics


def check_prediction_ids(ids: list[str], known: list[ReferenceItem], expected: list[str]) -> dict[str, list[str]]:
    """Return the ids predictions miss, repeat, or hold although the reference lacks them (first 10 each)."""
    counts = Counter(ids)
    known_ids = {i.id for i in known}
    return {
        "missing": [i for i in expected if i not in counts][:10],
        "duplicated": sorted(i for i, n in counts.items() if n > 1)[:10],
        "unknown": sorted(i for i in counts if i not in known_ids)[:10],
    }


def describe_id_check(metrics: dict) -> str:
    """Return the id problems of a scoring run as one line (empty when there are none)."""
    check = metrics.get("id_check") or {}
    parts = []
    if check.get("missing"):
        parts.append(
            f"{metrics.get('missing_predictions', len(check['missing']))} reference items have no prediction "
            f"(e.g. {check['missing'][:3]})"
        )
    if check.get("duplicated"):
        parts.append(
            f"ids predicted more than once (each line counts, as in the official scoring): {check['duplicated'][:3]}"
        )
    if check.get("unknown"):
        parts.append(f"ids the reference does not have (another split or file?): {check['unknown'][:3]}")
    return "; ".join(parts)


def run_command(args: argparse.Namespace) -> dict:
    """Run ``eval`` or ``score`` from parsed arguments (``make_parser``) and return the metrics.

    Raises:
        ConfigError: If a flag or the ``--config`` file holds a bad value.
    """
    if args.command == "eval":
        return run_evaluation(args.model, args.data, args.out, config_from_args(EvalConfig, args))
    return score_files(args.predictions, args.reference, args.out, config_from_args(ReferenceConfig, args))


def print_summary(metrics: dict, out_dir: str) -> None:
    """Print the overall scores and Table 1 cells."""
    if not metrics:  # a data-parallel run's other processes: the main one reports
        return
    overall = metrics["overall"]
    print(
        f"{metrics['n'] - metrics['missing_predictions']} of {metrics['n']} items predicted: "
        f"Avg. Ov {100 * overall['ov']:.1f}, Par {100 * overall['par']:.1f} "
        f"(Exact Match {100 * overall['exact_match']:.1f}, Per-Char {100 * overall['per_char']:.1f})"
    )
    print(json.dumps({k: {m: round(100 * v, 1) for m, v in c.items()} for k, c in metrics["table1"].items()}))
    print(f"reports in {out_dir}: metrics.json, report.md, report.png")
    problems = describe_id_check(metrics)
    if problems:
        print(f"warning: {problems} (--strict makes this an error)")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = make_parser().parse_args(argv)
    try:
        metrics = run_command(args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print_summary(metrics, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

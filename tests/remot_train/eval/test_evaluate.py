import json

import pytest

pytest.importorskip("torch")  # the train extra is always installed by `make test`

from remot_train.eval.config import EvalConfig  # noqa: E402
from remot_train.eval.evaluate import run_evaluation  # noqa: E402
from remot_train.eval.loaders import load_dataset_dir  # noqa: E402


def test_eval_loop_on_the_tiny_model_is_resumable(built_dataset, tiny_model_dir, tmp_path):
    out = tmp_path / "eval"
    config = EvalConfig(max_new_tokens=4, batch_size=2, limit=3, controls=("reversed",))
    metrics = run_evaluation(tiny_model_dir, built_dataset, out, config)
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 6  # 3 items + 3 reversed controls
    assert set(lines[0]) == {"id", "pred_answer", "gt_answer", "model_response", "response_words"}
    ids = {item.id for item in load_dataset_dir(built_dataset)[:3]}
    assert {row["id"] for row in lines} == ids | {f"{i}#reversed" for i in ids}
    assert metrics["n"] == 3 and metrics["missing_predictions"] == 0
    assert metrics["controls"]["reversed"]["n"] == 3
    assert set(metrics["table1"]) == {"Camera"}
    assert (out / "report.md").exists() and (out / "metrics.json").exists()
    # a rerun generates nothing new and scores the same
    stamp = (out / "predictions.jsonl").stat().st_mtime_ns
    again = run_evaluation(tiny_model_dir, built_dataset, out, config)
    assert (out / "predictions.jsonl").stat().st_mtime_ns == stamp
    assert again["overall"] == metrics["overall"]


def test_missing_model_folder_is_a_clear_error(built_dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json; --model must be a local model folder"):
        run_evaluation(tmp_path / "nothing", built_dataset, tmp_path / "eval", EvalConfig(limit=1, controls=()))


def test_a_model_folder_whose_processor_drops_images_is_refused(tiny_model_dir, tmp_path):
    # AutoProcessor returns a bare tokenizer for a processor class it cannot build: eval would send no pixels
    import shutil

    from remot_train.modeling import TINY_MARKER, load_processor

    broken = tmp_path / "model"
    shutil.copytree(tiny_model_dir, broken)
    (broken / TINY_MARKER).unlink()
    for name in ("processor_config.json", "preprocessor_config.json"):
        (broken / name).unlink(missing_ok=True)
    with pytest.raises(ValueError, match=r"no processor that takes images|has no image processor"):
        load_processor(broken)


def test_generation_gets_the_pixels_of_every_image(tiny_model_dir, built_dataset, monkeypatch):
    # an eval that drops images still "works" and scores a blind model: the model must receive pixel values
    import torch

    from remot_train.eval.evaluate import generate_responses
    from remot_train.modeling import load_model_and_processor

    model, processor = load_model_and_processor(tiny_model_dir)
    items = load_dataset_dir(built_dataset)[:2]
    seen = {}

    def generate(**inputs):
        seen.update(inputs)
        return torch.cat([inputs["input_ids"], inputs["input_ids"][:, -1:]], dim=1)

    monkeypatch.setattr(model, "generate", generate)
    list(generate_responses(model, processor, items, max_new_tokens=1, batch_size=2))
    image_tokens = (seen["input_ids"] == model.config.image_token_id).sum().item()
    assert "pixel_values" in seen and seen["image_grid_thw"].shape[0] == 2 * 3  # three images per item
    assert image_tokens == int(seen["image_grid_thw"].prod(dim=1).sum().item()) // 4  # merge 2x2 patches per token


def test_batched_generation_answers_as_one_at_a_time(tiny_model_dir, built_dataset):
    # Qwen3-VL's tokenizer pads on the right (so does the tiny one): batched generation must pad prompts on the
    # left, or the shorter prompt's answer continues after pad tokens
    from dataclasses import replace

    from remot_train.eval.evaluate import generate_responses
    from remot_train.modeling import load_model_and_processor

    model, processor = load_model_and_processor(tiny_model_dir)
    assert processor.tokenizer.padding_side == "right"
    first, second = load_dataset_dir(built_dataset)[:2]
    items = [first, replace(second, prompt=second.prompt[:60])]  # prompts of very different lengths

    def answers(batch_size):
        return [r for _, r in generate_responses(model, processor, items, max_new_tokens=6, batch_size=batch_size)]

    assert answers(2) == answers(1)
    assert processor.tokenizer.padding_side == "right"  # the tokenizer's own side is restored

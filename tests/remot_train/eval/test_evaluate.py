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


def test_sampled_protocol_with_repeats_is_seeded_counted_and_reported(built_dataset, tiny_model_dir, tmp_path):
    config = EvalConfig(max_new_tokens=6, batch_size=2, limit=2, controls=(), decoding="sample", repeats=2, seed=3)
    metrics = run_evaluation(tiny_model_dir, built_dataset, tmp_path / "a", config)
    rows = [json.loads(line) for line in (tmp_path / "a" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and metrics["n"] == 4  # every generation is scored, as the official scoring does
    assert metrics["protocol"]["decoding"] == "sample" and metrics["protocol"]["repeats"] == 2
    # the values generate() really sampled with (the tiny checkpoint sets none: transformers' defaults)
    assert metrics["protocol"]["sampling"] == {"temperature": 1.0, "top_p": 1.0, "top_k": 50}
    assert "sample decoding, 2 generation(s) per item, seed 3" in (tmp_path / "a" / "report.md").read_text()
    run_evaluation(tiny_model_dir, built_dataset, tmp_path / "b", config)  # same seed: the same samples
    again = [json.loads(line) for line in (tmp_path / "b" / "predictions.jsonl").read_text().splitlines()]
    assert [r["model_response"] for r in again] == [r["model_response"] for r in rows]
    # the two repeats of an item are different samples of a random model (greedy would repeat itself)
    by_id = {}
    for r in rows:
        by_id.setdefault(r["id"], []).append(r["model_response"])
    assert any(len(set(v)) > 1 for v in by_id.values())
    greedy = run_evaluation(
        tiny_model_dir, built_dataset, tmp_path / "g", EvalConfig(max_new_tokens=6, limit=2, controls=())
    )
    assert (
        greedy["protocol"]["decoding"] == "greedy" and "greedy decoding" in (tmp_path / "g" / "report.md").read_text()
    )


def test_two_process_evaluation_splits_items_and_scores_once(built_dataset, tiny_model_dir, tmp_path):
    from tests.factories.tiny_model import run_torchrun

    out = tmp_path / "eval"
    args = ["remot_train.eval.evaluate", "eval", "--model", str(tiny_model_dir), "--data", str(built_dataset)]
    flags = ["--limit", "5", "--max-new-tokens", "3", "--controls", "", "--decoding", "sample", "--seed", "4"]
    result = run_torchrun([*args, "--out", str(out), *flags])
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(i.id for i in load_dataset_dir(built_dataset)[:5])  # each once
    assert not list(out.glob("predictions.jsonl.rank*"))  # the parts were joined
    assert json.loads((out / "metrics.json").read_text())["protocol"]["processes"] == 2
    assert result.stdout.count("items predicted") == 1  # one report, from the main process
    # each generation is seeded by its item: one process with another batch size samples the same answers
    config = EvalConfig(limit=5, max_new_tokens=3, controls=(), decoding="sample", seed=4, batch_size=3)
    run_evaluation(tiny_model_dir, built_dataset, tmp_path / "one", config)
    alone = [json.loads(line) for line in (tmp_path / "one" / "predictions.jsonl").read_text().splitlines()]
    assert {r["id"]: r["model_response"] for r in alone} == {r["id"]: r["model_response"] for r in rows}

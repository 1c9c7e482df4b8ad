"""Base models beyond Qwen3-VL: tiny Qwen2.5-VL and SmolVLM (Idefics3) train (SFT and GRPO steps), save final/ and
are evaluated."""

import pytest

torch = pytest.importorskip("torch")  # the train extra is always installed by `make test`

from safetensors.torch import load_file  # noqa: E402

from remot_train.config import TrainConfig  # noqa: E402
from remot_train.eval.config import EvalConfig  # noqa: E402
from remot_train.eval.evaluate import run_evaluation  # noqa: E402
from remot_train.modeling import load_model_and_processor  # noqa: E402
from remot_train.train import run_training, sft_batch  # noqa: E402
from tests.remot_train.test_train import TINY  # noqa: E402


@pytest.mark.parametrize(
    "fixture, model_class",
    [
        ("tiny_qwen2_5_vl_dir", "Qwen2_5_VLForConditionalGeneration"),
        ("tiny_smolvlm_dir", "Idefics3ForConditionalGeneration"),
    ],
)
def test_other_base_models_train_and_evaluate_like_qwen3_vl(fixture, model_class, built_dataset, tmp_path, request):
    base = request.getfixturevalue(fixture)
    run_dir = tmp_path / "run"
    config = TrainConfig(**TINY, schedule="alternating", k_sft=1, k_grpo=1, max_steps=2)
    result = run_training(config, data_dir=built_dataset, model_dir=base, out_dir=run_dir)
    assert result["global_step"] == 2
    model, processor = load_model_and_processor(run_dir / "final")
    assert type(model).__name__ == model_class and processor.image_processor is not None
    before = load_file(str(base / "model.safetensors"))
    after = load_file(str(run_dir / "final" / "model.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the SFT step moved it
    metrics = run_evaluation(run_dir / "final", built_dataset, tmp_path / "eval", EvalConfig(max_new_tokens=4, limit=2))
    assert metrics["n"] == 2 and metrics["by_family"]["camera_rotation"]["n"] == 2


@pytest.mark.parametrize(
    "fixture, starts",
    [
        ("tiny_qwen2_5_vl_dir", "<|im_start|>system\nYou are a helpful assistant."),
        ("tiny_smolvlm_dir", "<|im_start|>User:"),
    ],
)
def test_sft_labels_hold_under_other_templates(fixture, starts, built_dataset, request):
    # Qwen2.5-VL adds a default system prompt, SmolVLM writes "User:"/"Assistant:" turns; neither opens a thinking
    # block: the letters are still found exactly
    from remot_train.data import load_trl_dataset
    from remot_train.modeling import load_processor
    from remot_train.rewards import solution_letters

    processor = load_processor(request.getfixturevalue(fixture))
    rows = [load_trl_dataset(built_dataset)[i] for i in range(2)]
    batch, labels = sft_batch(processor, rows)
    text = processor.apply_chat_template(rows[0]["prompt"], add_generation_prompt=True, tokenize=False)
    assert text.startswith(starts) and not text.endswith("<think>\n")
    for i, row in enumerate(rows):
        kept = processor.tokenizer.decode(labels[i][labels[i] != -100])
        assert (
            kept.endswith(solution_letters(row["solution"])) and len(kept) <= len(solution_letters(row["solution"])) + 1
        )

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


# Qwen3-VL checkpoints (Qwen/Qwen3-VL-*-Instruct and -Thinking, saved by transformers 4.57) ship these processor
# files: preprocessor_config.json exactly as below (public; quoted verbatim in many public repositories) and a
# video_preprocessor_config.json naming Qwen3VLVideoProcessor, which needs torchvision; no processor_config.json.
QWEN3_VL_PREPROCESSOR = {
    "size": {"longest_edge": 16777216, "shortest_edge": 65536},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "processor_class": "Qwen3VLProcessor",
    "image_processor_type": "Qwen2VLImageProcessorFast",
}


def test_a_folder_laid_out_like_a_real_qwen3_vl_checkpoint_loads_with_its_image_settings(tiny_model_dir, tmp_path):
    import json
    import shutil

    from PIL import Image

    from remot_train.modeling import TINY_MARKER, load_processor
    from remot_train.train import configure_image_budget, prompt_tokens

    folder = tmp_path / "qwen3_vl_layout"
    shutil.copytree(tiny_model_dir, folder)
    (folder / TINY_MARKER).unlink()  # loaded as any checkpoint is, not as remot's tiny model
    (folder / "processor_config.json").unlink()
    (folder / "preprocessor_config.json").write_text(json.dumps(QWEN3_VL_PREPROCESSOR))
    video = {**QWEN3_VL_PREPROCESSOR, "video_processor_type": "Qwen3VLVideoProcessor", "fps": 2, "max_frames": 768}
    (folder / "video_preprocessor_config.json").write_text(json.dumps(video))
    template = (folder / "chat_template.jinja").read_text()  # those checkpoints keep it in chat_template.json
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": template}))
    (folder / "chat_template.jinja").unlink()
    processor = load_processor(folder)
    assert processor.chat_template == template  # without torchvision, AutoProcessor cannot build the video processor
    image_processor = processor.image_processor
    assert (image_processor.patch_size, image_processor.merge_size) == (16, 2)  # the checkpoint's, not the tiny's
    assert (image_processor.size["shortest_edge"], image_processor.size["longest_edge"]) == (65536, 16777216)
    prompt = [{"role": "user", "content": [{"type": "image"}] * 3 + [{"type": "text", "text": "Which way?"}]}]
    row = {"prompt": prompt, "images": [Image.new("RGB", (640, 480))] * 3}
    text = processor.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    batch = processor(text=[text], images=[row["images"]], return_tensors="pt")
    assert batch["pixel_values"].shape == (3 * (640 // 16) * (480 // 16), 3 * 2 * 16 * 16)  # every image's patches
    assert prompt_tokens(processor, row) == len(batch["input_ids"][0])
    configure_image_budget(processor, 448 * 448)  # remot's budget, as a run sets it
    small = processor(text=[text], images=[row["images"]], return_tensors="pt")
    assert prompt_tokens(processor, row) == len(small["input_ids"][0]) < len(batch["input_ids"][0])


def _standard_loaders_agree(folder, base):
    """What AutoProcessor builds a Qwen3-VL processor from, loaded by standard transformers classes alone."""
    import json

    import numpy as np
    from PIL import Image
    from transformers import AutoImageProcessor, AutoTokenizer
    from transformers.models.auto.processing_auto import processor_class_from_name

    config = json.loads((folder / "processor_config.json").read_text())
    assert processor_class_from_name(config["processor_class"]).__name__ == "Qwen3VLProcessor"
    assert json.loads((folder / "tokenizer_config.json").read_text())["processor_class"] == "Qwen3VLProcessor"
    video = json.loads((folder / "video_preprocessor_config.json").read_text())
    assert video["video_processor_type"] == "Qwen3VLVideoProcessor"
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    ours, theirs = AutoImageProcessor.from_pretrained(folder), base.image_processor
    assert np.allclose(
        ours(images=[image], return_tensors="pt")["pixel_values"],
        theirs(images=[image], return_tensors="pt")["pixel_values"],
    )
    text = "<|im_start|>user\nWhich way?<|im_end|>"
    assert AutoTokenizer.from_pretrained(folder)(text)["input_ids"] == base.tokenizer(text)["input_ids"]
    return video


def test_final_reloads_with_standard_hugging_face_loaders(built_dataset, tiny_model_dir, tmp_path):
    from remot_train.config import TrainConfig
    from remot_train.modeling import load_processor
    from remot_train.train import run_training

    config = TrainConfig(
        num_generations=2, max_completion_length=8, per_device_train_batch_size=2, gradient_accumulation_steps=1,
        bf16=False, use_cpu=True, image_max_pixels=64 * 64, max_prompt_tokens=2048, max_steps=1, torch_threads=1,
        gradient_checkpointing=False,
    )  # fmt: skip
    run_training(config, data_dir=built_dataset, model_dir=tiny_model_dir, out_dir=tmp_path / "run")
    _standard_loaders_agree(tmp_path / "run" / "final", load_processor(tiny_model_dir))


# The video_preprocessor_config.json Qwen3-VL checkpoints publish (quoted verbatim in public repositories' docs and
# tests, e.g. xLLM's Qwen3-VL deployment notes and GGUF-to-HF converters): its keys are not the image processor's.
QWEN3_VL_VIDEO_PREPROCESSOR = {
    "processor_class": "Qwen3VLProcessor",
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "do_sample_frames": True,
    "fps": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "max_frames": 768,
    "merge_size": 2,
    "min_frames": 4,
    "patch_size": 16,
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "return_metadata": False,
    "size": {"longest_edge": 25165824, "shortest_edge": 4096},
    "temporal_patch_size": 2,
    "video_processor_type": "Qwen3VLVideoProcessor",
}


@pytest.mark.parametrize("nested", [False, True], ids=["own file (published)", "nested (transformers 5)"])
def test_a_processor_from_a_real_qwen3_vl_layout_saves_as_that_layout(tiny_model_dir, tmp_path, nested):
    import json
    import shutil

    from remot_train.modeling import load_processor

    folder = tmp_path / "qwen3_vl_layout"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "video_preprocessor_config.json").unlink()
    if nested:  # a folder transformers 5 saved: the video processor's config inside processor_config.json
        config = json.loads((folder / "processor_config.json").read_text())
        (folder / "processor_config.json").write_text(
            json.dumps({**config, "video_processor": QWEN3_VL_VIDEO_PREPROCESSOR})
        )
    else:
        (folder / "processor_config.json").unlink()
        (folder / "preprocessor_config.json").write_text(json.dumps(QWEN3_VL_PREPROCESSOR))
        (folder / "video_preprocessor_config.json").write_text(json.dumps(QWEN3_VL_VIDEO_PREPROCESSOR))
    base = load_processor(folder)
    base.save_pretrained(tmp_path / "saved")
    saved_video = _standard_loaders_agree(tmp_path / "saved", base)
    assert saved_video == QWEN3_VL_VIDEO_PREPROCESSOR  # the checkpoint's own, kept as read (not derived from images)


def test_autoprocessor_builds_the_whole_processor_where_torchvision_is_installed(tiny_model_dir):
    # CPU machines here cannot import torchvision (the CPU torch wheel has no matching torchvision); GPU workers do,
    # and benchmarks/gpu_smoke.sh runs this test there.
    pytest.importorskip("torchvision")
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    assert type(processor).__name__ == "Qwen3VLProcessor" and processor.image_processor is not None
    assert processor.video_processor is not None

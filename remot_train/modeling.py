"""Qwen3-VL models and processors from local folders, and a tiny randomly initialised one built offline.

Nothing is downloaded: real weights come from a local path the user gives; the tiny model (CPU tests, smoke runs)
is built from a config, with a byte-level BPE tokenizer trained in memory. Needs the ``train`` extra.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from remot_train.preflight import require_model_folder
from remot_train.requirements import require_package

require_package("torch", extra="train")
require_package("transformers", extra="train")

import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForImageTextToText,
    AutoProcessor,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3Processor,
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
)
from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil  # noqa: E402

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Qwen3's tokenizer has <think> and </think> as added (not special) tokens: TRL decodes completions with
# skip_special_tokens=True, so special tags would vanish and no format reward could ever fire. <answer> is plain text
# to it, cut by its pre-tokenizer like any other text.
TAG_TOKENS = ["<think>", "</think>"]
# Qwen2/Qwen3's pre-tokenizer split (tokenizer.json): one non-letter may lead a run of letters, so ">ABCD" of
# "<answer>ABCD</answer>" is one piece and byte-level BPE may merge ">" with the letters.
QWEN_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
INSTRUCT_GENERATION_PROMPT = "{{- '<|im_start|>assistant\\n' }}"
THINKING_GENERATION_PROMPT = "{{- '<|im_start|>assistant\\n<think>\\n' }}"


def qwen3_vl_thinking_template() -> str:
    """Return the Qwen3-VL chat template as its checkpoints ship it, with the Thinking models' generation prompt.

    The text is TRL's copy of the real Qwen3-VL template (``trl/chat_templates/qwen3_vl.jinja``, Apache-2.0, in the
    installed wheel: nothing is downloaded). Qwen3-VL-*-Thinking checkpoints open the thinking block in the
    generation prompt (``<|im_start|>assistant``, newline, ``<think>``, newline), so completions start inside it
    and only close it; that one line is swapped in. (Their template also re-renders ``reasoning_content`` of
    earlier assistant turns, which remot's single-turn prompts never have.)

    Raises:
        RuntimeError: If TRL's template no longer ends with the Instruct generation prompt (swap it knowingly).
    """
    from importlib.resources import files

    text = (files("trl") / "chat_templates" / "qwen3_vl.jinja").read_text(encoding="utf-8")
    if text.count(INSTRUCT_GENERATION_PROMPT) != 1:
        raise RuntimeError("trl/chat_templates/qwen3_vl.jinja changed: its generation prompt is not where expected")
    return text.replace(INSTRUCT_GENERATION_PROMPT, THINKING_GENERATION_PROMPT)


TINY_MARKER = "remot_tiny.json"


PROCESSOR_CONFIG = "processor_config.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
VIDEO_PROCESSOR_CONFIG = "video_preprocessor_config.json"


class _WithoutVideoProcessor:
    """A Qwen-VL processor held without its video processor (that one needs torchvision, which CPU machines lack).

    In memory it is the standard processor minus video; on disk it is the standard one: ``save_pretrained`` names
    the standard class (``Qwen3VLProcessor``) and writes a ``video_preprocessor_config.json`` (the base folder's when
    it had one), so a saved folder is laid out like a published checkpoint and ``AutoProcessor`` (vLLM, lmms-eval,
    VLMEvalKit, the official runner) builds the whole processor wherever torchvision is installed.
    """

    standard_name: str = ""  # set by each subclass: the transformers class written to disk
    video_processor_type: str = ""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        """Build from an image processor and a tokenizer only."""
        super().__init__(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            chat_template=chat_template,
            **kwargs,
        )
        self.video_config: dict[str, Any] | None = None  # the base folder's video processor config, kept as read

    def check_argument_for_proper_class(self, argument_name, argument):
        """Accept a missing video processor; check the rest as usual."""
        if argument_name == "video_processor" and argument is None:
            return None
        return super().check_argument_for_proper_class(argument_name, argument)

    def to_dict(self) -> dict[str, Any]:
        """Return the processor's config under the standard class name (a name transformers resolves)."""
        out = super().to_dict()
        out["processor_class"] = self.standard_name
        return out

    def save_pretrained(self, save_directory, *args: Any, **kwargs: Any):
        """Save as the standard processor: its class name everywhere and a video processor config beside it."""
        saved = super().save_pretrained(save_directory, *args, **kwargs)
        folder = Path(save_directory)
        tokenizer_config = folder / TOKENIZER_CONFIG
        if tokenizer_config.is_file():
            data = json.loads(tokenizer_config.read_text(encoding="utf-8"))
            if "processor_class" in data:
                data["processor_class"] = self.standard_name
                tokenizer_config.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        video = dict(self.video_config) if self.video_config else self._video_config_from_images()
        video["processor_class"] = self.standard_name
        (folder / VIDEO_PROCESSOR_CONFIG).write_text(json.dumps(video, indent=2) + "\n", encoding="utf-8")
        return saved

    def _video_config_from_images(self) -> dict[str, Any]:
        image = self.image_processor
        return {
            "video_processor_type": self.video_processor_type,
            "patch_size": image.patch_size,
            "temporal_patch_size": image.temporal_patch_size,
            "merge_size": image.merge_size,
            "image_mean": list(image.image_mean),
            "image_std": list(image.image_std),
            "size": {"longest_edge": image.size["longest_edge"], "shortest_edge": image.size["shortest_edge"]},
        }


class ImageOnlyQwen3VLProcessor(_WithoutVideoProcessor, Qwen3VLProcessor):
    """Qwen3-VL processor without a video processor; saved as ``Qwen3VLProcessor``."""

    standard_name = "Qwen3VLProcessor"
    video_processor_type = "Qwen3VLVideoProcessor"


class ImageOnlyQwen2_5_VLProcessor(_WithoutVideoProcessor, Qwen2_5_VLProcessor):  # noqa: N801 - transformers' name
    """Qwen2.5-VL processor without a video processor; saved as ``Qwen2_5_VLProcessor``."""

    standard_name = "Qwen2_5_VLProcessor"
    video_processor_type = "Qwen2VLVideoProcessor"


SMOLVLM_TOKENS = ["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"] + [
    f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)
]


def _train_tokenizer(
    corpus: list[str], chat_template: str, *, extra_special: tuple[str, ...] = (), eos: str = "<|im_end|>"
) -> PreTrainedTokenizerFast:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS + list(extra_special),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=eos,
        pad_token="<|endoftext|>",
        extra_special_tokens=SPECIAL_TOKENS[1:2] + SPECIAL_TOKENS[3:] + list(extra_special),
        padding_side="right",  # as Qwen3-VL's tokenizer: batched generation must set left padding itself
    )
    fast.add_tokens(TAG_TOKENS)
    fast.chat_template = chat_template
    return fast


TINY_CORPUS = [
    "Please select the horizontal rotation direction of the camera's viewpoint from Image 1 to Image 2",
    "Left Right Up Down No rotation degrees Opened Closed No movement Upper left Lower right",
    "<think> </think> <answer>ABCD</answer> A B C D E",
] * 20


# What every tiny model's text tower shares; each builder adds its family's own keys.
TINY_TEXT = {
    "vocab_size": 448,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
}


def _tiny_qwen_image_processor(patch_size: int, image_side_px: int) -> Qwen2VLImageProcessorPil:
    """Return the Qwen-VL image processor of a tiny model: 2x2 merged patches, at most ``image_side_px``² pixels."""
    return Qwen2VLImageProcessorPil(
        patch_size=patch_size,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=(2 * patch_size) ** 2,  # one merged patch
        max_pixels=image_side_px * image_side_px,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )


def _tiny_qwen_vision(patch_size: int) -> dict[str, Any]:
    """Return the vision-tower keys a tiny Qwen2.5-VL and Qwen3-VL share."""
    return {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "patch_size": patch_size,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": 64,
    }


def _qwen_vision_token_ids(ids: Callable[[str], int]) -> dict[str, int]:
    """Return the image/video token ids a Qwen-VL config names, from the tokenizer's ``convert_tokens_to_ids``."""
    return {
        "image_token_id": ids("<|image_pad|>"),
        "video_token_id": ids("<|video_pad|>"),
        "vision_start_token_id": ids("<|vision_start|>"),
        "vision_end_token_id": ids("<|vision_end|>"),
    }


def build_tiny_qwen2_5_vl(out_dir: Path, *, seed: int = 0, image_side_px: int = 56) -> Path:
    """Build a tiny random Qwen2.5-VL with its real chat template (TRL's copy), and save it to ``out_dir``.

    The second base-model family remot trains and evaluates (ReMoT itself used one): what it shares with Qwen3-VL
    (processor knobs, image placeholders) and what it does not (no thinking block in the generation prompt, a
    default system prompt) are what the tests exercise.

    Returns:
        ``out_dir``, loadable with ``load_model_and_processor``.
    """
    from importlib.resources import files

    torch.manual_seed(seed)
    template = (files("trl") / "chat_templates" / "qwen2_5_vl.jinja").read_text(encoding="utf-8")
    tokenizer = _train_tokenizer(TINY_CORPUS, template)
    processor = ImageOnlyQwen2_5_VLProcessor(
        image_processor=_tiny_qwen_image_processor(14, image_side_px),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2_5_VLConfig(
        text_config={
            **TINY_TEXT,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
            "pad_token_id": ids("<|endoftext|>"),
            "bos_token_id": ids("<|endoftext|>"),
            "eos_token_id": ids("<|im_end|>"),
            "tie_word_embeddings": True,
        },
        vision_config={**_tiny_qwen_vision(14), "window_size": 56, "fullatt_block_indexes": [1]},
        **_qwen_vision_token_ids(ids),
        tie_word_embeddings=True,
    )
    return _save_tiny(Qwen2_5_VLForConditionalGeneration(config), processor, out_dir, "qwen2_5_vl", seed, image_side_px)


def build_tiny_smolvlm(out_dir: Path, *, seed: int = 0, image_side_px: int = 32) -> Path:
    """Build a tiny random SmolVLM (Idefics3 architecture: SigLIP-style vision tower, Llama text model) and save it.

    The non-Qwen base-model family: its real chat template (TRL's ``smolvlm.jinja``), ``<image>`` tokens from a pixel
    shuffle (one per image here: 32 px images, 16 px patches, scale factor 2) and ``<end_of_utterance>`` as EOS.

    Returns:
        ``out_dir``, loadable with ``load_model_and_processor``.
    """
    from importlib.resources import files

    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    torch.manual_seed(seed)
    template = (files("trl") / "chat_templates" / "smolvlm.jinja").read_text(encoding="utf-8")
    tokenizer = _train_tokenizer(TINY_CORPUS, template, extra_special=tuple(SMOLVLM_TOKENS), eos="<end_of_utterance>")
    image_processor = Idefics3ImageProcessorPil(
        do_image_splitting=False,
        size={"longest_edge": image_side_px},
        max_image_size={"longest_edge": image_side_px},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = Idefics3Processor(
        image_processor=image_processor, tokenizer=tokenizer, image_seq_len=1, chat_template=template
    )
    ids = tokenizer.convert_tokens_to_ids
    config = Idefics3Config(
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": image_side_px,
            "patch_size": 16,
        },
        text_config={
            "model_type": "llama",
            **TINY_TEXT,
            "pad_token_id": ids("<|endoftext|>"),
            "bos_token_id": ids("<|im_start|>"),
            "eos_token_id": ids("<end_of_utterance>"),
        },
        scale_factor=2,
        image_token_id=ids("<image>"),
        pad_token_id=ids("<|endoftext|>"),
        tie_word_embeddings=False,
    )
    return _save_tiny(Idefics3ForConditionalGeneration(config), processor, out_dir, "smolvlm", seed, image_side_px)


def _save_tiny(model, processor, out_dir: Path, family: str, seed: int, image_side_px: int) -> Path:
    ids = processor.tokenizer.convert_tokens_to_ids
    model.generation_config.eos_token_id = ids(processor.tokenizer.eos_token)
    model.generation_config.pad_token_id = ids("<|endoftext|>")
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    marker = {"family": family, "image_side_px": image_side_px, "seed": seed}
    (out_dir / TINY_MARKER).write_text(json.dumps(marker) + "\n")
    return out_dir


def build_tiny_qwen3_vl(out_dir: Path, *, seed: int = 0, image_side_px: int = 64) -> Path:
    """Build a tiny random Qwen3-VL (~250 k parameters) with tokenizer and processor, and save it to ``out_dir``.

    Images are resized to at most ``image_side_px``² pixels (a 64x64 image becomes 4 tokens).

    Returns:
        ``out_dir``, loadable with ``load_model_and_processor``.
    """
    torch.manual_seed(seed)
    tokenizer = _train_tokenizer(TINY_CORPUS, qwen3_vl_thinking_template())
    processor = ImageOnlyQwen3VLProcessor(
        image_processor=_tiny_qwen_image_processor(16, image_side_px),
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen3VLConfig(
        text_config={
            **TINY_TEXT,
            "head_dim": 16,
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [4, 2, 2],
                "mrope_interleaved": True,
            },
            "pad_token_id": ids("<|endoftext|>"),
            "tie_word_embeddings": True,
        },
        vision_config={**_tiny_qwen_vision(16), "num_position_embeddings": 64, "deepstack_visual_indexes": [1]},
        **_qwen_vision_token_ids(ids),
        tie_word_embeddings=True,
    )
    return _save_tiny(Qwen3VLForConditionalGeneration(config), processor, out_dir, "qwen3_vl", seed, image_side_px)


# A folder's model_type -> the image-only stand-in for its standard processor, used where AutoProcessor cannot build
# the video processor (no torchvision) and falls back to a bare tokenizer.
IMAGE_ONLY_PROCESSORS = {"qwen3_vl": ImageOnlyQwen3VLProcessor, "qwen2_5_vl": ImageOnlyQwen2_5_VLProcessor}


def load_processor(model_dir: Path):
    """Load the processor saved with a model folder, as ``AutoProcessor`` does, never without its image processor.

    ``AutoProcessor`` quietly returns a bare tokenizer when it cannot build the processor a folder names (Qwen-VL's
    video processor needs torchvision); that one would drop every image. Then the standard processor is built
    without its video processor (``IMAGE_ONLY_PROCESSORS``, by the folder's ``model_type``), keeping the folder's
    video processor config so a save writes it back unchanged.

    Raises:
        ValueError: If the folder holds no processor that takes images.
    """
    model_dir = Path(model_dir)
    try:
        processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
    except (ImportError, ValueError, OSError) as err:
        logger.info("AutoProcessor could not build %s's processor (%s); building it without video", model_dir, err)
        processor = None
    if getattr(processor, "image_processor", None) is None:
        model_type = _model_type(model_dir)
        image_only = IMAGE_ONLY_PROCESSORS.get(model_type, ImageOnlyQwen3VLProcessor)
        try:
            processor = image_only.from_pretrained(model_dir, local_files_only=True)
        except (ImportError, ValueError, OSError, TypeError) as err:
            raise ValueError(f"{model_dir}: no processor that takes images can be loaded ({err})") from err
        processor.video_config = read_video_config(model_dir)
    return require_image_processor(processor, model_dir)


def read_video_config(model_dir: Path) -> dict[str, Any] | None:
    """Return a folder's video processor config, or None without one.

    Published Qwen-VL checkpoints keep it in its own file; transformers 5 nests it in ``processor_config.json``.
    """
    own, processor = Path(model_dir) / VIDEO_PROCESSOR_CONFIG, Path(model_dir) / PROCESSOR_CONFIG
    if own.is_file():
        return json.loads(own.read_text(encoding="utf-8"))
    nested = json.loads(processor.read_text(encoding="utf-8")).get("video_processor") if processor.is_file() else None
    return nested if isinstance(nested, dict) else None


def _model_type(model_dir: Path) -> str | None:
    config = Path(model_dir) / "config.json"
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError):
        return None


def require_image_processor(processor, model_dir: Path):
    """Return the processor if it turns images into pixel values; else raise naming the folder.

    Raises:
        ValueError: If the processor has no image processor (it would send image placeholders and no pixels).
    """
    if getattr(processor, "image_processor", None) is None:
        raise ValueError(
            f"{model_dir}: its processor ({type(processor).__name__}) has no image processor: it would drop every "
            "image; save the model folder with its processor (processor.save_pretrained)"
        )
    return processor


def load_model(
    model_dir: Path, *, dtype: torch.dtype = torch.float32, device: str = "cpu", attn_implementation: str | None = None
):
    """Load a vision-language model from a local folder (never from a hub).

    The model class comes from the folder's ``config.json`` (Qwen3-VL, Qwen2.5-VL, ...: any image-text-to-text
    model transformers knows). ``attn_implementation`` (sdpa, eager, flash_attention_2, ...) is passed on when set.

    Raises:
        FileNotFoundError: If the folder holds no ``config.json``.
    """
    model_dir = require_model_folder(model_dir)
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=dtype, local_files_only=True, **kwargs)
    return model.to(device)


def load_model_and_processor(
    model_dir: Path, *, dtype: torch.dtype = torch.float32, device: str = "cpu", attn_implementation: str | None = None
):
    """Load a vision-language model (``load_model``) and its processor (``load_processor``) from a local folder.

    remot's processor knobs (image budget) are Qwen-VL's.

    Raises:
        FileNotFoundError: If the folder holds no ``config.json``.
    """
    model = load_model(model_dir, dtype=dtype, device=device, attn_implementation=attn_implementation)
    return model, load_processor(Path(model_dir))

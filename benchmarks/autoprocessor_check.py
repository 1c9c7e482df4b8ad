"""Where torchvision is installed (GPU workers): AutoProcessor builds the whole Qwen3VLProcessor of a saved folder."""

import tempfile
from pathlib import Path

from transformers import AutoProcessor

from remot_train.modeling import build_tiny_qwen3_vl

folder = build_tiny_qwen3_vl(Path(tempfile.mkdtemp()) / "tiny")
processor = AutoProcessor.from_pretrained(folder)
video = getattr(processor, "video_processor", None)
print(
    f"AutoProcessor: {type(processor).__name__}, image {type(processor.image_processor).__name__}, "
    f"video {type(video).__name__}"
)
assert processor.image_processor is not None and video is not None

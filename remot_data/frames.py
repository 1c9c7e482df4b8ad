"""Frame pixels: load each needed frame once, crop/mirror/resize it, encode JPEG once, share it between triplets.

The only module that decodes source images and videos. Imports numpy and Pillow.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from remot_data.errors import FrameExtractionError
from remot_data.records import Clip, ImageSpec


@dataclass(frozen=True, kw_only=True)
class FrameConfig:
    """How triplet images are stored.

    Attributes:
        max_side_px: Images are resized so their longer side is this many pixels (aspect kept).
        jpeg_quality: JPEG quality, 1-95 (PNG would be ~50x slower to encode and ~10x larger).
    """

    max_side_px: int = 448
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        """Check ranges."""
        if not 16 <= self.max_side_px <= 4096:
            raise ValueError(f"max_side_px must be in [16, 4096], got {self.max_side_px!r}")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"jpeg_quality must be in [1, 95], got {self.jpeg_quality!r}")


def apply_image_spec(image: Image.Image, spec: ImageSpec, config: FrameConfig) -> Image.Image:
    """Return the frame cropped, mirrored and resized as ``spec`` and ``config`` say."""
    if spec.crop is not None:
        w, h = image.size
        box = (round(spec.crop.x0 * w), round(spec.crop.y0 * h), round(spec.crop.x1 * w), round(spec.crop.y1 * h))
        image = image.crop(box)
    if spec.mirror:
        image = ImageOps.mirror(image)
    scale = config.max_side_px / max(image.size)
    size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def encode_jpeg(image: Image.Image, *, quality: int) -> bytes:
    """Return the image encoded as JPEG bytes."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def render_images(clip: Clip, specs: Iterable[ImageSpec], config: FrameConfig) -> dict[str, bytes]:
    """Return JPEG bytes for each distinct image spec, keyed by ``ImageSpec.key``.

    Each source frame is decoded once however many specs use it.

    Args:
        clip: The clip the specs index into (``spec.frame_index`` is a position in ``clip.frames``).
        specs: The images wanted.
        config: Size and quality.

    Returns:
        ``{spec.key: jpeg_bytes}``.

    Raises:
        FrameExtractionError: Naming the file and frame that cannot be decoded.
    """
    by_frame: dict[int, list[ImageSpec]] = {}
    for spec in specs:
        by_frame.setdefault(spec.frame_index, []).append(spec)
    out: dict[str, bytes] = {}
    for position, frame_specs in sorted(by_frame.items()):
        frame = clip.frames[position]
        if frame.image_path is None:
            raise FrameExtractionError(f"clip {clip.clip_id} frame {frame.frame_index}: no image file to decode")
        try:
            with Image.open(frame.image_path) as opened:
                image = opened.convert("RGB")
        except (OSError, UnidentifiedImageError) as err:
            raise FrameExtractionError(f"{frame.image_path}: cannot decode frame {frame.frame_index}: {err}") from err
        for spec in frame_specs:
            if spec.key not in out:
                out[spec.key] = encode_jpeg(apply_image_spec(image, spec, config), quality=config.jpeg_quality)
    return out
